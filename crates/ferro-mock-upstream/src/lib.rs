//! `ferro-mock-upstream` — a fast, deterministic local mock of an
//! OpenAI-wire LLM provider.
//!
//! This crate owns the fake upstream that Ferro's integration tests and
//! benchmarks point the gateway at. It speaks the real OpenAI wire shapes
//! (chat completions incl. SSE streaming with `stream_options.include_usage`,
//! legacy completions, embeddings, image generations, moderations, models),
//! the Anthropic Messages API on `POST /v1/messages` (see `anthropic.rs`:
//! credential and version headers checked, unknown fields refused), the
//! Gemini API and Vertex AI with a fake OAuth token endpoint (see
//! `gemini/mod.rs`: API key or issued Bearer token checked, unknown fields
//! refused), Amazon Bedrock (see `bedrock/mod.rs`: Converse,
//! ConverseStream as a binary event stream, InvokeModel embeddings, Rerank;
//! Bearer or SigV4-shaped credentials checked), Cohere v2 (see `cohere.rs`)
//! and the rerank routes of Together, DeepInfra and NVIDIA NIM (see
//! `rerank.rs`), answers
//! any other path with a small JSON echo (for pass-through tests),
//! records what it received, and can be told to misbehave ([`Fault`]):
//! error statuses, delays, dropped connections, streams that die mid-body and
//! redirects. It also counts SSE bodies that were dropped before finishing,
//! so tests can prove client disconnects propagate upstream.
//!
//! It is built for load: hyper 1 directly, no per-request logging, atomics
//! for counters, no lock held across an `.await`, constant responses served
//! from pre-serialised bytes, and recording can be switched off entirely.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let mock = ferro_mock_upstream::MockUpstream::start().await?;
//! let base = mock.url(); // "http://127.0.0.1:PORT"
//! // ... point the gateway at `base`, send traffic ...
//! assert_eq!(mock.hits_for("/v1/chat/completions"), 0);
//! mock.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Control surface over HTTP (for the binary / external tools), never
//! counted, recorded or faulted:
//! - `GET /__mock/requests` — recorded requests as JSON;
//!   `DELETE /__mock/requests` clears them.
//! - `GET /__mock/stats` — `{"hits","active_streams","cancelled_streams"}`.
//! - `POST /__mock/fault` — `{"status":503}` (optional `"body"`,
//!   `"retry_after"`), `{"delay_ms":100}`, `{"drop":true}`,
//!   `{"stream_error_after":2}`, `{"redirect":"http://..."}`, or
//!   `{"clear":true}`. Adding `"once":true` queues a one-shot fault instead
//!   of setting the persistent one.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod anthropic;
mod bedrock;
mod body;
mod cohere;
mod control;
mod faults;
mod gemini;
mod openai;
mod recording;
mod rerank;
mod server;
mod util;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use anthropic::{ALLOWED_FIELDS as ANTHROPIC_FIELDS, CACHE_READ_TOKENS, CACHE_WRITE_TOKENS};
pub use bedrock::{
    CACHE_READ_TOKENS as BEDROCK_CACHE_READ_TOKENS,
    CACHE_WRITE_TOKENS as BEDROCK_CACHE_WRITE_TOKENS,
};
pub use faults::Fault;
pub use gemini::BAD_KEY as GEMINI_BAD_KEY;
pub use recording::RecordedRequest;

/// How a [`MockUpstream`] behaves. `Default` gives: no latency, 5 content
/// chunks per stream, no gap between chunks, recording **on**, random port.
#[derive(Clone, Debug)]
pub struct MockOptions {
    /// Sleep applied before the response headers of every (non-control) request.
    pub latency: Duration,
    /// Number of content pieces a streamed reply is split into (0 means 5).
    pub stream_chunks: usize,
    /// Sleep between consecutive SSE events.
    pub chunk_gap: Duration,
    /// Record every request (method, path, headers, body). Turn off for
    /// benchmarks: hit counters keep working, recording is skipped entirely.
    pub record: bool,
    /// Address to bind; `None` means `127.0.0.1:0`.
    pub addr: Option<SocketAddr>,
}

impl Default for MockOptions {
    fn default() -> Self {
        MockOptions {
            latency: Duration::ZERO,
            stream_chunks: 0,
            chunk_gap: Duration::ZERO,
            record: true,
            addr: None,
        }
    }
}

/// A running mock upstream. Dropping it stops the server (aborting open
/// connections); [`MockUpstream::shutdown`] does the same and waits for it.
pub struct MockUpstream {
    addr: SocketAddr,
    shared: Arc<server::Shared>,
    task: JoinHandle<()>,
}

impl MockUpstream {
    /// Start on `127.0.0.1:0` in the current tokio runtime with default
    /// options (recording on); returns once listening.
    pub async fn start() -> std::io::Result<MockUpstream> {
        Self::start_with(MockOptions::default()).await
    }

    /// Start with explicit options in the current tokio runtime; returns once
    /// listening.
    pub async fn start_with(opts: MockOptions) -> std::io::Result<MockUpstream> {
        let bind = opts
            .addr
            .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(server::Shared::new(&opts));
        let task = tokio::spawn(server::serve(listener, Arc::clone(&shared)));
        Ok(MockUpstream { addr, shared, task })
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL, e.g. `http://127.0.0.1:PORT` (no trailing slash, no path).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests received on any path except `/__mock/*` (including ones
    /// answered with a fault).
    pub fn hits(&self) -> usize {
        self.shared.recorder.hits()
    }

    /// Requests received on exactly `path` (compared without the query
    /// string; a query in the argument is ignored).
    pub fn hits_for(&self, path: &str) -> usize {
        self.shared.recorder.hits_for(path)
    }

    /// All recorded requests, oldest first (empty when `record` is off).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.recorder.requests()
    }

    /// The most recently recorded request.
    pub fn last_request(&self) -> Option<RecordedRequest> {
        self.shared.recorder.last()
    }

    /// Forget recorded requests and reset the hit counters.
    pub fn clear_requests(&self) {
        self.shared.recorder.clear();
    }

    /// Set the persistent fault: applies to every subsequent request until
    /// [`MockUpstream::clear_faults`].
    pub fn set_fault(&self, fault: Fault) {
        self.shared.faults.set(fault);
    }

    /// Queue a one-shot fault. Queued faults are consumed FIFO, one per
    /// request, before the persistent one applies.
    pub fn push_fault(&self, fault: Fault) {
        self.shared.faults.push(fault);
    }

    /// Remove the persistent fault and all queued one-shot faults.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// SSE response bodies currently alive (being written).
    pub fn active_streams(&self) -> usize {
        self.shared.streams.active.load(Ordering::Acquire)
    }

    /// SSE response bodies dropped before their last event was produced
    /// (e.g. the client disconnected). A scripted
    /// [`Fault::StreamThenError`] abort does not count as cancelled.
    pub fn cancelled_streams(&self) -> usize {
        self.shared.streams.cancelled.load(Ordering::Acquire)
    }

    /// Stop accepting, abort open connections and wait for the server task.
    pub async fn shutdown(mut self) {
        self.task.abort();
        // The task ends as cancelled; nothing useful to report.
        let _ = (&mut self.task).await;
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for MockUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockUpstream")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}
