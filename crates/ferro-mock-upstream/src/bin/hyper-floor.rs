//! `hyper-floor`: the least a reverse proxy built on hyper holds per in-flight
//! request — a reference point for `bench/`, not a gateway.
//!
//! It does what Ferro's HTTP layer does and nothing else: hyper's HTTP/1.1
//! server with keep-alive, the whole request body read (a gateway has to parse
//! it), one upstream request through hyper-util's pooled client, the response
//! body streamed back. No routing, auth, JSON, logging or plugins; the same
//! allocator as `ferrogw` (jemalloc). The bench runs it beside Ferro at each
//! load point, so the memory and CPU Ferro adds above hyper's own per-connection
//! cost show in the same report.

use bytes::Bytes;
use clap::Parser;
use http::{header, HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(about = "A bare hyper reverse proxy: the per-request memory floor for bench/")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9902")]
    addr: SocketAddr,
    /// Upstream base URL, `http://host:port` (plain HTTP/1.1).
    #[arg(long)]
    upstream: Uri,
}

type Body = Either<Incoming, Full<Bytes>>;

struct Upstream {
    client: Client<HttpConnector, Full<Bytes>>,
    authority: http::uri::Authority,
    host: HeaderValue,
}

fn bad_gateway(why: &'static str) -> Response<Body> {
    let mut r = Response::new(Either::Right(Full::new(Bytes::from_static(why.as_bytes()))));
    *r.status_mut() = StatusCode::BAD_GATEWAY;
    r
}

async fn proxy(up: Arc<Upstream>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let (mut parts, body) = req.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return Ok(bad_gateway("client body"));
    };
    let mut uri = http::uri::Parts::default();
    uri.scheme = Some(http::uri::Scheme::HTTP);
    uri.authority = Some(up.authority.clone());
    uri.path_and_query = parts.uri.path_and_query().cloned();
    let Ok(uri) = Uri::from_parts(uri) else {
        return Ok(bad_gateway("uri"));
    };
    parts.uri = uri;
    parts.headers.insert(header::HOST, up.host.clone());
    match up
        .client
        .request(Request::from_parts(parts, Full::new(body)))
        .await
    {
        Ok(resp) => Ok(resp.map(Either::Left)),
        Err(_) => Ok(bad_gateway("upstream")),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let authority = args
        .upstream
        .authority()
        .cloned()
        .ok_or("--upstream needs host:port")?;
    let host = HeaderValue::from_str(authority.as_str())?;
    let mut tcp = HttpConnector::new();
    tcp.set_nodelay(true);
    let client = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(1024)
        .pool_timer(TokioTimer::new())
        .build(tcp);
    let up = Arc::new(Upstream {
        client,
        authority,
        host,
    });
    let listener = TcpListener::bind(args.addr).await?;
    let mut h1 = hyper::server::conn::http1::Builder::new();
    h1.timer(TokioTimer::new()).keep_alive(true);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let up = up.clone();
        let h1 = h1.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| proxy(up.clone(), req));
            let _ = h1.serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}
