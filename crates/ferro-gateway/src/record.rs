//! One terminal record per routed request (★2), handed to a [`RequestSink`].
//!
//! Non-streaming requests are recorded by the [`record_layer`] middleware from
//! what the handler left in the response's extensions ([`RouteInfo`],
//! [`ErrorInfo`]); streams are recorded by the SSE relay when they end (the
//! middleware sees only their first byte). A sink must never block: the
//! control plane's sink queues records for a batched writer.

use crate::auth::Identity;
use crate::middleware::RequestCtx;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use ferro_types::usage::TokenCounts;
use std::sync::Arc;
use std::time::SystemTime;

/// One routed request, as logged.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    pub trace_id: Arc<str>,
    /// The surface: `chat`, `completions`, `embeddings`, `images`, `moderations`, `passthrough`.
    pub route: &'static str,
    pub model: String,
    pub provider: String,
    pub target: String,
    pub api_key_id: String,
    /// HTTP status returned to the client.
    pub status: u16,
    pub stream: bool,
    pub usage: TokenCounts,
    pub cost_usd: Option<f64>,
    pub cache_hit: bool,
    /// Redacted error message, for failed requests.
    pub error_message: Option<String>,
    pub duration_ms: f64,
    pub ttft_ms: Option<f64>,
    pub created_at: SystemTime,
}

/// Receives records; must return at once.
pub trait RequestSink: Send + Sync + 'static {
    fn record(&self, rec: LogRecord);
}

/// The default sink: one structured access-log line per request.
#[derive(Debug, Default)]
pub struct AccessLog;

impl RequestSink for AccessLog {
    fn record(&self, r: LogRecord) {
        tracing::info!(
            target: "ferro::access",
            trace_id = %r.trace_id,
            route = r.route,
            status = r.status,
            key_id = %r.api_key_id,
            provider = %r.provider,
            target_name = %r.target,
            model = %ferro_types::json::truncate(&r.model, 128),
            stream = r.stream,
            prompt_tokens = r.usage.prompt,
            completion_tokens = r.usage.completion,
            cost_usd = r.cost_usd.unwrap_or(0.0),
            duration_ms = r.duration_ms,
            error = r.error_message.as_deref().unwrap_or(""),
            "request"
        );
    }
}

/// What a handler tells the recorder about how it served a request.
#[derive(Debug, Clone, Default)]
pub struct RouteInfo {
    pub model: String,
    pub provider: String,
    pub target: String,
    pub usage: TokenCounts,
    pub cost_usd: Option<f64>,
    pub cache_hit: bool,
    /// The relay records this request when the stream ends.
    pub stream: bool,
}

/// The error a response carries (set by `GwError`).
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    pub message: String,
}

/// Surface name for a `/v1` path.
pub fn route_of(path: &str) -> &'static str {
    match path {
        "/v1/chat/completions" => "chat",
        "/v1/completions" => "completions",
        "/v1/embeddings" => "embeddings",
        "/v1/images/generations" => "images",
        "/v1/moderations" => "moderations",
        _ => "passthrough",
    }
}

/// Middleware on routed `/v1` surfaces: emits the terminal record of every
/// non-streaming request, success or error.
pub async fn record_layer(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let route = route_of(req.uri().path());
    let ctx = req.extensions().get::<RequestCtx>().cloned();
    let key_id = req
        .extensions()
        .get::<Identity>()
        .map(|i| i.id.clone())
        .unwrap_or_default();
    let resp = next.run(req).await;
    let Some(ctx) = ctx else { return resp };
    let info = resp
        .extensions()
        .get::<RouteInfo>()
        .cloned()
        .unwrap_or_default();
    if info.stream {
        return resp;
    }
    let err = resp
        .extensions()
        .get::<ErrorInfo>()
        .map(|e| e.message.clone());
    state.sink.record(LogRecord {
        trace_id: ctx.trace_id.clone(),
        route,
        model: info.model,
        provider: info.provider,
        target: info.target,
        api_key_id: key_id,
        status: resp.status().as_u16(),
        stream: false,
        usage: info.usage,
        cost_usd: info.cost_usd,
        cache_hit: info.cache_hit,
        error_message: err,
        duration_ms: ctx.start.elapsed().as_secs_f64() * 1000.0,
        ttft_ms: None,
        created_at: SystemTime::now(),
    });
    resp
}
