//! Per-request observation: what metrics and traces need beyond the terminal
//! [`LogRecord`], gathered without touching the handlers.
//!
//! The record layer runs each routed request inside a task-local [`Scope`] —
//! while its handler runs and, for streams, while its body is polled or dropped
//! ([`ScopedBody`]). The attempt loop (`pipeline.rs`) reports each upstream
//! attempt into it and `upstream.rs` reads the current attempt's span for
//! `traceparent`. Whatever code emits the record, it goes through
//! [`ObservedSink`], which takes the scope, updates metrics, exports the trace
//! and forwards the record unchanged to the real sink (the request-log writer),
//! so persistence and observation compose instead of replacing each other.

use crate::metrics::{ErrorKind, Metrics, RequestFacts};
use crate::middleware::RequestCtx;
use crate::otel::span::{new_span_id, AttemptError, AttemptSpan};
use crate::otel::{Privacy, RequestTrace, Tracing};
use crate::record::{LogRecord, RequestSink};
use crate::state::Runtime;
use ferro_providers::ProviderInstance;
use ferro_types::ApiError;
use http::HeaderValue;
use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// Metrics and (optionally) tracing of one gateway.
#[derive(Debug)]
pub struct Observability {
    pub metrics: Arc<Metrics>,
    /// `None` when tracing is off: the request path then pays one `Option` check.
    pub tracing: Option<Arc<Tracing>>,
}

impl Default for Observability {
    fn default() -> Self {
        Observability {
            metrics: Arc::new(Metrics::new()),
            tracing: None,
        }
    }
}

/// What one request accumulates while it runs.
#[derive(Debug, Default)]
pub struct Scope {
    metrics: Option<Arc<Metrics>>,
    facts: RequestFacts,
    trace: Option<Box<RequestTrace>>,
}

/// Marks a response whose request was recorded (so the root layer does not
/// count its 429 as a door rejection).
#[derive(Debug, Clone, Copy)]
pub struct Recorded;

tokio::task_local! {
    static SCOPE: RefCell<Scope>;
}

impl Observability {
    /// Opens the scope of a routed request.
    pub fn begin(&self, ctx: &RequestCtx, headers: &http::HeaderMap) -> Scope {
        Scope {
            metrics: Some(self.metrics.clone()),
            facts: RequestFacts::default(),
            trace: match &self.tracing {
                None => None,
                Some(t) => t.begin(&ctx.trace_id, headers),
            },
        }
    }

    /// Records a finished request into metrics and, when sampled, a trace.
    pub fn finish(&self, rec: &LogRecord, scope: Scope) {
        let mut facts = scope.facts;
        facts.cancelled =
            rec.stream && rec.error_message.as_deref() == Some(crate::metrics::CLIENT_GONE);
        self.metrics.record(rec, &facts);
        if let (Some(t), Some(trace)) = (&self.tracing, scope.trace) {
            t.export(rec, facts.attempts, &trace);
        }
    }

    /// Flushes and stops tracing (blocking: the batch exporter drains).
    pub fn shutdown(&self) {
        if let Some(t) = &self.tracing {
            t.shutdown();
        }
    }
}

/// Starts OTLP tracing when an endpoint is configured (env or
/// `observability.tracing`); read once at boot.
pub fn start_tracing(
    state: &mut crate::state::AppState,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), Vec<String>> {
    let rt = state.runtime.load_full();
    let Some(s) = crate::otel::settings(env, rt.config.as_ref()).map_err(|e| vec![e])? else {
        return Ok(());
    };
    tracing::info!(endpoint = %s.endpoint, protocol = ?s.protocol, "exporting traces");
    let t = crate::otel::Tracing::start(s).map_err(|e| vec![e])?;
    // one `gateway.plugin` child span per plugin hook of a sampled request
    ferro_plugins::observe_hooks(plugin_hook);
    state.obs = Arc::new(Observability {
        metrics: state.obs.metrics.clone(),
        tracing: Some(Arc::new(t)),
    });
    Ok(())
}

impl Scope {
    /// Whether request/response content should be captured (privacy `full`).
    pub fn wants_content(&self) -> bool {
        self.trace
            .as_ref()
            .is_some_and(|t| t.privacy == Privacy::Full)
    }

    /// The trace of this request, when sampled.
    pub fn trace_mut(&mut self) -> Option<&mut RequestTrace> {
        self.trace.as_deref_mut()
    }
}

/// Runs `fut` inside `scope`, returning its output and the scope.
pub async fn scoped<F: Future>(scope: Scope, fut: F) -> (F::Output, Scope) {
    let mut fut = std::pin::pin!(SCOPE.scope(RefCell::new(scope), fut));
    let out = fut.as_mut().await;
    let scope = fut
        .as_mut()
        .take_value()
        .map(RefCell::into_inner)
        .unwrap_or_default();
    (out, scope)
}

fn with<R>(f: impl FnOnce(&mut Scope) -> R) -> Option<R> {
    SCOPE
        .try_with(|s| s.try_borrow_mut().ok().map(|mut s| f(&mut s)))
        .ok()
        .flatten()
}

/// The routing decision: which model the request goes to (`pipeline::plan`).
pub fn note_model(rt: &Runtime, model: &str) {
    with(|s| {
        if let Some(m) = &s.metrics {
            s.facts.model_label = Some(m.model_label(rt, model));
        }
        if let Some(t) = s.trace.as_deref_mut() {
            t.model = Some(ferro_types::json::truncate(model, 256).to_owned());
        }
    });
}

/// An attempt in progress.
#[derive(Debug)]
pub struct Probe {
    start: Instant,
    started: Option<(SystemTime, [u8; 8])>,
}

/// An upstream attempt starts (`pipeline::execute`).
pub fn attempt_start(inst: &ProviderInstance) -> Probe {
    let started = with(|s| {
        s.facts.attempts += 1;
        s.facts.saturated = false;
        let t = s.trace.as_deref_mut()?;
        let id = new_span_id();
        t.current = Some(id);
        t.system = Some(inst.spec.id);
        Some((SystemTime::now(), id))
    })
    .flatten();
    Probe {
        start: Instant::now(),
        started,
    }
}

/// The attempt started by `p` ended; `err` when it failed.
pub fn attempt_end(p: Probe, target: &str, inst: &ProviderInstance, err: Option<&ApiError>) {
    let kind = err.map(ErrorKind::of);
    with(|s| {
        let Some(m) = &s.metrics else { return };
        let series = m.provider(&inst.name);
        m.attempt(&series, p.start.elapsed(), kind);
        s.facts.provider = Some(series.name.clone());
        let Some(t) = s.trace.as_deref_mut() else {
            return;
        };
        t.current = None;
        if let Some((start, span_id)) = p.started {
            let seq = u32::try_from(t.attempts.len() + 1).unwrap_or(u32::MAX);
            t.attempts.push(AttemptSpan {
                span_id,
                seq,
                target: target.to_owned(),
                provider: inst.name.clone(),
                system: inst.spec.id,
                start,
                end: SystemTime::now(),
                error: err.zip(kind).map(|(e, k)| AttemptError {
                    kind: k.as_str(),
                    upstream_status: match e.origin {
                        ferro_types::ErrorOrigin::Upstream(st) => Some(st),
                        _ => None,
                    },
                    message: e.message.to_string(),
                }),
            });
        }
    });
}

/// A plugin hook ran (installed as the plugins' hook observer when tracing).
fn plugin_hook(c: &ferro_plugins::HookCall) {
    with(|s| {
        if let Some(t) = s.trace.as_deref_mut() {
            let end = SystemTime::now();
            t.plugins.push(crate::otel::span::PluginSpan {
                plugin: c.plugin,
                stage: c.stage,
                outcome: c.outcome,
                start: end.checked_sub(c.took).unwrap_or(end),
                end,
            });
        }
    });
}

/// A target was skipped without an upstream call (open circuit, full queue).
pub fn refused(inst: &ProviderInstance, why: ErrorKind) {
    with(|s| {
        if let Some(m) = &s.metrics {
            m.refused(&inst.name, why);
            s.facts.saturated = why == ErrorKind::Saturated;
            if s.facts.provider.is_none() {
                s.facts.provider = Some(m.provider(&inst.name).name.clone());
            }
        }
    });
}

/// The `traceparent` for the upstream call of the current attempt, when traced.
pub fn traceparent() -> Option<HeaderValue> {
    with(|s| {
        let t = s.trace.as_deref()?;
        let span = t.current?;
        let v = format!("00-{}-{}-01", hex::encode(t.trace_id), hex::encode(span));
        HeaderValue::from_str(&v).ok()
    })
    .flatten()
}

/// Captures request bytes as the handler reads them (privacy `full`).
pub fn capture_request(scope: &mut Scope, req: axum::extract::Request) -> axum::extract::Request {
    use http_body_util::BodyExt;
    let Some(t) = scope.trace_mut() else {
        return req;
    };
    let buf = Arc::new(std::sync::Mutex::new(Vec::new()));
    t.request_body = Some(buf.clone());
    let (parts, body) = req.into_parts();
    let body = body.map_frame(move |f| {
        if let Some(d) = f.data_ref() {
            if let Ok(mut b) = buf.lock() {
                let room = crate::otel::span::MAX_CONTENT
                    .saturating_mul(4)
                    .saturating_sub(b.len());
                b.extend_from_slice(&d[..d.len().min(room)]);
            }
        }
        f
    });
    axum::extract::Request::from_parts(parts, axum::body::Body::new(body))
}

/// Keeps a copy of a non-streaming JSON answer for the span (privacy `full`).
pub async fn capture_response(
    scope: &mut Scope,
    resp: axum::response::Response,
) -> axum::response::Response {
    use http_body_util::BodyExt;
    let Some(t) = scope.trace_mut() else {
        return resp;
    };
    let (parts, body) = resp.into_parts();
    match body.collect().await {
        Ok(c) => {
            let bytes = c.to_bytes();
            t.response_body = Some(bytes.clone());
            axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
        }
        Err(_) => axum::response::Response::from_parts(parts, axum::body::Body::empty()),
    }
}

/// The record sink that observes: metrics and traces from each record and the
/// current request's scope, then the record goes on to `inner`.
pub struct ObservedSink {
    pub inner: Arc<dyn RequestSink>,
    pub obs: Arc<Observability>,
}

impl RequestSink for ObservedSink {
    fn record(&self, rec: LogRecord) {
        let scope = with(std::mem::take).unwrap_or_default();
        self.obs.finish(&rec, scope);
        self.inner.record(rec);
    }
}

/// Makes `state.sink` observe (called once by `prepare`, after the control
/// plane installed its writer).
pub fn observe_sink(state: &mut crate::state::AppState) {
    state.sink = Arc::new(ObservedSink {
        inner: state.sink.clone(),
        obs: state.obs.clone(),
    });
}

/// Emits `rec` through `sink` with `scope` as the current request's scope.
pub fn emit(sink: &dyn RequestSink, scope: Scope, rec: LogRecord) {
    SCOPE.sync_scope(RefCell::new(scope), || sink.record(rec));
}

/// A streamed response body that keeps its request's scope current while it
/// is polled and when it is dropped, so the record its relay emits at the end
/// (or on a client disconnect) is observed with the request's attempts and trace.
pub struct ScopedBody {
    inner: Option<axum::body::Body>,
    scope: Scope,
}

impl ScopedBody {
    pub fn new(inner: axum::body::Body, scope: Scope) -> ScopedBody {
        ScopedBody {
            inner: Some(inner),
            scope,
        }
    }
}

impl http_body::Body for ScopedBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let Some(inner) = this.inner.as_mut() else {
            return std::task::Poll::Ready(None);
        };
        let slot = &mut this.scope;
        // The scope moves into the task-local for this poll and back out after.
        SCOPE.sync_scope(RefCell::new(std::mem::take(slot)), || {
            let r = std::pin::Pin::new(inner).poll_frame(cx);
            *slot = with(std::mem::take).unwrap_or_default();
            r
        })
    }

    fn is_end_stream(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner
            .as_ref()
            .map(http_body::Body::size_hint)
            .unwrap_or_default()
    }
}

impl Drop for ScopedBody {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            let scope = std::mem::take(&mut self.scope);
            SCOPE.sync_scope(RefCell::new(scope), || drop(inner));
        }
    }
}
