//! One terminal record per routed request (★2), handed to a [`RequestSink`].
//!
//! Non-streaming requests are recorded by the [`record_layer`] middleware from
//! what the handler left in the response's extensions ([`RouteInfo`],
//! [`ErrorInfo`]); streams are recorded by the SSE relay when they end (the
//! middleware sees only their first byte). A sink must never block: the
//! control plane's sink queues records for a batched writer.

use crate::auth::Identity;
use crate::middleware::RequestCtx;
use crate::observe;
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
        access_line(&r);
    }
}

/// Longest error text on an access line.
const MAX_LOGGED_ERROR: usize = 512;

/// The access line of one request: trace id, key id, target, status, tokens,
/// cost and latency. Error texts went through the redactor where they were
/// made; values that come from clients or upstreams are truncated.
pub fn access_line(r: &LogRecord) {
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
        cache_hit = r.cache_hit,
        prompt_tokens = r.usage.prompt,
        completion_tokens = r.usage.completion,
        total_tokens = r.usage.prompt.saturating_add(r.usage.completion),
        cost_usd = r.cost_usd.unwrap_or(0.0),
        duration_ms = (r.duration_ms * 1000.0).round() / 1000.0,
        ttft_ms = r.ttft_ms.map(|t| (t * 1000.0).round() / 1000.0),
        error = ferro_types::json::truncate(r.error_message.as_deref().unwrap_or(""), MAX_LOGGED_ERROR),
        "request"
    );
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
        "/v1/rerank" => "rerank",
        _ => "passthrough",
    }
}

/// Middleware on routed `/v1` surfaces: emits the terminal record of every
/// non-streaming request, success or error, and runs the request (and a
/// stream's body) inside its observation scope (`observe.rs`).
pub async fn record_layer(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let route = route_of(req.uri().path());
    let Some(ctx) = req.extensions().get::<RequestCtx>().cloned() else {
        return next.run(req).await;
    };
    let key_id = req
        .extensions()
        .get::<Identity>()
        .map(|i| i.id.clone())
        .unwrap_or_default();
    let mut scope = state.obs.begin(&ctx, req.headers());
    let req = if scope.wants_content() {
        observe::capture_request(&mut scope, req)
    } else {
        req
    };
    let (mut resp, mut scope) = observe::scoped(scope, next.run(req)).await;
    resp.extensions_mut().insert(observe::Recorded);
    let info = resp
        .extensions()
        .get::<RouteInfo>()
        .cloned()
        .unwrap_or_default();
    if info.stream {
        // The relay records the stream when it ends; keep the scope with it.
        let (parts, body) = resp.into_parts();
        return Response::from_parts(
            parts,
            axum::body::Body::new(observe::ScopedBody::new(body, scope)),
        );
    }
    if scope.wants_content() {
        resp = observe::capture_response(&mut scope, resp).await;
    }
    let err = resp
        .extensions()
        .get::<ErrorInfo>()
        .map(|e| e.message.clone());
    let rec = LogRecord {
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
    };
    observe::emit(&*state.sink, scope, rec);
    resp
}
