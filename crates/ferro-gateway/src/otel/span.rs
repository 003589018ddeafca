//! One request's trace: ids decided when it arrives, attempt timings collected
//! while it runs, spans built and handed to the batch exporter when its record
//! is emitted.

use super::{Privacy, Tracing};
use crate::record::LogRecord;
use bytes::Bytes;
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer,
};
use opentelemetry::{Context, KeyValue};
use rand::RngCore;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// Version of the `ferro.*` attribute schema (as the Go gateway).
pub const SCHEMA_VERSION: &str = "1.0.0-draft";
/// Most bytes of prompt or response content put on a span (privacy `full`).
pub const MAX_CONTENT: usize = 16 * 1024;

/// One upstream attempt, as it ended.
#[derive(Debug, Clone)]
pub struct AttemptSpan {
    pub span_id: [u8; 8],
    pub seq: u32,
    pub target: String,
    pub provider: String,
    pub system: &'static str,
    pub start: SystemTime,
    pub end: SystemTime,
    /// `None` on success.
    pub error: Option<AttemptError>,
}

/// One plugin hook call of the request.
#[derive(Debug, Clone)]
pub struct PluginSpan {
    pub plugin: &'static str,
    pub stage: &'static str,
    pub outcome: &'static str,
    pub start: SystemTime,
    pub end: SystemTime,
}

/// How an attempt failed.
#[derive(Debug, Clone)]
pub struct AttemptError {
    pub kind: &'static str,
    pub upstream_status: Option<u16>,
    pub message: String,
}

/// The trace of one request.
#[derive(Debug)]
pub struct RequestTrace {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    /// The caller's span (inbound `traceparent`).
    pub parent: Option<[u8; 8]>,
    pub privacy: Privacy,
    /// The attempt in progress (its span id goes upstream in `traceparent`).
    pub current: Option<[u8; 8]>,
    pub attempts: Vec<AttemptSpan>,
    /// Plugin hooks that ran, in order.
    pub plugins: Vec<PluginSpan>,
    /// `gen_ai.system` of the last attempt.
    pub system: Option<&'static str>,
    /// The routed model.
    pub model: Option<String>,
    /// Request bytes seen so far (privacy `full`).
    pub request_body: Option<Arc<Mutex<Vec<u8>>>>,
    /// The JSON answer (privacy `full`, non-streaming).
    pub response_body: Option<Bytes>,
}

fn hex16(s: &str) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

fn hex8(s: &str) -> Option<[u8; 8]> {
    let mut out = [0u8; 8];
    hex::decode_to_slice(s, &mut out).ok()?;
    (out != [0u8; 8]).then_some(out)
}

/// A fresh non-zero span id.
pub fn new_span_id() -> [u8; 8] {
    let mut b = [0u8; 8];
    while b == [0u8; 8] {
        rand::thread_rng().fill_bytes(&mut b);
    }
    b
}

/// The caller's span id and sampled flag when `traceparent` names `trace_id`.
fn inbound_parent(headers: &http::HeaderMap, trace_id: &str) -> Option<([u8; 8], bool)> {
    let tp = headers.get("traceparent")?.to_str().ok()?.trim();
    let mut parts = tp.split('-');
    let (_version, tid, sid, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if !tid.eq_ignore_ascii_case(trace_id) || flags.len() != 2 {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some((hex8(sid)?, flags & 1 == 1))
}

/// The ratio sampler of the OTel SDK: the low 63 bits of the trace id against
/// `ratio · 2⁶³` (deterministic per trace, so every hop agrees).
fn ratio_sampled(trace_id: &[u8; 16], ratio: f64) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    if ratio <= 0.0 {
        return false;
    }
    let mut low = [0u8; 8];
    low.copy_from_slice(&trace_id[8..]);
    let x = u64::from_be_bytes(low) >> 1;
    (x as f64) < ratio * (1u64 << 63) as f64
}

impl Tracing {
    /// Starts the trace of a request whose trace id is `trace_id`; `None` when
    /// the request is not sampled.
    pub fn begin(&self, trace_id: &str, headers: &http::HeaderMap) -> Option<Box<RequestTrace>> {
        let tid = hex16(trace_id)?;
        let parent = inbound_parent(headers, trace_id);
        let sampled = match parent {
            Some((_, sampled)) => sampled,
            None => ratio_sampled(&tid, self.settings.sample_ratio),
        };
        if !sampled {
            return None;
        }
        Some(Box::new(RequestTrace {
            trace_id: tid,
            span_id: new_span_id(),
            parent: parent.map(|p| p.0),
            privacy: self.settings.privacy,
            current: None,
            attempts: Vec::new(),
            plugins: Vec::new(),
            system: None,
            model: None,
            request_body: None,
            response_body: None,
        }))
    }

    /// Builds and queues the spans of a finished request.
    pub fn export(&self, rec: &LogRecord, attempts: u32, t: &RequestTrace) {
        let tid = TraceId::from_bytes(t.trace_id);
        let end = rec.created_at;
        let start = end
            .checked_sub(Duration::from_secs_f64(rec.duration_ms.max(0.0) / 1000.0))
            .unwrap_or(end);
        let parent_cx = match t.parent {
            Some(p) => Context::new().with_remote_span_context(SpanContext::new(
                tid,
                SpanId::from_bytes(p),
                TraceFlags::SAMPLED,
                true,
                TraceState::default(),
            )),
            None => Context::new(),
        };
        let root = self
            .tracer
            .span_builder("gateway.request")
            .with_kind(SpanKind::Server)
            .with_trace_id(tid)
            .with_span_id(SpanId::from_bytes(t.span_id))
            .with_start_time(start)
            .with_attributes(request_attributes(rec, attempts, t))
            .with_status(request_status(rec, t.privacy))
            .start_with_context(&self.tracer, &parent_cx);
        let cx = Context::new().with_remote_span_context(SpanContext::new(
            tid,
            SpanId::from_bytes(t.span_id),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ));
        for a in &t.attempts {
            let mut attrs = vec![
                KeyValue::new("ferro.routing.target_key", a.target.clone()),
                KeyValue::new("ferro.routing.sequence", i64::from(a.seq)),
                KeyValue::new(
                    "ferro.routing.outcome",
                    if a.error.is_some() {
                        "error"
                    } else {
                        "success"
                    },
                ),
                KeyValue::new("ferro.provider.instance", a.provider.clone()),
                KeyValue::new("gen_ai.system", a.system),
                KeyValue::new("gen_ai.provider.name", a.system),
                KeyValue::new("ferro.gateway.trace_id", rec.trace_id.to_string()),
            ];
            let status = match &a.error {
                None => Status::Unset,
                Some(e) => {
                    attrs.push(KeyValue::new("error.type", e.kind));
                    if let Some(s) = e.upstream_status {
                        attrs.push(KeyValue::new("http.response.status_code", i64::from(s)));
                    }
                    Status::error(error_text(&e.message, t.privacy))
                }
            };
            let span = self
                .tracer
                .span_builder("gateway.routing.attempt")
                .with_kind(SpanKind::Client)
                .with_span_id(SpanId::from_bytes(a.span_id))
                .with_start_time(a.start)
                .with_attributes(attrs)
                .with_status(status)
                .start_with_context(&self.tracer, &cx);
            end_at(span, a.end);
        }
        for p in &t.plugins {
            let status = match p.outcome {
                "failed" => Status::error("plugin failed"),
                _ => Status::Unset,
            };
            let span = self
                .tracer
                .span_builder("gateway.plugin")
                .with_kind(SpanKind::Internal)
                .with_start_time(p.start)
                .with_attributes(vec![
                    KeyValue::new("ferro.plugin.name", p.plugin),
                    KeyValue::new("ferro.plugin.stage", p.stage),
                    KeyValue::new("ferro.plugin.outcome", p.outcome),
                    KeyValue::new("ferro.gateway.trace_id", rec.trace_id.to_string()),
                ])
                .with_status(status)
                .start_with_context(&self.tracer, &cx);
            end_at(span, p.end);
        }
        end_at(root, end);
    }
}

fn end_at<S: opentelemetry::trace::Span>(mut s: S, t: SystemTime) {
    s.end_with_timestamp(t);
}

fn error_text(message: &str, privacy: Privacy) -> String {
    match privacy {
        Privacy::None => "redacted".to_owned(),
        // messages on records and attempts already went through the redactor
        Privacy::Metadata | Privacy::Full => ferro_types::json::truncate(message, 1024).to_owned(),
    }
}

fn request_status(rec: &LogRecord, privacy: Privacy) -> Status {
    let failed_stream = rec.stream
        && rec
            .error_message
            .as_deref()
            .is_some_and(|m| m != crate::metrics::CLIENT_GONE);
    if rec.status >= 500 || failed_stream {
        Status::error(error_text(
            rec.error_message.as_deref().unwrap_or("request failed"),
            privacy,
        ))
    } else {
        Status::Unset
    }
}

/// `gen_ai.operation.name` of a surface.
fn operation(route: &str) -> &'static str {
    match route {
        "chat" => "chat",
        "completions" => "text_completion",
        "embeddings" => "embeddings",
        "images" => "image_generation",
        "moderations" => "moderation",
        "responses" => "responses",
        _ => "passthrough",
    }
}

fn request_attributes(rec: &LogRecord, attempts: u32, t: &RequestTrace) -> Vec<KeyValue> {
    let model = t.model.clone().unwrap_or_else(|| rec.model.clone());
    let mut a = vec![
        KeyValue::new("gen_ai.operation.name", operation(rec.route)),
        KeyValue::new("gen_ai.request.is_stream", rec.stream),
        KeyValue::new("ferro.schema.version", SCHEMA_VERSION),
        KeyValue::new("ferro.gateway.trace_id", rec.trace_id.to_string()),
        KeyValue::new("ferro.gateway.route", rec.route),
        KeyValue::new("ferro.routing.attempt", i64::from(attempts)),
        KeyValue::new(
            "ferro.error.retry_count",
            i64::from(attempts.saturating_sub(1)),
        ),
        KeyValue::new("ferro.cache.hit", rec.cache_hit),
        KeyValue::new("http.response.status_code", i64::from(rec.status)),
    ];
    if !model.is_empty() {
        let model = ferro_types::json::truncate(&model, 256).to_owned();
        a.push(KeyValue::new("gen_ai.request.model", model.clone()));
        if !rec.model.is_empty() {
            a.push(KeyValue::new(
                "gen_ai.response.model",
                ferro_types::json::truncate(&rec.model, 256).to_owned(),
            ));
        }
    }
    if let Some(sys) = t.system {
        a.push(KeyValue::new("gen_ai.system", sys));
        a.push(KeyValue::new("gen_ai.provider.name", sys));
    }
    if !rec.provider.is_empty() {
        a.push(KeyValue::new(
            "ferro.provider.instance",
            rec.provider.clone(),
        ));
    }
    if !rec.target.is_empty() {
        a.push(KeyValue::new(
            "ferro.routing.target_key",
            rec.target.clone(),
        ));
    }
    if !rec.api_key_id.is_empty() {
        a.push(KeyValue::new(
            "ferro.request.api_key_id",
            rec.api_key_id.clone(),
        ));
    }
    if rec.status < 400 || rec.usage.prompt + rec.usage.completion > 0 {
        a.push(KeyValue::new(
            "gen_ai.usage.input_tokens",
            i64::try_from(rec.usage.prompt).unwrap_or(i64::MAX),
        ));
        a.push(KeyValue::new(
            "gen_ai.usage.output_tokens",
            i64::try_from(rec.usage.completion).unwrap_or(i64::MAX),
        ));
    }
    if rec.usage.reasoning > 0 {
        a.push(KeyValue::new(
            "gen_ai.usage.reasoning_tokens",
            i64::try_from(rec.usage.reasoning).unwrap_or(i64::MAX),
        ));
    }
    a.push(KeyValue::new(
        "ferro.cost.model_found",
        rec.cost_usd.is_some(),
    ));
    if let Some(c) = rec.cost_usd {
        a.push(KeyValue::new(
            "ferro.cost.usd",
            if rec.cache_hit { 0.0 } else { c },
        ));
    }
    if let Some(ttft) = rec.ttft_ms {
        a.push(KeyValue::new("ferro.stream.time_to_first_token_ms", ttft));
    }
    if t.privacy == Privacy::Full {
        if let Some(buf) = &t.request_body {
            let body = buf.lock().map(|b| b.clone()).unwrap_or_default();
            if let Some(m) = json_field(&body, &["messages", "input", "prompt"]) {
                a.push(KeyValue::new("gen_ai.input.messages", m));
            }
        }
        if let Some(body) = &t.response_body {
            if let Some(c) = json_field(body, &["choices", "data", "results"]) {
                a.push(KeyValue::new("gen_ai.output.messages", c));
            }
        }
    }
    a
}

/// The raw JSON of the first of `keys` present in `body`, truncated.
fn json_field(body: &[u8], keys: &[&str]) -> Option<String> {
    let obj = ferro_types::json::JsonObject::parse(body).ok()?;
    let raw = keys.iter().find_map(|k| obj.get(k))?;
    Some(ferro_types::json::truncate(raw.get(), MAX_CONTENT).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_and_parent() {
        let id = [0u8; 16];
        assert!(ratio_sampled(&id, 0.5));
        assert!(!ratio_sampled(&[0xff; 16], 0.5));
        assert!(!ratio_sampled(&id, 0.0));
        let mut h = http::HeaderMap::new();
        h.insert(
            "traceparent",
            http::HeaderValue::from_static(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
        );
        let p = inbound_parent(&h, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(
            p,
            Some(([0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7], true))
        );
        assert_eq!(inbound_parent(&h, "0bf92f3577b34da6a3ce929d0e0e4736"), None);
    }
}
