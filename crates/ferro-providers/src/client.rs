//! The upstream HTTP client: pooled keep-alive connections over rustls (HTTP/2
//! when the server offers it by ALPN), no redirects followed, and separate
//! connect / first-byte / idle timeouts (the total deadline is the caller's
//! `request_timeout`).
//!
//! Requests go straight to hyper-util's pooled client: a URL is parsed once
//! per instance and operation ([`UpstreamUrl`]), the request is built from
//! parts with a precomputed `Host`, and the response head is moved, not
//! copied. reqwest's extra layers (redirect policy, retry budget, URL
//! re-parsing and formatting per request) were ~30 allocations per request.
//! reqwest still serves two cases whose behaviour it owns: a process with a
//! proxy configured in its environment (`HTTPS_PROXY` and friends), and URLs
//! that carry `user:password@` credentials (sent as basic auth); it is also
//! the client handed to adapters for token exchanges ([`UpstreamClient::http`]).

use crate::instance::ProviderInstance;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
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

/// Counts the connector's outcomes (a tower layer under the pool, so it runs
/// once per new connection, never per request).
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

/// An upstream URL parsed for sending: the WHATWG-normalised URL, and when it
/// can go through the direct client, its `http::Uri` and `Host` value (both
/// cheap to clone: they share one buffer).
#[derive(Debug, Clone)]
pub struct UpstreamUrl {
    url: reqwest::Url,
    direct: Option<(Uri, HeaderValue)>,
}

impl UpstreamUrl {
    /// Parses `s` (errors never quote the URL, which may hold credentials).
    pub fn parse(s: &str) -> Result<UpstreamUrl, UpstreamError> {
        let url = reqwest::Url::parse(s)
            .map_err(|e| UpstreamError::Io(format!("invalid upstream URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(UpstreamError::Io(
                "invalid upstream URL: scheme must be http or https".into(),
            ));
        }
        let direct = if url.username().is_empty() && url.password().is_none() {
            let uri = url.as_str().parse::<Uri>().ok();
            let host = uri
                .as_ref()
                .and_then(|u| u.authority())
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok());
            uri.zip(host)
        } else {
            None
        };
        Ok(UpstreamUrl { url, direct })
    }
}

/// Where [`UpstreamClient::send`] sends: a URL parsed once, or text parsed now.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    Parsed(&'a UpstreamUrl),
    Text(&'a str),
}

impl<'a> From<&'a UpstreamUrl> for Target<'a> {
    fn from(u: &'a UpstreamUrl) -> Self {
        Target::Parsed(u)
    }
}

impl<'a> From<&'a str> for Target<'a> {
    fn from(s: &'a str) -> Self {
        Target::Text(s)
    }
}

impl<'a> From<&'a String> for Target<'a> {
    fn from(s: &'a String) -> Self {
        Target::Text(s)
    }
}

type Direct = hyper_util::client::legacy::Client<
    Counted<hyper_rustls::HttpsConnector<HttpConnector>>,
    Full<Bytes>,
>;

/// The shared upstream HTTP client.
#[derive(Clone, Debug)]
pub struct UpstreamClient {
    http: reqwest::Client,
    direct: Direct,
    /// A proxy is configured in the environment: everything goes through reqwest.
    proxied: bool,
    timeouts: Timeouts,
}

/// Proxy variables reqwest honours; when one is set, reqwest sends everything.
const PROXY_VARS: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

impl UpstreamClient {
    pub fn new(timeouts: Timeouts) -> Result<Self, String> {
        let proxied = PROXY_VARS
            .iter()
            .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()));
        Self::build(timeouts, proxied)
    }

    /// A client that sends every request through reqwest (as when a proxy is
    /// configured); for tests of that path.
    pub fn via_reqwest(timeouts: Timeouts) -> Result<Self, String> {
        Self::build(timeouts, true)
    }

    fn build(timeouts: Timeouts, proxied: bool) -> Result<Self, String> {
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
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(timeouts.connect));
        let tls = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(tcp);
        let direct = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_idle_timeout(timeouts.pool_idle)
            .pool_max_idle_per_host(1024)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(Counted(tls));
        Ok(UpstreamClient {
            http,
            direct,
            proxied,
            timeouts,
        })
    }

    /// The underlying reqwest client (for adapters' token exchanges).
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
    pub async fn send<'a>(
        &self,
        inst: &ProviderInstance,
        method: Method,
        url: impl Into<Target<'a>>,
        body: Option<Bytes>,
        extra: &[(HeaderName, HeaderValue)],
    ) -> Result<UpstreamResponse, UpstreamError> {
        let parsed;
        let url = match url.into() {
            Target::Parsed(u) => u,
            Target::Text(s) => {
                parsed = UpstreamUrl::parse(s)?;
                &parsed
            }
        };
        let busy = Busy::take(&inst.busy);
        match (&url.direct, self.proxied) {
            (Some((uri, host)), false) => {
                self.send_direct(inst, method, uri, host, body, extra, busy)
                    .await
            }
            _ => {
                self.send_reqwest(inst, method, url, body, extra, busy)
                    .await
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn send_direct(
        &self,
        inst: &ProviderInstance,
        method: Method,
        uri: &Uri,
        host: &HeaderValue,
        body: Option<Bytes>,
        extra: &[(HeaderName, HeaderValue)],
        busy: Busy,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let has_body = body.is_some();
        let mut req = http::Request::new(Full::new(body.unwrap_or_default()));
        *req.method_mut() = method;
        *req.uri_mut() = uri.clone();
        let h = req.headers_mut();
        h.reserve(inst.headers.len() + extra.len() + 2);
        h.insert(http::header::HOST, host.clone());
        for (k, v) in &inst.headers {
            h.append(k.clone(), v.clone());
        }
        for (k, v) in extra {
            h.append(k.clone(), v.clone());
        }
        if has_body && !extra.iter().any(|(k, _)| k == http::header::CONTENT_TYPE) {
            h.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        let resp =
            match tokio::time::timeout(self.timeouts.first_byte, self.direct.request(req)).await {
                Err(_) => return Err(UpstreamError::FirstByteTimeout),
                Ok(Err(e)) => return Err(classify_direct(&e)),
                Ok(Ok(r)) => r,
            };
        let (head, body) = resp.into_parts();
        let idle = self.timeouts.idle;
        let stream =
            futures_util::stream::unfold((Some(body), busy), move |(body, busy)| async move {
                let mut body = body?;
                loop {
                    match tokio::time::timeout(idle, body.frame()).await {
                        Err(_) => return Some((Err(UpstreamError::IdleTimeout), (None, busy))),
                        Ok(None) => return None,
                        Ok(Some(Err(e))) => {
                            return Some((Err(UpstreamError::Io(root_cause(&e))), (None, busy)))
                        }
                        Ok(Some(Ok(frame))) => {
                            if let Ok(data) = frame.into_data() {
                                return Some((Ok(data), (Some(body), busy)));
                            }
                            // trailers: nothing for the caller
                        }
                    }
                }
            })
            .boxed();
        Ok(UpstreamResponse {
            status: head.status.as_u16(),
            headers: head.headers,
            body: UpstreamBody::Stream(stream),
        })
    }

    async fn send_reqwest(
        &self,
        inst: &ProviderInstance,
        method: Method,
        url: &UpstreamUrl,
        body: Option<Bytes>,
        extra: &[(HeaderName, HeaderValue)],
        busy: Busy,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let mut rb = self.http.request(method, url.url.clone());
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

/// Errors of the direct client: connect failures (incl. the connect timeout)
/// are `Connect`, everything after is `Io`.
fn classify_direct(e: &hyper_util::client::legacy::Error) -> UpstreamError {
    if e.is_connect() {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(c) = cur {
            if let Some(io) = c.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::TimedOut {
                    return UpstreamError::Connect("connect timeout".into());
                }
            }
            cur = c.source();
        }
        return UpstreamError::Connect(root_cause(e));
    }
    UpstreamError::Io(root_cause(e))
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
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
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
