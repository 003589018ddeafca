//! OpenTelemetry traces (CONTRACT §5.7, §2.1): one `gateway.request` SERVER span
//! per routed request with GenAI semantic-convention attributes (`gen_ai.*`)
//! and Ferro's own (`ferro.*`), one `gateway.routing.attempt` CLIENT child per
//! upstream attempt, exported over OTLP/gRPC or OTLP/HTTP.
//!
//! The span's trace id is the request's trace id (`X-Request-ID`); an inbound
//! W3C `traceparent` makes the span a child of the caller's span and decides
//! sampling (parent-based), otherwise `sample_ratio` does. Upstream calls carry
//! a `traceparent` naming their attempt span (`upstream.rs`).
//!
//! Spans are assembled when the request's record is emitted, from timestamps
//! taken on the way ([`span::RequestTrace`]): a stream's span ends with its last
//! byte, in whatever task that happens, without any span handle crossing tasks.
//! With tracing off the request path pays one `Option` check.

pub mod span;

use ferro_config::{parse_duration, resolve_vars, Config, TracingConfig};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracer, SdkTracerProvider,
};
use std::collections::HashMap;
use std::time::Duration;

pub use span::RequestTrace;

/// How much request content spans may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privacy {
    /// No content and no error text (errors read `redacted`).
    None,
    /// Metadata and redacted error text (the default).
    Metadata,
    /// Also the prompt and the (non-streaming) response.
    Full,
}

/// OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Grpc,
    HttpProtobuf,
}

/// Resolved tracing settings (env over config, CONTRACT §5.7/§7).
#[derive(Debug, Clone, PartialEq)]
pub struct TracingSettings {
    /// The URL the exporter sends to (OTLP/HTTP: the full traces URL).
    pub endpoint: String,
    pub protocol: Protocol,
    pub service_name: String,
    pub sample_ratio: f64,
    pub privacy: Privacy,
    pub shutdown_grace: Duration,
    pub headers: Vec<(String, String)>,
}

const TRACES_PATH: &str = "v1/traces";

/// A base endpoint as the exporter needs it: bare `host:port` means plaintext
/// HTTP; OTLP/HTTP appends `/v1/traces` unless the path already ends with it.
fn base_endpoint(raw: &str, protocol: Protocol) -> Result<String, String> {
    let raw = raw.trim();
    let with_scheme = if raw.contains("://") {
        raw.to_owned()
    } else if raw.contains(['/', '?', '#']) {
        return Err(format!(
            "tracing endpoint `{raw}` has a path but no scheme: write http://host:port/... or host:port"
        ));
    } else {
        format!("http://{raw}")
    };
    let mut u = url::Url::parse(&with_scheme)
        .map_err(|e| format!("tracing endpoint `{raw}` is not a valid URL: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(format!(
            "tracing endpoint `{raw}` must be an http or https URL with a host"
        ));
    }
    if protocol == Protocol::HttpProtobuf {
        let path = u.path().trim_end_matches('/').to_owned();
        if !path.ends_with(&format!("/{TRACES_PATH}")) {
            u.set_path(&format!("{path}/{TRACES_PATH}"));
        }
    }
    Ok(u.to_string().trim_end_matches('/').to_owned())
}

fn protocol(v: &str) -> Result<Protocol, String> {
    match v.trim() {
        "grpc" => Ok(Protocol::Grpc),
        "http/protobuf" | "http" => Ok(Protocol::HttpProtobuf),
        other => Err(format!(
            "tracing protocol `{other}` is not supported: use grpc or http/protobuf"
        )),
    }
}

/// Parses a privacy level (`""` = the default, metadata).
pub fn privacy(v: &str) -> Result<Privacy, String> {
    match v {
        "" | "metadata" => Ok(Privacy::Metadata),
        "none" => Ok(Privacy::None),
        "full" => Ok(Privacy::Full),
        other => Err(format!(
            "invalid privacy_level `{other}`: must be one of none, metadata, full"
        )),
    }
}

/// `k=v,k2=v2` (OTEL_EXPORTER_OTLP_HEADERS), values percent-decoded.
fn env_headers(v: &str) -> Vec<(String, String)> {
    v.split(',')
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            let v = percent_encoding::percent_decode_str(v.trim()).decode_utf8_lossy();
            Some((k.trim().to_owned(), v.into_owned()))
        })
        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        .collect()
}

/// Tracing settings from the environment and `observability.tracing`, or `None`
/// when tracing is off (no endpoint anywhere, or `enabled: false`).
pub fn settings(
    env: &dyn Fn(&str) -> Option<String>,
    cfg: Option<&Config>,
) -> Result<Option<TracingSettings>, String> {
    let default = TracingConfig::default();
    let tc = cfg
        .and_then(|c| c.observability.as_ref())
        .and_then(|o| o.tracing.as_ref())
        .unwrap_or(&default);
    if tc.enabled == Some(false) {
        return Ok(None);
    }
    let get = |k: &str| {
        env(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let proto = match get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .or_else(|| get("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .or_else(|| tc.protocol.clone())
    {
        Some(p) => protocol(&p)?,
        None => Protocol::Grpc,
    };
    let endpoint = if let Some(e) = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        // the per-signal variable is used verbatim (OTLP exporter spec)
        base_endpoint(&e, Protocol::Grpc)?
    } else if let Some(e) = get("OTEL_EXPORTER_OTLP_ENDPOINT") {
        base_endpoint(&e, proto)?
    } else if let Some(e) = tc.endpoint.as_deref().filter(|e| !e.trim().is_empty()) {
        base_endpoint(e, proto)?
    } else {
        return Ok(None);
    };
    let sample_ratio = tc.sample_ratio.unwrap_or(1.0);
    if !(0.0..=1.0).contains(&sample_ratio) {
        return Err("observability.tracing.sample_ratio: must be between 0 and 1".to_owned());
    }
    let privacy = privacy(tc.privacy_level.as_deref().unwrap_or(""))
        .map_err(|e| format!("observability.tracing.privacy_level: {e}"))?;
    let shutdown_grace = match tc.shutdown_grace.as_deref() {
        Some(d) => {
            parse_duration(d).map_err(|e| format!("observability.tracing.shutdown_grace: {e}"))?
        }
        None => Duration::from_secs(10),
    };
    let mut headers = Vec::new();
    for (k, v) in &tc.headers {
        match resolve_vars(v, env) {
            Ok(v) if !v.is_empty() => headers.push((k.clone(), v)),
            Ok(_) => tracing::warn!(header = %k, "tracing header is empty; dropped"),
            Err(e) => tracing::warn!(header = %k, "tracing header dropped: {e}"),
        }
    }
    if let Some(h) =
        get("OTEL_EXPORTER_OTLP_TRACES_HEADERS").or_else(|| get("OTEL_EXPORTER_OTLP_HEADERS"))
    {
        headers.extend(env_headers(&h));
    }
    let service_name = get("OTEL_SERVICE_NAME")
        .or_else(|| tc.service_name.clone().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "ferrogw".to_owned());
    Ok(Some(TracingSettings {
        endpoint,
        protocol: proto,
        service_name,
        sample_ratio,
        privacy,
        shutdown_grace,
        headers,
    }))
}

/// A running trace pipeline.
pub struct Tracing {
    provider: SdkTracerProvider,
    pub(crate) tracer: SdkTracer,
    pub settings: TracingSettings,
}

impl std::fmt::Debug for Tracing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracing")
            .field("endpoint", &self.settings.endpoint)
            .field("protocol", &self.settings.protocol)
            .finish()
    }
}

impl Tracing {
    /// Builds the exporter and the batch processor. gRPC needs a tokio runtime
    /// (the channel's worker runs on it); OTLP/HTTP uses its own thread.
    pub fn start(s: TracingSettings) -> Result<Tracing, String> {
        let timeout = Duration::from_secs(10);
        let exporter = match s.protocol {
            Protocol::Grpc => {
                let mut h = http::HeaderMap::new();
                for (k, v) in &s.headers {
                    match (
                        http::HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()),
                        http::HeaderValue::from_str(v),
                    ) {
                        (Ok(k), Ok(v)) => {
                            h.insert(k, v);
                        }
                        _ => tracing::warn!(header = %k, "tracing header is not valid gRPC metadata; dropped"),
                    }
                }
                let md = opentelemetry_otlp::tonic_types::metadata::MetadataMap::from_headers(h);
                let mut b = opentelemetry_otlp::SpanExporter::builder()
                    .with_tonic()
                    .with_endpoint(s.endpoint.clone())
                    .with_timeout(timeout)
                    .with_metadata(md);
                if s.endpoint.starts_with("https://") {
                    b = b.with_tls_config(
                        opentelemetry_otlp::tonic_types::transport::ClientTlsConfig::new()
                            .with_webpki_roots(),
                    );
                }
                b.build()
            }
            Protocol::HttpProtobuf => opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_endpoint(s.endpoint.clone())
                .with_timeout(timeout)
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_headers(s.headers.iter().cloned().collect::<HashMap<_, _>>())
                .build(),
        }
        .map_err(|e| format!("tracing exporter for {}: {e}", s.endpoint))?;
        let processor = BatchSpanProcessor::builder(exporter)
            .with_batch_config(
                BatchConfigBuilder::default()
                    .with_max_queue_size(8192)
                    .with_scheduled_delay(Duration::from_secs(2))
                    .build(),
            )
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(
                opentelemetry_sdk::Resource::builder_empty()
                    .with_service_name(s.service_name.clone())
                    .with_attribute(opentelemetry::KeyValue::new(
                        "service.version",
                        crate::handlers::probes::VERSION,
                    ))
                    .build(),
            )
            .build();
        let tracer = provider.tracer("ferro-gateway");
        Ok(Tracing {
            provider,
            tracer,
            settings: s,
        })
    }

    /// Exports what is queued (blocking; call off the async workers).
    pub fn flush(&self) {
        if let Err(e) = self.provider.force_flush() {
            tracing::warn!("tracing flush failed: {e}");
        }
    }

    /// Flushes and stops the pipeline within `shutdown_grace` (blocking).
    pub fn shutdown(&self) {
        if let Err(e) = self
            .provider
            .shutdown_with_timeout(self.settings.shutdown_grace)
        {
            tracing::warn!("tracing shutdown: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn off_without_endpoint_and_when_disabled() {
        assert_eq!(settings(&env(&[]), None), Ok(None));
        let cfg = Config::load_str(
            "targets: [{virtual_key: openai}]\nobservability: {tracing: {enabled: false, endpoint: 'h:4317'}}\n",
            ferro_config::Format::Yaml,
        )
        .ok();
        let e = env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317")]);
        assert_eq!(settings(&e, cfg.as_ref()), Ok(None));
    }

    #[test]
    fn endpoint_precedence_and_paths() {
        let s = |pairs| {
            settings(&env(pairs), None)
                .ok()
                .flatten()
                .map(|s| (s.endpoint, s.protocol))
        };
        assert_eq!(
            s(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317")]),
            Some(("http://c:4317".into(), Protocol::Grpc))
        );
        assert_eq!(
            s(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/base/"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
            ]),
            Some((
                "http://c:4318/base/v1/traces".into(),
                Protocol::HttpProtobuf
            ))
        );
        assert_eq!(
            s(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:1"),
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318/custom"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
            ]),
            Some(("http://c:4318/custom".into(), Protocol::HttpProtobuf))
        );
        let cfg = Config::load_str(
            "targets: [{virtual_key: openai}]\nobservability: {tracing: {endpoint: 'c:4318/v1/traces', protocol: http}}\n",
            ferro_config::Format::Yaml,
        );
        assert!(cfg.is_ok());
        let cfg = Config::load_str(
            "targets: [{virtual_key: openai}]\nobservability: {tracing: {endpoint: 'http://c:4318/v1/traces', protocol: http, privacy_level: full}}\n",
            ferro_config::Format::Yaml,
        )
        .ok();
        let got = settings(&env(&[]), cfg.as_ref()).ok().flatten();
        assert_eq!(
            got.as_ref().map(|s| (s.endpoint.as_str(), s.privacy)),
            Some(("http://c:4318/v1/traces", Privacy::Full))
        );
        assert!(base_endpoint("c:4318/x", Protocol::Grpc).is_err());
        assert_eq!(
            base_endpoint("c:4317", Protocol::Grpc).as_deref(),
            Ok("http://c:4317")
        );
    }

    #[test]
    fn bad_values_are_errors() {
        let e = env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:1"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ]);
        assert!(settings(&e, None).is_err());
        assert_eq!(privacy("full"), Ok(Privacy::Full));
        assert!(privacy("everything").is_err());
        assert_eq!(
            env_headers("a=1, b = x%20y,=bad"),
            vec![("a".into(), "1".into()), ("b".into(), "x y".into())]
        );
    }
}
