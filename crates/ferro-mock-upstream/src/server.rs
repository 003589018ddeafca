//! Accept loop, per-connection hyper serving and the request pipeline:
//! control routes → hit/record → latency → fault → OpenAI handler.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::body::{MockBody, StreamCounters, Truncated};
use crate::faults::{Fault, FaultState, DEFAULT_FAULT_BODY};
use crate::recording::Recorder;
use crate::{anthropic, bedrock, cohere, control, gemini, openai, rerank, MockOptions};

/// State shared by every connection of one server.
pub(crate) struct Shared {
    pub(crate) latency: Duration,
    pub(crate) stream_chunks: usize,
    pub(crate) chunk_gap: Duration,
    pub(crate) recorder: Recorder,
    pub(crate) faults: FaultState,
    pub(crate) streams: StreamCounters,
    /// Source of `chatcmpl-mock-N` style ids.
    pub(crate) seq: AtomicU64,
    /// Google wires: OAuth tokens issued by `/token`.
    pub(crate) gemini: gemini::State,
}

impl Shared {
    pub(crate) fn new(opts: &MockOptions) -> Self {
        Shared {
            latency: opts.latency,
            stream_chunks: if opts.stream_chunks == 0 {
                5
            } else {
                opts.stream_chunks
            },
            chunk_gap: opts.chunk_gap,
            recorder: Recorder::new(opts.record),
            faults: FaultState::default(),
            streams: StreamCounters::default(),
            seq: AtomicU64::new(0),
            gemini: gemini::State::default(),
        }
    }
}

/// Returned by the service to make hyper close the connection without
/// writing a response.
#[derive(Debug)]
pub(crate) struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("mock upstream dropped the connection")
    }
}

impl std::error::Error for DropConnection {}

/// Accept connections forever (until the task is aborted, which also aborts
/// every connection task held in the `JoinSet`).
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().keep_alive(true).pipeline_flush(true);
    let builder = Arc::new(builder);
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    // Best effort: a failure only costs latency.
                    let _ = stream.set_nodelay(true);
                    let shared = Arc::clone(&shared);
                    let builder = Arc::clone(&builder);
                    conns.spawn(async move {
                        let svc = service_fn(move |req| handle(Arc::clone(&shared), req));
                        // Connection errors (resets, faults) are expected here.
                        let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                    });
                }
                // e.g. EMFILE: back off briefly instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<MockBody>, DropConnection> {
    let (parts, incoming) = req.into_parts();
    let body = match incoming.collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => return Err(DropConnection),
    };

    if parts.uri.path().starts_with("/__mock/") {
        return Ok(control::handle(&shared, &parts, &body));
    }

    shared.recorder.observe(&parts, &body);
    let fault = shared.faults.next();

    if !shared.latency.is_zero() {
        tokio::time::sleep(shared.latency).await;
    }

    let abort_after = match fault {
        None => None,
        Some(Fault::Delay(d)) => {
            tokio::time::sleep(d).await;
            None
        }
        Some(Fault::DropConnection) => return Err(DropConnection),
        Some(Fault::Status {
            status,
            body,
            retry_after,
        }) => return Ok(status_response(status, body, retry_after)),
        Some(Fault::Redirect { location }) => {
            let mut resp = Response::new(MockBody::empty());
            *resp.status_mut() = StatusCode::FOUND;
            if let Ok(v) = HeaderValue::try_from(location) {
                resp.headers_mut().insert(LOCATION, v);
            }
            return Ok(resp);
        }
        Some(Fault::StreamThenError { after_chunks }) => Some(after_chunks),
    };

    let mut resp = if anthropic::handles(&parts) {
        anthropic::respond(&shared, &parts, &body, abort_after)
    } else if gemini::handles(&parts) {
        gemini::respond(&shared, &parts, &body, abort_after)
    } else if bedrock::handles(&parts) {
        bedrock::respond(&shared, &parts, &body, abort_after)
    } else if cohere::handles(&parts) {
        cohere::respond(&shared, &parts, &body, abort_after)
    } else if rerank::handles(&parts) {
        rerank::respond(&parts, &body)
    } else {
        openai::respond(&shared, &parts, &body, abort_after)
    };
    if abort_after.is_some() {
        truncate(&mut resp);
    }
    Ok(resp)
}

/// Non-stream response under `StreamThenError`: send half, then abort.
fn truncate(resp: &mut Response<MockBody>) {
    if let MockBody::Full(full) = resp.body_mut() {
        let data = full.take().unwrap_or_default();
        let half = data.slice(..data.len() / 2);
        *resp.body_mut() = MockBody::Truncated(Truncated::new(half));
    }
}

fn status_response(
    status: u16,
    body: Option<String>,
    retry_after: Option<String>,
) -> Response<MockBody> {
    let body = match body {
        Some(b) => Bytes::from(b),
        None => Bytes::from_static(DEFAULT_FAULT_BODY.as_bytes()),
    };
    let mut resp = Response::new(MockBody::full(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(v) = retry_after.and_then(|r| HeaderValue::try_from(r).ok()) {
        headers.insert(RETRY_AFTER, v);
    }
    resp
}
