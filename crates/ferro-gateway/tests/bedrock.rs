//! Bedrock end to end: OpenAI-shaped requests through the running gateway to
//! the mock's Converse / ConverseStream (binary event stream) / InvokeModel
//! routes, which — like the real service — check the SigV4 (or Bearer)
//! credential headers and refuse unknown fields and malformed conversations.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use ferro_mock_upstream::{
    Fault, MockUpstream, BEDROCK_CACHE_READ_TOKENS, BEDROCK_CACHE_WRITE_TOKENS,
};
use serde_json::{json, Value};

const MODEL: &str = "anthropic.claude-3-5-haiku-20241022-v1:0";
const CONVERSE: &str = "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse";

async fn setup_sigv4() -> (MockUpstream, Gw) {
    let up = MockUpstream::start().await.unwrap();
    let gw = Gw::start(&[
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        ),
        ("AWS_SESSION_TOKEN", "session-token-example"),
        ("AWS_REGION", "us-west-2"),
        ("BEDROCK_BASE_URL", &up.url()),
    ])
    .await;
    (up, gw)
}

fn price() -> (f64, f64, f64, f64) {
    let c = ferro_types::catalog::Catalog::embedded();
    let p = &c.get(&format!("bedrock/{MODEL}")).unwrap().pricing;
    (
        p.input_per_m_tokens.unwrap(),
        p.output_per_m_tokens.unwrap(),
        p.cache_read_per_m_tokens.unwrap(),
        p.cache_write_per_m_tokens.unwrap(),
    )
}

fn expected_cost(u: &Value) -> f64 {
    let (pin, pout, pread, pwrite) = price();
    let n = |k: &str| u[k].as_f64().unwrap_or(0.0);
    let (read, write) = (n("cache_read_tokens"), n("cache_write_tokens"));
    ((n("prompt_tokens") - read - write) * pin
        + read * pread
        + write * pwrite
        + n("completion_tokens") * pout)
        / 1e6
}

fn tools() -> Value {
    json!([
        {"type": "function", "function": {"name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
        {"type": "function", "function": {"name": "get_time",
            "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}}
    ])
}

async fn chunks(resp: reqwest::Response) -> Vec<Value> {
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut p = sse_payloads(resp).await;
    assert_eq!(p.pop().as_deref(), Some("[DONE]"));
    p.iter().map(|s| serde_json::from_str(s).unwrap()).collect()
}

fn content_of(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c.pointer("/choices/0/delta/content")?.as_str())
        .collect()
}

#[tokio::test]
async fn chat_is_signed_translated_and_priced() {
    let (up, gw) = setup_sigv4().await;
    let mut body = chat_body(MODEL, "hello there");
    body["x_vendor_extension"] = json!({"a": 1}); // never reaches Converse
    let resp = gw.chat(body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-gateway-provider"], "bedrock");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "mock reply to: hello there"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    let cost = v["usage"]["cost_usd"].as_f64().unwrap();
    assert!(
        (cost - expected_cost(&v["usage"])).abs() < 1e-12,
        "{}",
        v["usage"]
    );
    let rec = up.last_request().unwrap();
    assert_eq!(rec.path, CONVERSE);
    let auth = rec.header("authorization").unwrap();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
            && auth.contains("/us-west-2/bedrock/aws4_request, SignedHeaders=")
            && auth.contains("x-amz-security-token"),
        "{auth}"
    );
    assert_eq!(
        rec.header("x-amz-security-token"),
        Some("session-token-example")
    );
    assert_eq!(rec.header("x-amz-date").map(str::len), Some(16));
    let sent = rec.body_json().unwrap();
    assert!(sent.get("model").is_none() && sent.get("x_vendor_extension").is_none());
    assert_eq!(sent["messages"][0]["content"][0]["text"], "hello there");
}

#[tokio::test]
async fn bearer_api_key_is_sent_instead_of_a_signature() {
    let up = MockUpstream::start().await.unwrap();
    let gw = Gw::start(&[
        ("AWS_BEARER_TOKEN_BEDROCK", "bedrock-api-key-123"),
        ("BEDROCK_BASE_URL", &up.url()),
    ])
    .await;
    let resp = gw.chat(chat_body(MODEL, "hi")).await;
    assert_eq!(resp.status(), 200);
    let rec = up.last_request().unwrap();
    assert_eq!(
        rec.header("authorization"),
        Some("Bearer bedrock-api-key-123")
    );
    assert_eq!(rec.header("x-amz-date"), None);
    // The key never comes back, even in an echoed upstream error.
    up.push_fault(Fault::Status {
        status: 400,
        body: Some(r#"{"message":"bad key bedrock-api-key-123"}"#.into()),
        retry_after: None,
    });
    let resp = gw.chat(chat_body(MODEL, "hi")).await;
    let msg = expect_error(resp, 400, "invalid_request").await;
    assert!(!msg.contains("bedrock-api-key-123"), "{msg}");
}

#[tokio::test]
async fn stream_decodes_the_event_stream_with_usage_and_cost() {
    let (up, gw) = setup_sigv4().await;
    let mut body = chat_body(MODEL, "tell me a story");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let c = chunks(gw.chat(body.clone()).await).await;
    assert_eq!(c[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(content_of(&c), "mock reply to: tell me a story");
    let last = c.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    let cost = last["usage"]["cost_usd"].as_f64().unwrap();
    assert!((cost - expected_cost(&last["usage"])).abs() < 1e-12);
    assert!(up
        .last_request()
        .unwrap()
        .path
        .ends_with("/converse-stream"));
    assert_eq!(
        up.last_request().unwrap().header("accept"),
        Some("application/vnd.amazon.eventstream")
    );
    // Same exchange, not streamed: identical usage.
    body["stream"] = json!(false);
    body.as_object_mut().unwrap().remove("stream_options");
    let v: Value = gw.chat(body).await.json().await.unwrap();
    assert_eq!(v["usage"], last["usage"]);
}

#[tokio::test]
async fn parallel_tool_calls_stream_with_distinct_indices_and_round_trip() {
    let (_up, gw) = setup_sigv4().await;
    let mut body = chat_body(MODEL, "use tool: call two tools");
    body["tools"] = tools();
    body["stream"] = json!(true);
    let c = chunks(gw.chat(body).await).await;
    let starts: Vec<&Value> = c
        .iter()
        .filter_map(|c| c.pointer("/choices/0/delta/tool_calls/0"))
        .filter(|t| t.get("id").is_some())
        .collect();
    assert_eq!(starts.len(), 2);
    assert_eq!(
        (starts[0]["index"].as_u64(), starts[1]["index"].as_u64()),
        (Some(0), Some(1))
    );
    let finish = c.iter().find_map(|c| {
        c.pointer("/choices/0/finish_reason")
            .filter(|f| !f.is_null())
    });
    assert_eq!(finish, Some(&json!("tool_calls")));

    // Non-streamed call, then the results go back: Converse accepts the turn.
    let mut body = chat_body(MODEL, "use tool please");
    body["tools"] = tools();
    body["tool_choice"] = json!("required");
    let v: Value = gw.chat(body.clone()).await.json().await.unwrap();
    let call = v["choices"][0]["message"]["tool_calls"][0].clone();
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    body.as_object_mut().unwrap().remove("tool_choice");
    let msgs = body["messages"].as_array_mut().unwrap();
    msgs.push(json!({"role": "assistant", "content": null, "tool_calls": [call.clone()]}));
    msgs.push(json!({"role": "tool", "tool_call_id": call["id"], "content": "sunny"}));
    let resp = gw.chat(body).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "mock reply to: sunny"
    );
}

#[tokio::test]
async fn cache_points_are_priced_at_cache_rates() {
    let (_up, gw) = setup_sigv4().await;
    let body = json!({"model": MODEL, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "long cached context", "cache_control": {"type": "ephemeral"}}]}]});
    let v: Value = gw.chat(body).await.json().await.unwrap();
    let u = &v["usage"];
    assert_eq!(u["cache_read_tokens"], BEDROCK_CACHE_READ_TOKENS);
    assert_eq!(u["cache_write_tokens"], BEDROCK_CACHE_WRITE_TOKENS);
    assert!(
        u["prompt_tokens"].as_u64().unwrap()
            > BEDROCK_CACHE_READ_TOKENS + BEDROCK_CACHE_WRITE_TOKENS
    );
    let cost = u["cost_usd"].as_f64().unwrap();
    assert!((cost - expected_cost(u)).abs() < 1e-12, "{u}");
}

#[tokio::test]
async fn embeddings_titan_and_cohere_are_priced() {
    let (up, gw) = setup_sigv4().await;
    let resp = gw
        .post("/v1/embeddings")
        .body(json!({"model": "amazon.titan-embed-text-v2:0", "input": "hello world", "dimensions": 4}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["data"][0]["embedding"].as_array().unwrap().len(), 4);
    assert!(v["usage"]["cost_usd"].as_f64().unwrap() > 0.0);
    assert_eq!(
        up.last_request().unwrap().path,
        "/model/amazon.titan-embed-text-v2%3A0/invoke"
    );
    let resp = gw
        .post("/v1/embeddings")
        .body(json!({"model": "cohere.embed-english-v3", "input": ["a b c d", "e"]}).to_string())
        .send()
        .await
        .unwrap();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() >= 2);
    // Titan takes one input per call: a batch is refused before any call.
    let hits = up.hits();
    let resp = gw
        .post("/v1/embeddings")
        .body(json!({"model": "amazon.titan-embed-text-v2:0", "input": ["a", "b"]}).to_string())
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, "invalid_request").await;
    assert_eq!(up.hits(), hits);
}

#[tokio::test]
async fn vendor_errors_and_stream_exceptions() {
    let (up, gw) = setup_sigv4().await;
    // Explicit instance prefix reaches model ids the catalog does not list.
    let resp = gw
        .chat(chat_body("bedrock/anthropic.throttle-test-v1:0", "hi"))
        .await;
    expect_error(resp, 429, "rate_limit_exceeded").await;
    up.push_fault(Fault::Status {
        status: 403,
        body: Some(
            r#"{"message":"The security token included in the request is invalid."}"#.into(),
        ),
        retry_after: None,
    });
    let resp = gw.chat(chat_body(MODEL, "hi")).await;
    expect_error(resp, 502, "upstream_auth_error").await;
    let mut body = chat_body("bedrock/mistral.stream-error-v1:0", "hi");
    body["stream"] = json!(true);
    let resp = gw.chat(body).await;
    assert_eq!(resp.status(), 200);
    let p = sse_payloads(resp).await;
    let last: Value = serde_json::from_str(p.last().unwrap()).unwrap();
    assert!(last.get("error").is_some(), "{p:?}");
    assert!(!p.iter().any(|s| s == "[DONE]"));
}

#[tokio::test]
async fn unsupported_params_follow_the_compatibility_policy() {
    let up = MockUpstream::start().await.unwrap();
    let cfg =
        "targets:\n  - virtual_key: bedrock\ncompatibility:\n  on_unsupported_param: reject\n";
    let gw = Gw::start_with_config(
        &[
            ("AWS_BEARER_TOKEN_BEDROCK", "k"),
            ("BEDROCK_BASE_URL", &up.url()),
        ],
        Some(cfg),
    )
    .await;
    let mut body = chat_body(MODEL, "hi");
    body["seed"] = json!(7);
    let msg = expect_error(gw.chat(body).await, 400, "unsupported_parameter").await;
    assert!(msg.contains("seed"), "{msg}");
    assert_eq!(up.hits(), 0);
    let mut body = chat_body(MODEL, "hi");
    body["n"] = json!(1); // OpenAI's default: not a use
    assert_eq!(gw.chat(body).await.status(), 200);
}

#[tokio::test]
async fn named_instance_with_its_own_region_and_keys() {
    let up = MockUpstream::start().await.unwrap();
    let cfg = format!(
        "providers:\n  - name: bedrock-eu\n    type: bedrock\n    region: eu-west-1\n    \
         aws_access_key_id: ${{EU_KEY}}\n    aws_secret_access_key: ${{EU_SECRET}}\n    \
         base_url: {}\ntargets:\n  - virtual_key: bedrock-eu\n",
        up.url()
    );
    let gw =
        Gw::start_with_config(&[("EU_KEY", "AKIDEU"), ("EU_SECRET", "s3cr3t")], Some(&cfg)).await;
    let resp = gw.chat(chat_body(MODEL, "bonjour")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-gateway-provider"], "bedrock-eu");
    let auth = up
        .last_request()
        .unwrap()
        .header("authorization")
        .unwrap()
        .to_owned();
    assert!(
        auth.contains("Credential=AKIDEU/") && auth.contains("/eu-west-1/bedrock/aws4_request"),
        "{auth}"
    );
    let caps: Value = gw
        .get("/v1/capabilities")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(caps["providers"]["bedrock-eu"]["seed"], "unsupported");
}
