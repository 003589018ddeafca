//! Test harness: a real gateway on 127.0.0.1:0 over real HTTP, with env vars
//! given per test (never the process env), plus helpers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use ferro_gateway::state::AppState;
use ferro_gateway::{app, prepare, server};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const KEY: &str = "fgw_test_master_key";

pub struct Gw {
    pub url: String,
    pub state: Arc<AppState>,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Gw {
    pub async fn start(env: &[(&str, &str)]) -> Gw {
        Self::start_with_config(env, None).await
    }

    /// Starts a gateway; `config` (YAML) is written to a temp file and named by GATEWAY_CONFIG.
    pub async fn start_with_config(env: &[(&str, &str)], config: Option<&str>) -> Gw {
        Self::start_full(env, config, None).await
    }

    /// Starts a gateway whose request records go to `sink`.
    pub async fn start_full(
        env: &[(&str, &str)],
        config: Option<&str>,
        sink: Option<Arc<dyn ferro_gateway::record::RequestSink>>,
    ) -> Gw {
        let dir = tempfile::tempdir().unwrap();
        let mut map: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.entry("MASTER_KEY".into()).or_insert_with(|| KEY.into());
        map.insert(
            "FERRO_DATA_DIR".into(),
            dir.path().join("data").display().to_string(),
        );
        if let Some(c) = config {
            let p = dir.path().join("config.yaml");
            std::fs::write(&p, c).unwrap();
            map.insert("GATEWAY_CONFIG".into(), p.display().to_string());
        }
        let (mut state, _warnings) = prepare(&move |k| map.get(k).cloned()).unwrap_or_else(|e| {
            panic!("gateway failed to prepare: {e:?}");
        });
        if let Some(s) = sink {
            state.sink = s;
        }
        let state = Arc::new(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let app = app::build(state.clone());
        let task = tokio::spawn(async move {
            server::serve(
                listener,
                app,
                async {
                    let _ = rx.await;
                },
                Duration::from_secs(5),
            )
            .await;
        });
        Gw {
            url: format!("http://{addr}"),
            state,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            stop: Some(tx),
            task,
            _dir: dir,
        }
    }

    /// Signals graceful shutdown (the server task then drains and ends).
    pub fn begin_shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}{}", self.url, path))
            .bearer_auth(KEY)
            .header("content-type", "application/json")
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .get(format!("{}{}", self.url, path))
            .bearer_auth(KEY)
    }

    pub async fn chat(&self, body: serde_json::Value) -> reqwest::Response {
        self.post("/v1/chat/completions")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }
}

/// A minimal chat body.
pub fn chat_body(model: &str, text: &str) -> serde_json::Value {
    serde_json::json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

/// Asserts an OpenAI error envelope with `status` and `code`; returns the message.
pub async fn expect_error(resp: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(resp.status().as_u16(), status, "status");
    assert!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json")),
        "error content type"
    );
    let v: serde_json::Value = resp.json().await.unwrap();
    let e = v["error"].as_object().expect("error object");
    assert_eq!(e.len(), 3, "exactly message/type/code: {v}");
    assert_eq!(e["code"], code, "{v}");
    assert!(e["type"].is_string() && e["message"].is_string());
    e["message"].as_str().unwrap().to_owned()
}

/// Catalog price of `provider/model` as (input, output, cache_read) per million.
pub fn price(key: &str) -> (f64, f64, Option<f64>) {
    let c = ferro_types::catalog::Catalog::embedded();
    let e = c.get(key).expect("catalog entry");
    (
        e.pricing.input_per_m_tokens.unwrap(),
        e.pricing.output_per_m_tokens.unwrap_or(0.0),
        e.pricing.cache_read_per_m_tokens,
    )
}

/// Reads an SSE body into its `data:` payloads.
pub async fn sse_payloads(resp: reqwest::Response) -> Vec<String> {
    let text = resp.text().await.unwrap();
    text.split("\n\n")
        .filter_map(|ev| {
            ev.lines()
                .find_map(|l| l.strip_prefix("data: ").map(str::to_owned))
        })
        .collect()
}

/// Sends raw bytes over one TCP connection and returns (status, full response text).
/// For inputs an HTTP client library would normalise (paths, framing).
pub async fn raw(gw: &Gw, request: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = gw.url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// A sink that keeps every record, for assertions.
#[derive(Default)]
pub struct Captured(pub std::sync::Mutex<Vec<ferro_gateway::record::LogRecord>>);

impl ferro_gateway::record::RequestSink for Captured {
    fn record(&self, rec: ferro_gateway::record::LogRecord) {
        self.0.lock().unwrap().push(rec);
    }
}

impl Captured {
    pub fn all(&self) -> Vec<ferro_gateway::record::LogRecord> {
        self.0.lock().unwrap().clone()
    }
}

// ---- control-plane helpers (admin_*.rs) ----

impl Gw {
    /// Starts a gateway on `data` as FERRO_DATA_DIR (restarts, shared stores);
    /// `env` may override anything, `config` (YAML) becomes GATEWAY_CONFIG.
    pub async fn start_at(
        data: &std::path::Path,
        env: &[(&str, &str)],
        config: Option<&str>,
    ) -> Gw {
        let dir = tempfile::tempdir().unwrap();
        let mut map: HashMap<String, String> = HashMap::new();
        map.insert("MASTER_KEY".into(), KEY.into());
        map.insert("FERRO_DATA_DIR".into(), data.display().to_string());
        if let Some(c) = config {
            let p = dir.path().join("config.yaml");
            std::fs::write(&p, c).unwrap();
            map.insert("GATEWAY_CONFIG".into(), p.display().to_string());
        }
        for (k, v) in env {
            map.insert(k.to_string(), v.to_string());
        }
        let (state, _warnings) = prepare(&move |k: &str| map.get(k).cloned())
            .unwrap_or_else(|e| panic!("gateway failed to prepare: {e:?}"));
        let state = Arc::new(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let app = app::build(state.clone());
        let task = tokio::spawn(async move {
            server::serve(
                listener,
                app,
                async {
                    let _ = rx.await;
                },
                Duration::from_secs(5),
            )
            .await;
        });
        Gw {
            url: format!("http://{addr}"),
            state,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            stop: Some(tx),
            task,
            _dir: dir,
        }
    }

    /// An admin-API request with `key` as the bearer (`None`: no credential).
    pub fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let b = self.client.request(method, format!("{}{}", self.url, path));
        match key {
            Some(k) => b.bearer_auth(k),
            None => b,
        }
    }

    /// `GET path` with `key`, as JSON (asserting 200).
    pub async fn admin_json(&self, path: &str, key: &str) -> serde_json::Value {
        let r = self
            .admin(reqwest::Method::GET, path, Some(key))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.unwrap()
    }

    /// Creates a stored key; returns (id, full secret).
    pub async fn create_key(&self, name: &str, scopes: &[&str]) -> (String, String) {
        let r = self
            .admin(reqwest::Method::POST, "/admin/keys", Some(KEY))
            .json(&serde_json::json!({"name": name, "scopes": scopes}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: serde_json::Value = r.json().await.unwrap();
        (
            v["id"].as_str().unwrap().to_owned(),
            v["key"].as_str().unwrap().to_owned(),
        )
    }

    /// Status of a `/v1/models` call with `key` (200 when the key is usable).
    pub async fn models_status(&self, key: &str) -> u16 {
        self.client
            .get(format!("{}/v1/models", self.url))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

/// Polls `f` every 25 ms until it holds or `within` passes; returns whether it held.
pub async fn eventually<F, Fut>(within: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if f().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
