//! Embeddings, images, moderations, legacy completions, models, probes and the
//! `/v1/*` pass-through over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use ferro_mock_upstream::{Fault, MockUpstream};
use serde_json::{json, Value};

async fn setup() -> (MockUpstream, Gw) {
    let up = MockUpstream::start().await.unwrap();
    let gw = Gw::start(&[
        ("OPENAI_API_KEY", "sk-proj-verysecretvalue1234"),
        ("OPENAI_BASE_URL", &up.url()),
    ])
    .await;
    (up, gw)
}

#[tokio::test]
async fn embeddings_priced_with_extras() {
    let (up, gw) = setup().await;
    let r = gw
        .post("/v1/embeddings")
        .body(json!({"model":"text-embedding-3-small","input":["a b c","d"]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-gateway-provider"], "openai");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["provider"], "openai");
    assert_eq!(v["trace_id"].as_str().unwrap().len(), 32);
    let c = ferro_types::catalog::Catalog::embedded();
    let p = c
        .get("openai/text-embedding-3-small")
        .unwrap()
        .pricing
        .embedding_per_m_tokens
        .unwrap();
    let expected = v["usage"]["prompt_tokens"].as_f64().unwrap() * p / 1e6;
    assert!((v["usage"]["cost_usd"].as_f64().unwrap() - expected).abs() < 1e-15);
    assert_eq!(up.last_request().unwrap().path, "/v1/embeddings");
    let r = gw
        .post("/v1/embeddings")
        .body(r#"{"model":"text-embedding-3-small"}"#)
        .send()
        .await
        .unwrap();
    let msg = expect_error(r, 400, "invalid_request").await;
    assert!(msg.starts_with("invalid request body: "), "{msg}");
    let r = gw
        .post("/v1/embeddings")
        .body(r#"{"model":"text-embedding-3-small","input":"x","encoding_format":"int8"}"#)
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_request").await;
}

#[tokio::test]
async fn images_and_moderations() {
    let (up, gw) = setup().await;
    let r = gw
        .post("/v1/images/generations")
        .body(r#"{"model":"dall-e-3","prompt":"a cat","n":1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers().get("x-gateway-cost-usd").is_none(),
        "dall-e-3 is unpriced"
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert_eq!(v["provider"], "openai");
    assert_eq!(up.last_request().unwrap().path, "/v1/images/generations");
    let r = gw
        .post("/v1/images/generations")
        .body(r#"{"model":"dall-e-3"}"#)
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_request").await;
    // moderations without a model: the first target offering moderation, default model
    let r = gw
        .post("/v1/moderations")
        .body(r#"{"input":"hello"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["results"][0]["flagged"], false);
    assert_eq!(
        up.last_request().unwrap().body_json().unwrap()["model"],
        "omni-moderation-latest"
    );
    let r = gw
        .post("/v1/moderations")
        .body(r#"{"model":"omni-moderation-latest"}"#)
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_request").await;
}

#[tokio::test]
async fn legacy_completions() {
    let (up, gw) = setup().await;
    let r = gw
        .post("/v1/completions")
        .body(r#"{"model":"gpt-4o-mini","prompt":"Say hi","max_tokens":5,"echo":true,"best_of":3}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-gateway-provider"], "openai");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["object"], "text_completion");
    let text = v["choices"][0]["text"].as_str().unwrap();
    assert!(text.starts_with("Say hi"), "{text}");
    assert!(v["usage"]["cost_usd"].as_f64().unwrap() > 0.0);
    let sent = up.last_request().unwrap();
    assert_eq!(sent.path, "/v1/chat/completions");
    let sent = sent.body_json().unwrap();
    assert_eq!(sent["messages"][0]["content"], "Say hi");
    assert!(sent.get("best_of").is_none());
    let r = gw
        .post("/v1/completions")
        .body(r#"{"model":"gpt-4o-mini","prompt":"x","stream":true}"#)
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "streaming_not_supported").await;
    let r = gw
        .post("/v1/completions")
        .body(r#"{"model":"gpt-4o-mini","prompt":[1,2,3]}"#)
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "unsupported_parameter").await;
}

#[tokio::test]
async fn models_list_and_retrieve() {
    let (up, gw) = setup().await;
    let v: Value = gw
        .get("/v1/models?ignored=1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "list");
    let data = v["data"].as_array().unwrap();
    let mini = data
        .iter()
        .find(|m| m["id"] == "gpt-4o-mini")
        .expect("gpt-4o-mini listed");
    assert_eq!(mini["owned_by"], "openai");
    assert_eq!(mini["object"], "model");
    assert_eq!(mini["pricing"]["input_per_m_tokens"], 0.15);
    let r = gw.get("/v1/models/gpt-4o").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let m: Value = r.json().await.unwrap();
    assert_eq!(m["id"], "gpt-4o");
    assert_eq!(m["context_window"], 128000);
    assert_eq!(m["input_cost_per_token"], 2.5e-6);
    expect_error(
        gw.get("/v1/models/not-a-model").send().await.unwrap(),
        404,
        "model_not_found",
    )
    .await;
    assert_eq!(up.hits(), 0, "models are answered from the catalog");
}

#[tokio::test]
async fn probes() {
    let (up, gw) = setup().await;
    let v: Value = gw
        .client
        .get(format!("{}/health", gw.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["providers"][0]["name"], "openai");
    assert_eq!(v["providers"][0]["circuit"], "closed");
    assert!(v["version"].is_string() && v["commit"].is_string() && v["built"].is_string());
    let v: Value = gw
        .client
        .get(format!("{}/readyz", gw.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "ready");
    assert_eq!(v["targets"][0]["routable"], true);
    let r = gw
        .client
        .head(format!("{}/livez", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(up.hits(), 0, "probes never call upstream");
    // not ready when no target is routable
    let gw2 = Gw::start_with_config(&[], Some("targets:\n  - virtual_key: openai\n")).await;
    let r = gw2
        .client
        .get(format!("{}/readyz", gw2.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["reason"], "no routable targets");
}

#[tokio::test]
async fn passthrough_routes_by_header_or_model_and_strips_credentials() {
    let (up, gw) = setup().await;
    let r = gw
        .get("/v1/files?purpose=batch")
        .header("x-provider", "openai")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-gateway-provider"], "openai");
    let rec = up.last_request().unwrap();
    assert_eq!(rec.path, "/v1/files?purpose=batch");
    assert_eq!(
        rec.header("authorization"),
        Some("Bearer sk-proj-verysecretvalue1234")
    );
    assert_eq!(rec.header("x-provider"), None);
    // by body model
    let r = gw
        .post("/v1/audio/custom")
        .body(r#"{"model":"gpt-4o-mini","x":1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(up.last_request().unwrap().path, "/v1/audio/custom");
    // errors
    expect_error(
        gw.get("/v1/files").send().await.unwrap(),
        400,
        "provider_not_resolved",
    )
    .await;
    expect_error(
        gw.get("/v1/files")
            .header("x-provider", "groq")
            .send()
            .await
            .unwrap(),
        404,
        "provider_not_found",
    )
    .await;
    expect_error(
        gw.post("/v1/other")
            .body(r#"{"model":"nope-nope"}"#)
            .send()
            .await
            .unwrap(),
        404,
        "model_not_found",
    )
    .await;
    let before = up.hits();
    for p in [
        "/v1/files/..%2f..%2fetc",
        "/v1/a/%252e%252e/b",
        "/v1/x/%2E%2E/y",
        "/v1/x/../../y",
    ] {
        let req = format!("GET {p} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nX-Provider: openai\r\nConnection: close\r\n\r\n");
        let (status, text) = raw(&gw, req.as_bytes()).await;
        assert_eq!(status, 400, "{p}: {text}");
        assert!(text.contains("invalid_proxy_path"), "{p}: {text}");
    }
    assert_eq!(
        up.hits(),
        before,
        "traversal refused before any upstream call"
    );
    // upstream error echoing our credential is redacted
    up.push_fault(Fault::Status {
        status: 401,
        body: Some(
            r#"{"error":{"message":"Incorrect API key provided: sk-proj-verysecretvalue1234"}}"#
                .into(),
        ),
        retry_after: None,
    });
    let r = gw
        .get("/v1/files")
        .header("x-provider", "openai")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body = r.text().await.unwrap();
    assert!(!body.contains("verysecretvalue"), "{body}");
    assert!(body.contains("[REDACTED]"));
}

#[tokio::test]
async fn passthrough_refuses_native_and_mock_providers() {
    let gw = Gw::start(&[]).await;
    let r = gw
        .get("/v1/files")
        .header("x-provider", "mock")
        .send()
        .await
        .unwrap();
    expect_error(r, 501, "proxy_not_supported").await;
}
