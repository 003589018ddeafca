//! A scripted local HTTP server (axum on 127.0.0.1:0) that records every
//! request and answers with canned statuses, headers and bodies, optionally
//! as timed chunks. Retries, redirects and streaming are proven by counting
//! what reached it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const KEY: &str = "fgw_test_key_0123456789abcdef";

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A canned answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Sent as timed pieces: (delay before the piece, bytes).
    pub chunks: Vec<(Duration, Vec<u8>)>,
    /// Delay before the status line.
    pub delay: Duration,
}

impl Reply {
    pub fn new(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            chunks: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn json(status: u16, body: serde_json::Value) -> Reply {
        Reply::new(status)
            .header("content-type", "application/json")
            .body(body.to_string())
    }

    pub fn text(status: u16, body: &str) -> Reply {
        Reply::new(status).body(body)
    }

    pub fn header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.into(), v.into()));
        self
    }

    pub fn body(mut self, b: impl Into<Vec<u8>>) -> Reply {
        self.chunks = vec![(Duration::ZERO, b.into())];
        self
    }

    /// An SSE body cut into `piece`-byte chunks `gap` apart.
    pub fn sse(body: &str, piece: usize, gap: Duration) -> Reply {
        let mut r = Reply::new(200).header("content-type", "text/event-stream");
        r.chunks = body
            .as_bytes()
            .chunks(piece.max(1))
            .map(|c| (gap, c.to_vec()))
            .collect();
        r
    }

    pub fn delay(mut self, d: Duration) -> Reply {
        self.delay = d;
        self
    }

    /// Appends a piece sent after `gap`.
    pub fn then(mut self, gap: Duration, b: impl Into<Vec<u8>>) -> Reply {
        self.chunks.push((gap, b.into()));
        self
    }
}

/// Decides the reply from the request and how many requests reached the same
/// path before it (0 for the first).
pub type Handler = Arc<dyn Fn(&Recorded, usize) -> Reply + Send + Sync>;

#[derive(Clone)]
struct St {
    handler: Handler,
    log: Arc<Mutex<Vec<Recorded>>>,
}

pub struct Mock {
    pub url: String,
    log: Arc<Mutex<Vec<Recorded>>>,
    _task: tokio::task::JoinHandle<()>,
}

impl Mock {
    pub async fn start(
        handler: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static,
    ) -> Mock {
        let log = Arc::new(Mutex::new(Vec::new()));
        let st = St {
            handler: Arc::new(handler),
            log: log.clone(),
        };
        let app = axum::Router::new().fallback(serve).with_state(st);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Mock {
            url,
            log,
            _task: task,
        }
    }

    /// Always the same reply.
    pub async fn fixed(reply: Reply) -> Mock {
        Mock::start(move |_, _| reply.clone()).await
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap().clone()
    }

    pub fn hits(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    pub fn hits_for(&self, path: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .count()
    }

    pub fn last(&self) -> Recorded {
        self.log.lock().unwrap().last().cloned().expect("a request")
    }

    /// A client for this server with the test key.
    pub fn client(&self) -> ferrolabsai::FerroClient {
        self.builder().build().unwrap()
    }

    pub fn builder(&self) -> ferrolabsai::ClientBuilder {
        ferrolabsai::FerroClient::builder()
            .api_key(KEY)
            .base_url(&self.url)
            .env_lookup(|_| None)
    }
}

async fn serve(
    State(st): State<St>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let rec = Recorded {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers,
        body,
    };
    let nth = {
        let mut log = st.log.lock().unwrap();
        let n = log.iter().filter(|r| r.path == rec.path).count();
        log.push(rec.clone());
        n
    };
    let reply = (st.handler)(&rec, nth);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let chunks = reply.chunks;
    let body = Body::from_stream(
        futures_util::stream::iter(chunks).then(|(gap, b)| async move {
            if !gap.is_zero() {
                tokio::time::sleep(gap).await;
            }
            Ok::<_, Infallible>(Bytes::from(b))
        }),
    );
    let mut resp = Response::builder().status(reply.status);
    for (k, v) in &reply.headers {
        resp = resp.header(k, v);
    }
    resp.body(body).unwrap()
}

/// A minimal chat completion body.
pub fn chat_reply(text: &str) -> serde_json::Value {
    serde_json::json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5,
                  "cost_usd": 0.000012, "cache_hit": false}
    })
}

pub fn chat_req() -> ferrolabsai::ChatCompletionRequest {
    ferrolabsai::ChatCompletionRequest::new("gpt-4o-mini", [ferrolabsai::ChatMessage::user("hi")])
}

pub const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
