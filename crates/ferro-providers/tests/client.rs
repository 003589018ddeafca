//! The upstream client over real sockets: what the direct (hyper-util) path
//! puts on the wire, how it streams and times out, how its failures are
//! classified, and the reqwest path it keeps for proxies and URLs with
//! credentials. The server is a raw TCP listener so the request head is seen
//! byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use ferro_providers::client::{Timeouts, UpstreamClient, UpstreamError, UpstreamUrl};
use ferro_providers::mock::MockSettings;
use ferro_providers::ProviderInstance;
use futures_util::StreamExt;
use http::{HeaderName, HeaderValue, Method};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// One scripted answer: response parts written with `gap` between them.
struct Script {
    parts: Vec<&'static str>,
    gap: Duration,
}

/// Serves each connection's requests with the scripts in turn and reports
/// every request head + body it read.
async fn server(scripts: Vec<Script>) -> (String, mpsc::UnboundedReceiver<String>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut scripts = scripts.into_iter();
        while let Ok((mut s, _)) = l.accept().await {
            let tx = tx.clone();
            let Some(script) = scripts.next() else { return };
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // read the head, then the body by content-length
                loop {
                    let n = s.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length: "))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        while buf.len() < end + 4 + len {
                            let n = s.read(&mut chunk).await.unwrap_or(0);
                            if n == 0 {
                                break;
                            }
                            buf.extend_from_slice(&chunk[..n]);
                        }
                        break;
                    }
                }
                let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
                for (i, p) in script.parts.iter().enumerate() {
                    if i > 0 {
                        tokio::time::sleep(script.gap).await;
                    }
                    if s.write_all(p.as_bytes()).await.is_err() {
                        return;
                    }
                }
                // keep the socket open until the client is done
                let _ = s.read(&mut chunk).await;
            });
        }
    });
    (format!("http://{addr}"), rx)
}

fn instance() -> ProviderInstance {
    let mut inst = ProviderInstance::mock("up", MockSettings::default(), Vec::new());
    inst.headers = vec![(
        http::header::AUTHORIZATION,
        HeaderValue::from_static("Bearer sk-upstream"),
    )];
    inst
}

fn timeouts(idle_ms: u64) -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        first_byte: Duration::from_secs(5),
        idle: Duration::from_millis(idle_ms),
        pool_idle: Duration::from_secs(30),
    }
}

const CHUNKED_HEAD: &str =
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";

#[tokio::test]
async fn direct_path_sends_the_head_once_and_streams_chunks_as_they_arrive() {
    let (base, mut seen) = server(vec![Script {
        parts: vec![
            CHUNKED_HEAD,
            "6\r\ndata:1\r\n",
            "6\r\ndata:2\r\n",
            "0\r\n\r\n",
        ],
        gap: Duration::from_millis(150),
    }])
    .await;
    let client = UpstreamClient::new(timeouts(2_000)).unwrap();
    let url = UpstreamUrl::parse(&format!("{base}/v1/chat/completions?x=1")).unwrap();
    let extra = [(
        HeaderName::from_static("traceparent"),
        HeaderValue::from_static("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
    )];
    let resp = client
        .send(
            &instance(),
            Method::POST,
            &url,
            Some(Bytes::from_static(b"{\"model\":\"m\"}")),
            &extra,
        )
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.headers["content-type"], "text/event-stream");
    let req = seen.recv().await.unwrap();
    let host = base.trim_start_matches("http://");
    assert!(
        req.starts_with("POST /v1/chat/completions?x=1 HTTP/1.1\r\n"),
        "{req}"
    );
    let lower = req.to_lowercase();
    assert_eq!(lower.matches("\r\nhost: ").count(), 1, "{req}");
    assert!(lower.contains(&format!("\r\nhost: {host}\r\n")), "{req}");
    assert!(lower.contains("\r\nauthorization: bearer sk-upstream\r\n"));
    assert!(lower.contains("\r\ncontent-type: application/json\r\n"));
    assert!(lower.contains("\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c"));
    assert!(req.ends_with("\r\n\r\n{\"model\":\"m\"}"), "{req}");
    // chunks come one by one, not after the whole body
    let ferro_providers::client::UpstreamBody::Stream(mut s) = resp.body else {
        panic!("stream expected");
    };
    let t0 = std::time::Instant::now();
    assert_eq!(
        s.next().await.unwrap().unwrap(),
        Bytes::from_static(b"data:1")
    );
    let first = t0.elapsed();
    assert_eq!(
        s.next().await.unwrap().unwrap(),
        Bytes::from_static(b"data:2")
    );
    assert!(s.next().await.is_none());
    assert!(
        first < t0.elapsed(),
        "the first chunk arrived before the second"
    );
}

#[tokio::test]
async fn a_stalled_body_is_an_idle_timeout_and_the_stream_ends() {
    let (base, _seen) = server(vec![Script {
        parts: vec![
            concat!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n",
                "transfer-encoding: chunked\r\n\r\n6\r\ndata:1\r\n"
            ),
            "6\r\ndata:2\r\n",
        ],
        gap: Duration::from_secs(5),
    }])
    .await;
    let client = UpstreamClient::new(timeouts(300)).unwrap();
    let resp = client
        .send(&instance(), Method::GET, &format!("{base}/slow"), None, &[])
        .await
        .unwrap();
    let ferro_providers::client::UpstreamBody::Stream(mut s) = resp.body else {
        panic!("stream expected");
    };
    assert!(s.next().await.unwrap().is_ok());
    assert_eq!(
        s.next().await.unwrap().unwrap_err(),
        UpstreamError::IdleTimeout
    );
    assert!(s.next().await.is_none(), "nothing after the error");
}

#[tokio::test]
async fn no_answer_is_a_first_byte_timeout_and_refused_is_a_connect_error() {
    let (base, _seen) = server(vec![Script {
        parts: vec![],
        gap: Duration::ZERO,
    }])
    .await;
    let mut t = timeouts(1_000);
    t.first_byte = Duration::from_millis(300);
    let client = UpstreamClient::new(t).unwrap();
    let err = client
        .send(&instance(), Method::GET, &format!("{base}/x"), None, &[])
        .await
        .unwrap_err();
    assert_eq!(err, UpstreamError::FirstByteTimeout);

    // a port nobody listens on
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let err = client
        .send(
            &instance(),
            Method::GET,
            &format!("http://127.0.0.1:{port}/x"),
            None,
            &[],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, UpstreamError::Connect(_)), "{err:?}");
    assert!(!err.to_string().contains("127.0.0.1"), "no URL in errors");
}

#[tokio::test]
async fn invalid_urls_are_refused_without_echoing_them() {
    let client = UpstreamClient::new(timeouts(1_000)).unwrap();
    for bad in ["not a url", "ftp://secret@host/x", "http://exa mple/"] {
        let err = client
            .send(&instance(), Method::GET, bad, None, &[])
            .await
            .unwrap_err();
        assert!(matches!(err, UpstreamError::Io(_)), "{bad}: {err:?}");
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}

#[tokio::test]
async fn credentials_in_the_url_go_as_basic_auth_through_reqwest() {
    let (base, mut seen) = server(vec![Script {
        parts: vec!["HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"],
        gap: Duration::ZERO,
    }])
    .await;
    let client = UpstreamClient::new(timeouts(1_000)).unwrap();
    let url = base.replace("http://", "http://user:pa%20ss@");
    let resp = client
        .send(
            &instance(),
            Method::GET,
            &format!("{url}/models"),
            None,
            &[],
        )
        .await
        .unwrap();
    let (status, _, body) = resp.into_bytes(1 << 20).await.unwrap();
    assert_eq!((status, &body[..]), (200, &b"ok"[..]));
    let req = seen.recv().await.unwrap().to_lowercase();
    // base64("user:pa ss")
    assert!(
        req.contains("\r\nauthorization: basic dxnlcjpwysbzcw==\r\n"),
        "{req}"
    );
    assert!(req.starts_with("get /models http/1.1\r\n"), "{req}");
}

#[tokio::test]
async fn the_reqwest_path_used_under_a_proxy_sends_the_same_request() {
    let (base, mut seen) = server(vec![Script {
        parts: vec!["HTTP/1.1 201 Created\r\ncontent-length: 5\r\nx-up: 1\r\n\r\nhello"],
        gap: Duration::ZERO,
    }])
    .await;
    let client = UpstreamClient::via_reqwest(timeouts(1_000)).unwrap();
    let resp = client
        .send(
            &instance(),
            Method::POST,
            &format!("{base}/v1/embeddings"),
            Some(Bytes::from_static(b"{}")),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(resp.headers["x-up"], "1");
    let (status, _, body) = resp.into_bytes(1 << 20).await.unwrap();
    assert_eq!((status, &body[..]), (201, &b"hello"[..]));
    let req = seen.recv().await.unwrap().to_lowercase();
    assert!(req.starts_with("post /v1/embeddings http/1.1\r\n"), "{req}");
    assert!(req.contains("\r\nauthorization: bearer sk-upstream\r\n"));
    assert!(req.contains("\r\ncontent-type: application/json\r\n"));
}
