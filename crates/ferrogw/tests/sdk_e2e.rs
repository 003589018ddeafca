//! End to end: the real `ferrogw` binary in front of `ferro-mock-upstream`,
//! driven only through the Rust SDK `ferrolabsai` (inference, streams, models and
//! the admin namespace). Lives here, not in the SDK crate, so the SDK's
//! dependency tree never includes the server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ferro_mock_upstream::MockUpstream;
use ferrolabsai::{
    ChatCompletionRequest, ChatMessage, CreateKeyRequest, EmbeddingRequest, Error, FerroClient,
    KeyUsageQuery,
};
use futures_util::StreamExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MASTER: &str = "fgw_e2e_master_key_0123456789";

struct Gateway {
    url: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

async fn start_gateway(upstream: &str) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_ferrogw"))
        .env_clear()
        .env("PORT", port.to_string())
        .env("MASTER_KEY", MASTER)
        .env("OPENAI_API_KEY", "sk-upstream-secret")
        .env("OPENAI_BASE_URL", upstream)
        .env("FERRO_DATA_DIR", dir.path().join("data"))
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = http.get(format!("{url}/health")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(Instant::now() < deadline, "gateway did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Gateway {
        url,
        child,
        _dir: dir,
    }
}

fn client(url: &str, key: &str) -> FerroClient {
    FerroClient::builder()
        .api_key(key)
        .base_url(url)
        .env_lookup(|_| None)
        .build()
        .unwrap()
}

fn chat(text: &str) -> ChatCompletionRequest {
    ChatCompletionRequest::new("gpt-4o-mini", [ChatMessage::user(text)])
}

#[tokio::test]
async fn the_sdk_against_the_real_gateway() {
    let up = MockUpstream::start().await.unwrap();
    let gw = start_gateway(&up.url()).await;
    let c = client(&gw.url, MASTER);

    // Probes.
    let h = c.health().await.unwrap();
    assert!(h.is_healthy(), "{h:?}");
    assert!(c.ready().await.unwrap().is_ok());
    assert_eq!(c.live().await.unwrap().status, "ok");

    // Catalog, client-side.
    let models = c.models().list().await.unwrap();
    assert!(
        models.iter().any(|m| m.id == "gpt-4o-mini"),
        "{} models",
        models.len()
    );
    let m = c.models().retrieve("gpt-4o-mini").await.unwrap();
    assert_eq!(m.owned_by, "openai");
    assert!(m.input_cost_per_token.is_some());
    assert!(!c.models().search("GPT-4O").await.unwrap().is_empty());
    assert!(c
        .models()
        .list_filtered(Some("openai"), None)
        .await
        .unwrap()
        .iter()
        .all(|m| m.owned_by == "openai"));

    // Chat with every extra.
    let r = c
        .chat()
        .completions()
        .create(&chat("hello there"))
        .await
        .unwrap();
    assert!(!r.content().unwrap_or_default().is_empty(), "{r:?}");
    assert_eq!(r.provider.as_ref().unwrap(), "openai");
    assert!(r.trace_id.as_ref().unwrap().is_canonical_trace_id());
    let u = r.usage.as_ref().unwrap();
    assert!(u.total_tokens > 0);
    assert!(u.cost_usd.as_ref().unwrap().value() > 0.0);
    assert_eq!(u.cache_hit, Some(false));
    assert!(r.gateway_overhead_ms.is_some());

    // Streaming with the usage chunk.
    let mut s = c
        .chat()
        .completions()
        .stream(&chat("stream please").include_usage(true))
        .await
        .unwrap();
    let trace = s.trace_id().cloned().unwrap();
    assert!(trace.is_canonical_trace_id());
    let (mut text, mut cost, mut n) = (String::new(), None, 0);
    while let Some(chunk) = s.next().await {
        let chunk = chunk.unwrap();
        n += 1;
        assert_eq!(chunk.trace_id.as_ref(), Some(&trace));
        text.push_str(chunk.content().unwrap_or_default());
        if let Some(u) = &chunk.usage {
            cost = u.cost_usd.as_ref().map(|c| c.value());
        }
    }
    assert!(n > 1 && !text.is_empty(), "{n} chunks: {text:?}");
    assert!(cost.is_some_and(|c| c > 0.0), "usage chunk carries cost");

    // Embeddings (trace id from the header).
    let e = c
        .embeddings()
        .create(&EmbeddingRequest::new(
            "text-embedding-3-small",
            vec!["a", "b"],
        ))
        .await
        .unwrap();
    assert_eq!(e.data.len(), 2);
    assert!(e.data[0]
        .embedding
        .as_floats()
        .is_some_and(|v| !v.is_empty()));
    assert!(e.trace_id.unwrap().is_canonical_trace_id());

    // Error mapping with the gateway's request id.
    let e = client(&gw.url, "fgw_wrong_key_000000000000")
        .chat()
        .completions()
        .create(&chat("x"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Auth(_)), "{e:?}");
    assert_eq!(e.code(), Some("invalid_api_key"));
    assert!(e.request_id().unwrap().is_canonical_trace_id());
    let e = c
        .chat()
        .completions()
        .create(&ChatCompletionRequest::new(
            "no-such-model-xyz",
            [ChatMessage::user("x")],
        ))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "{e:?}");
    assert_eq!(e.code(), Some("model_not_found"));
    let chats_before = up.hits_for("/v1/chat/completions");
    let e = c
        .chat()
        .completions()
        .create(&chat("x").temperature(9.0))
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Api(_)) && e.status() == Some(400),
        "{e:?}"
    );
    assert_eq!(up.hits_for("/v1/chat/completions"), chats_before);

    admin_round_trip(&c).await;
}

/// Keys lifecycle incl. rotation through the SDK; skipped without the admin API.
async fn admin_round_trip(c: &FerroClient) {
    match c.admin().keys().list().await {
        Err(Error::NotFound(_)) => {
            eprintln!("skipping admin: this gateway build has no /admin/keys");
            return;
        }
        Err(e) => panic!("admin keys list: {e:?}"),
        Ok(_) => {}
    }
    let keys = c.admin().keys();
    let created = keys
        .create(&CreateKeyRequest::new("sdk-e2e").scopes(["read_only"]))
        .await
        .unwrap();
    assert!(created.key.expose_secret().starts_with("fgw_"));
    assert!(!format!("{created:?}").contains(created.key.expose_secret()));
    let got = keys.get(&created.id).await.unwrap();
    assert_eq!(got.name, "sdk-e2e");
    assert_ne!(
        got.key.as_deref(),
        Some(created.key.expose_secret()),
        "masked"
    );
    assert!(keys
        .list()
        .await
        .unwrap()
        .iter()
        .any(|k| k.id == created.id));

    // The new key works for inference; a read-only key cannot write admin.
    let svc = c.with_api_key(created.key.clone()).unwrap();
    svc.chat()
        .completions()
        .create(&chat("as a service"))
        .await
        .unwrap();
    let e = svc.admin().keys().rotate(&created.id).await.unwrap_err();
    assert!(matches!(e, Error::Permission(_)), "{e:?}");

    // Rotate: the old secret stops working, the new one works.
    let rotated = keys.rotate(&created.id).await.unwrap();
    assert_eq!(rotated.id, created.id);
    let e = svc
        .chat()
        .completions()
        .create(&chat("old key"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Auth(_)), "{e:?}");
    let svc = svc.with_api_key(rotated.key).unwrap();
    svc.chat()
        .completions()
        .create(&chat("new key"))
        .await
        .unwrap();

    let usage = keys.usage(&KeyUsageQuery::default()).await.unwrap();
    assert!(usage.data.iter().any(|k| k.id == created.id));
    assert!(!c.admin().dashboard().await.unwrap().keys.is_empty());
    assert!(!c.admin().health().await.unwrap().status.is_empty());
    c.admin().config().get().await.unwrap();
    c.admin().config().history().await.unwrap();
    assert!(!c.admin().providers().list().await.unwrap().is_empty());

    keys.revoke(&created.id).await.unwrap();
    let e = svc
        .chat()
        .completions()
        .create(&chat("revoked"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Auth(_)), "{e:?}");
    keys.delete(&created.id).await.unwrap();
    assert!(matches!(
        keys.get(&created.id).await.unwrap_err(),
        Error::NotFound(_)
    ));
}
