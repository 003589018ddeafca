//! The HTTP server: hyper with strict HTTP/1.1 limits (64 KiB of headers, 10 s
//! to send them), HTTP/2 prior knowledge (h2c), keep-alive, and a bounded
//! graceful shutdown.

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// Header bytes a client may send (request line + headers).
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Time a client has to send its request head.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP/2 connection preface a prior-knowledge (h2c) client sends first.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Whether the connection starts with the HTTP/2 preface, decided by peeking:
/// nothing is consumed, so hyper's first read takes the whole request head into
/// one buffer. (hyper-util's auto builder reads the first 24 bytes itself and
/// hands them back; hyper's next read then found its 8 KB buffer short by those
/// 24 bytes and doubled it — 16 KB held per idle keep-alive connection.)
async fn starts_with_h2_preface(stream: &tokio::net::TcpStream) -> std::io::Result<bool> {
    let mut buf = [0u8; H2_PREFACE.len()];
    loop {
        let n = stream.peek(&mut buf).await?;
        if n == 0 || buf[..n] != H2_PREFACE[..n] {
            return Ok(false);
        }
        if n == H2_PREFACE.len() {
            return Ok(true);
        }
        // a strict prefix of the preface so far: wait for the rest
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting and
/// lets in-flight requests and streams finish for at most `grace`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let mut h1 = hyper::server::conn::http1::Builder::new();
    h1.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEADER_BYTES)
        .max_header_size(MAX_HEADER_BYTES)
        .keep_alive(true);
    let mut h2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    h2.timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    // Connections still waiting for their first bytes when shutdown starts are
    // closed at once rather than waited for (they hold a graceful watcher).
    let (closing, closing_rx) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        // Out of file descriptors and similar: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                // The peer address travels with each request (client-IP resolution).
                let svc = TowerToHyperService::new(app.clone().map_request(
                    move |mut req: http::Request<hyper::body::Incoming>| {
                        req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                        req
                    },
                ));
                let watcher = graceful.watcher();
                let (h1, h2) = (h1.clone(), h2.clone());
                let mut closing = closing_rx.clone();
                tokio::spawn(async move {
                    // the head timeout also bounds the wait for the first bytes
                    let sniff = tokio::time::timeout(
                        HEADER_READ_TIMEOUT,
                        starts_with_h2_preface(&stream),
                    );
                    let sniffed = tokio::select! {
                        r = sniff => r,
                        _ = closing.wait_for(|c| *c) => return,
                    };
                    match sniffed {
                        Ok(Ok(true)) => {
                            // boxed: h2's connection future is about twice h1's,
                            // and unboxed every HTTP/1 connection task would be
                            // sized for it
                            let _ = Box::pin(
                                watcher.watch(h2.serve_connection(TokioIo::new(stream), svc)),
                            )
                            .await;
                        }
                        Ok(Ok(false)) => {
                            let _ = watcher
                                .watch(h1.serve_connection(TokioIo::new(stream), svc))
                                .await;
                        }
                        // silent or broken before its first byte: close
                        _ => {}
                    }
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = closing.send(true);
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!("all connections closed"),
        _ = tokio::time::sleep(grace) => tracing::warn!("shutdown grace period over; closing remaining connections"),
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received: draining");
}
