//! Chat over real HTTP against a local OpenAI-wire mock upstream: extras, cost,
//! verbatim forwarding, model resolution, base-URL rule, named instances.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use ferro_mock_upstream::MockUpstream;
use serde_json::{json, Value};

#[tokio::test]
async fn chat_extras_and_exact_cost() {
    let up = MockUpstream::start().await.unwrap();
    let gw = Gw::start(&[
        ("OPENAI_API_KEY", "sk-upstream-secret-123"),
        ("OPENAI_BASE_URL", &up.url()),
    ])
    .await;
    let resp = gw.chat(chat_body("gpt-4o-mini", "hello there")).await;
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    let v: Value = resp.json().await.unwrap();
    let trace = h["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(trace.len(), 32);
    assert_eq!(v["trace_id"], trace.as_str());
    assert_eq!(v["provider"], "openai");
    assert_eq!(h["x-gateway-provider"], "openai");
    assert_eq!(h["x-gateway-target"], "openai");
    assert_eq!(h["x-gateway-model"], "gpt-4o-mini");
    assert_eq!(h["x-gateway-attempts"], "1");
    assert_eq!(h["x-gateway-cache"], "miss");
    let overhead: f64 = h["x-gateway-overhead-ms"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(overhead > 0.0);
    let (pin, pout, _) = price("openai/gpt-4o-mini");
    let u = &v["usage"];
    let expected = (u["prompt_tokens"].as_f64().unwrap() * pin
        + u["completion_tokens"].as_f64().unwrap() * pout)
        / 1e6;
    let got = u["cost_usd"].as_f64().unwrap();
    assert!((got - expected).abs() < 1e-12, "{got} vs {expected}");
    let header_cost: f64 = h["x-gateway-cost-usd"].to_str().unwrap().parse().unwrap();
    assert!((header_cost - expected).abs() < 1e-12);
    assert_eq!(u["cache_hit"], false);
    // upstream saw the provider credential, not the gateway key
    let rec = up.last_request().unwrap();
    assert_eq!(rec.path, "/v1/chat/completions");
    assert_eq!(
        rec.header("authorization"),
        Some("Bearer sk-upstream-secret-123")
    );
}

#[tokio::test]
async fn cached_tokens_are_priced_at_cache_rate() {
    let up = MockUpstream::start().await.unwrap();
    let gw = Gw::start(&[("OPENAI_API_KEY", "sk-x"), ("OPENAI_BASE_URL", &up.url())]).await;
    let usage = json!({"prompt_tokens":1000,"completion_tokens":100,"total_tokens":1100,
        "prompt_tokens_details":{"cached_tokens":600},"completion_tokens_details":{"reasoning_tokens":0}});
    let canned = json!({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o",
        "choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],
        "usage":usage});
    up.push_fault(ferro_mock_upstream::Fault::Status {
        status: 200,
        body: Some(canned.to_string()),
        retry_after: None,
    });
    let resp = gw.chat(chat_body("gpt-4o", "hi")).await;
    let v: Value = resp.json().await.unwrap();
    let (pin, pout, pcache) = price("openai/gpt-4o");
    let expected = (400.0 * pin + 600.0 * pcache.unwrap() + 100.0 * pout) / 1e6;
    assert!(
        (v["usage"]["cost_usd"].as_f64().unwrap() - expected).abs() < 1e-12,
        "{v}"
    );
    // details are forwarded verbatim
    assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 600);
}

#[tokio::test]
async fn unknown_fields_forwarded_verbatim_and_max_tokens_promoted() {
    let up = MockUpstream::start().await.unwrap();
    let gw = Gw::start(&[("OPENAI_API_KEY", "sk-x"), ("OPENAI_BASE_URL", &up.url())]).await;
    let raw = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}],"vendor_ext":{"a":[1, 2.50]},"max_tokens":9}"#;
    let resp = gw
        .post("/v1/chat/completions")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body = up.last_request().unwrap().body_text();
    assert!(body.contains(r#""vendor_ext":{"a":[1, 2.50]}"#), "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["max_completion_tokens"], 9);
    assert!(v.get("max_tokens").is_none());
}

#[tokio::test]
async fn unchanged_bodies_are_sent_byte_for_byte() {
    let up = MockUpstream::start().await.unwrap();
    let gw = Gw::start(&[("MISTRAL_API_KEY", "k"), ("MISTRAL_BASE_URL", &up.url())]).await;
    let raw = r#"{"model":"mistral-large-latest",  "messages":[{"role":"user","content":"x"}]}"#;
    let resp = gw
        .post("/v1/chat/completions")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(up.last_request().unwrap().body_text(), raw);
}

#[tokio::test]
async fn aliases_prefix_and_named_instances() {
    let a = MockUpstream::start().await.unwrap();
    let b = MockUpstream::start().await.unwrap();
    let cfg = format!(
        r#"
providers:
  - name: eu
    type: openai
    base_url: {b}/custom/v1
    api_key: ${{EU_KEY}}
    headers: {{x-team: ml}}
    models: [eu-only-model]
targets:
  - virtual_key: openai
  - virtual_key: eu
aliases:
  fast: gpt-4o-mini
"#,
        b = b.url()
    );
    let gw = Gw::start_with_config(
        &[
            ("OPENAI_API_KEY", "sk-a"),
            ("OPENAI_BASE_URL", &a.url()),
            ("EU_KEY", "sk-eu"),
        ],
        Some(&cfg),
    )
    .await;
    // alias → model sent upstream is the target
    let r = gw.chat(chat_body("fast", "x")).await;
    assert_eq!(r.headers()["x-gateway-model"], "gpt-4o-mini");
    assert_eq!(
        a.last_request().unwrap().body_json().unwrap()["model"],
        "gpt-4o-mini"
    );
    // named instance: its own models, path used verbatim, its key and headers
    let r = gw.chat(chat_body("eu-only-model", "x")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-gateway-provider"], "eu");
    let rec = b.last_request().unwrap();
    assert_eq!(rec.path, "/custom/v1/chat/completions");
    assert_eq!(rec.header("authorization"), Some("Bearer sk-eu"));
    assert_eq!(rec.header("x-team"), Some("ml"));
    // explicit provider prefix: not in the index, prefix names an instance
    let r = gw.chat(chat_body("eu/brand-new-model", "x")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        b.last_request().unwrap().body_json().unwrap()["model"],
        "brand-new-model"
    );
    // unknown model: 404 without any upstream call
    let before = a.hits() + b.hits();
    let r = gw.chat(chat_body("no-such-model-xyz", "x")).await;
    expect_error(r, 404, "model_not_found").await;
    assert_eq!(a.hits() + b.hits(), before);
}

#[tokio::test]
async fn base_url_rule_bare_host_vs_path() {
    let up = MockUpstream::start().await.unwrap();
    // groq default root is /openai/v1; a bare host gets only /v1
    let gw = Gw::start(&[("GROQ_API_KEY", "gsk"), ("GROQ_BASE_URL", &up.url())]).await;
    assert_eq!(
        gw.chat(chat_body("llama-3.3-70b-versatile", "x"))
            .await
            .status(),
        200
    );
    assert_eq!(up.last_request().unwrap().path, "/v1/chat/completions");
    // a URL with a path is used verbatim
    let gw = Gw::start(&[
        ("GROQ_API_KEY", "gsk"),
        ("GROQ_BASE_URL", &format!("{}/openai/v1/", up.url())),
    ])
    .await;
    assert_eq!(
        gw.chat(chat_body("llama-3.3-70b-versatile", "x"))
            .await
            .status(),
        200
    );
    assert_eq!(
        up.last_request().unwrap().path,
        "/openai/v1/chat/completions"
    );
}

#[tokio::test]
async fn azure_openai_deployment_path_and_api_key_header() {
    let up = MockUpstream::start().await.unwrap();
    let gw = Gw::start(&[
        ("AZURE_OPENAI_API_KEY", "az-key-123456"),
        ("AZURE_OPENAI_ENDPOINT", &up.url()),
        ("AZURE_OPENAI_DEPLOYMENT", "prod-4o"),
    ])
    .await;
    let r = gw.chat(chat_body("prod-4o", "x")).await;
    assert_eq!(r.status(), 200);
    let rec = up.last_request().unwrap();
    assert_eq!(
        rec.path,
        "/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(rec.header("api-key"), Some("az-key-123456"));
    assert_eq!(rec.header("authorization"), None);
}

#[tokio::test]
async fn builtin_mock_serves_without_keys() {
    let gw = Gw::start(&[]).await;
    let r = gw.chat(chat_body("gpt-4o-mini", "ping")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-gateway-provider"], "mock");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["provider"], "mock");
    assert!(v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .contains("mock"));
    assert!(v["usage"]["cost_usd"].as_f64().unwrap() > 0.0);
}
