//! The upstream HTTP client: pooled keep-alive connections over rustls, no
//! redirects followed, and separate connect / first-byte / idle timeouts (the
//! total deadline is the caller's `request_timeout`).

use crate::instance::ProviderInstance;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// Connections the upstream client has opened (TCP, plus TLS where used) and
/// connect attempts that failed, process-wide: with the per-instance
/// [`ProviderInstance::busy`] gauge they show how the pool is used.
#[derive(Debug, Default)]
pub struct PoolCounters {
    pub opened: AtomicU64,
    pub failed: AtomicU64,
}

/// The upstream pool's counters (exported on `/metrics`).
pub static POOL: PoolCounters = PoolCounters {
    opened: AtomicU64::new(0),
    failed: AtomicU64::new(0),
};

/// Counts the connector's outcomes (a tower layer under reqwest's pool, so
/// it runs once per new connection, never per request).
#[derive(Clone, Copy)]
struct CountConnects;

impl<S> tower::Layer<S> for CountConnects {
    type Service = Counted<S>;
    fn layer(&self, inner: S) -> Counted<S> {
        Counted(inner)
    }
}

#[derive(Clone)]
struct Counted<S>(S);

type BoxFut<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, R> tower::Service<R> for Counted<S>
where
    S: tower::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFut<S::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        let fut = self.0.call(req);
        Box::pin(async move {
            let res = fut.await;
            let c = if res.is_ok() {
                &POOL.opened
            } else {
                &POOL.failed
            };
            c.fetch_add(1, Ordering::Relaxed);
            res
        })
    }
}

/// Holds one unit of an instance's `busy` gauge; released on drop.
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn take(n: &Arc<AtomicUsize>) -> Busy {
        n.fetch_add(1, Ordering::Relaxed);
        Busy(n.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Timeouts of upstream calls.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    /// From sending the request to the response headers.
    pub first_byte: Duration,
    /// Longest silence while reading a body.
    pub idle: Duration,
    pub pool_idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(120),
            idle: Duration::from_secs(300),
            pool_idle: Duration::from_secs(90),
        }
    }
}

/// Why an upstream call failed before a usable response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamError {
    /// TCP/TLS connect refused, reset or timed out.
    Connect(String),
    /// No response headers within the first-byte timeout.
    FirstByteTimeout,
    /// The body stalled longer than the idle timeout.
    IdleTimeout,
    /// The connection broke while reading.
    Io(String),
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpstreamError::Connect(m) => write!(f, "upstream connection failed: {m}"),
            UpstreamError::FirstByteTimeout => f.write_str("upstream did not answer in time"),
            UpstreamError::IdleTimeout => f.write_str("upstream stream stalled"),
            UpstreamError::Io(m) => write!(f, "upstream connection broke: {m}"),
        }
    }
}

impl std::error::Error for UpstreamError {}

/// A response body: whole, or a stream of chunks as they arrive.
pub enum UpstreamBody {
    Full(Bytes),
    Stream(BoxStream<'static, Result<Bytes, UpstreamError>>),
}

impl std::fmt::Debug for UpstreamBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpstreamBody::Full(b) => write!(f, "Full({} bytes)", b.len()),
            UpstreamBody::Stream(_) => f.write_str("Stream"),
        }
    }
}

/// What an upstream (HTTP or in-process) answered.
#[derive(Debug)]
pub struct UpstreamResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: UpstreamBody,
}

impl UpstreamResponse {
    pub fn json(status: u16, body: Bytes) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        UpstreamResponse {
            status,
            headers,
            body: UpstreamBody::Full(body),
        }
    }

    /// Reads the whole body (for non-streaming surfaces), up to `limit` bytes.
    pub async fn into_bytes(self, limit: usize) -> Result<(u16, HeaderMap, Bytes), UpstreamError> {
        match self.body {
            UpstreamBody::Full(b) => Ok((self.status, self.headers, b)),
            UpstreamBody::Stream(mut s) => {
                let mut buf = bytes::BytesMut::new();
                while let Some(chunk) = s.next().await {
                    let chunk = chunk?;
                    if buf.len() + chunk.len() > limit {
                        return Err(UpstreamError::Io("upstream body too large".into()));
                    }
                    buf.extend_from_slice(&chunk);
                }
                Ok((self.status, self.headers, buf.freeze()))
            }
        }
    }
}

/// The shared upstream HTTP client.
#[derive(Clone, Debug)]
pub struct UpstreamClient {
    http: reqwest::Client,
    timeouts: Timeouts,
}

impl UpstreamClient {
    pub fn new(timeouts: Timeouts) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeouts.connect)
            .read_timeout(timeouts.idle)
            .pool_idle_timeout(timeouts.pool_idle)
            .pool_max_idle_per_host(1024)
            .tcp_nodelay(true)
            .use_rustls_tls()
            .connector_layer(CountConnects)
            .build()
            .map_err(|e| format!("cannot build the upstream HTTP client: {e}"))?;
        Ok(UpstreamClient { http, timeouts })
    }

    /// The underlying HTTP client (for adapters' token exchanges).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Sends one request (`extra` headers after the instance's auth headers; a
    /// JSON content type unless `extra` names one). The body is a `Bytes` so retries reuse it without copying.
    /// The response body is always returned as a stream; callers that need it
    /// whole use [`UpstreamResponse::into_bytes`].
    pub async fn send<U: reqwest::IntoUrl>(
        &self,
        inst: &ProviderInstance,
        method: Method,
        url: U,
        body: Option<Bytes>,
        extra: &[(HeaderName, HeaderValue)],
    ) -> Result<UpstreamResponse, UpstreamError> {
        let busy = Busy::take(&inst.busy);
        let mut rb = self.http.request(method, url);
        for (k, v) in &inst.headers {
            rb = rb.header(k, v);
        }
        for (k, v) in extra {
            rb = rb.header(k, v);
        }
        if let Some(b) = body {
            if !extra.iter().any(|(k, _)| k == http::header::CONTENT_TYPE) {
                rb = rb.header(http::header::CONTENT_TYPE, "application/json");
            }
            rb = rb.body(b);
        }
        let resp = match tokio::time::timeout(self.timeouts.first_byte, rb.send()).await {
            Err(_) => return Err(UpstreamError::FirstByteTimeout),
            Ok(Err(e)) => return Err(classify(&e)),
            Ok(Ok(r)) => r,
        };
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let stream = resp
            .bytes_stream()
            .map(move |r| {
                let _held = &busy;
                r.map_err(|e| classify(&e))
            })
            .boxed();
        Ok(UpstreamResponse {
            status,
            headers,
            body: UpstreamBody::Stream(stream),
        })
    }
}

fn classify(e: &reqwest::Error) -> UpstreamError {
    if e.is_timeout() {
        if e.is_connect() {
            return UpstreamError::Connect("connect timeout".into());
        }
        return UpstreamError::IdleTimeout;
    }
    if e.is_connect() {
        return UpstreamError::Connect(root_cause(e));
    }
    UpstreamError::Io(root_cause(e))
}

/// The innermost error message: never includes the URL (which may hold userinfo).
fn root_cause(e: &reqwest::Error) -> String {
    let mut cur: &dyn std::error::Error = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    let msg = cur.to_string();
    if msg.contains("://") {
        "connection error".to_owned()
    } else {
        msg
    }
}
