//! Gemini and Vertex AI end to end: OpenAI-shaped requests through the running
//! gateway to the mock's Google wires (which, like the real APIs, check the API
//! key or an OAuth token it issued and refuse unknown fields).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use ferro_mock_upstream::{Fault, MockUpstream, GEMINI_BAD_KEY};
use serde_json::{json, Value};

const MODEL: &str = "gemini-2.0-flash";

async fn setup() -> (MockUpstream, Gw) {
    let up = MockUpstream::start().await.unwrap();
    let gw = Gw::start(&[("GEMINI_API_KEY", "k"), ("GEMINI_BASE_URL", &up.url())]).await;
    (up, gw)
}

/// The last request the mock saw on a Google method path.
fn last_google(up: &MockUpstream) -> ferro_mock_upstream::RecordedRequest {
    up.requests()
        .into_iter()
        .rev()
        .find(|r| r.path.contains(':'))
        .expect("a Google request")
}

fn expected_cost(u: &Value, key: &str) -> f64 {
    let (pin, pout, pread) = price(key);
    let n = |k: &str| u[k].as_f64().unwrap_or(0.0);
    let read = n("cache_read_tokens");
    match pread {
        Some(r) => {
            ((n("prompt_tokens") - read) * pin + read * r + n("completion_tokens") * pout) / 1e6
        }
        None => (n("prompt_tokens") * pin + n("completion_tokens") * pout) / 1e6,
    }
}

fn tools() -> Value {
    json!([
        {"type": "function", "function": {"name": "get_weather", "description": "Weather by city",
            "parameters": {"type": "object", "additionalProperties": false,
                           "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
        {"type": "function", "function": {"name": "get_time",
            "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}}
    ])
}

async fn stream_chunks(gw: &Gw, body: Value) -> Vec<Value> {
    let resp = gw.chat(body).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let payloads = sse_payloads(resp).await;
    assert_eq!(payloads.last().map(String::as_str), Some("[DONE]"));
    payloads[..payloads.len() - 1]
        .iter()
        .map(|p| serde_json::from_str(p).unwrap())
        .collect()
}

#[tokio::test]
async fn chat_translates_both_ways_and_prices() {
    let (up, gw) = setup().await;
    let resp = gw
        .chat(
            json!({"model": MODEL, "temperature": 0.2, "max_tokens": 100, "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello, Gemini"}]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-gateway-provider"], "gemini");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["provider"], "gemini");
    assert_eq!(v["model"], MODEL);
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "[gemini mock] You said: Hello, Gemini"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    let u = &v["usage"];
    assert!(u["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(
        u["total_tokens"].as_u64().unwrap(),
        u["prompt_tokens"].as_u64().unwrap() + u["completion_tokens"].as_u64().unwrap()
    );
    let cost = u["cost_usd"].as_f64().unwrap();
    assert!(
        (cost - expected_cost(u, "gemini/gemini-2.0-flash")).abs() < 1e-12,
        "{u}"
    );
    let r = last_google(&up);
    assert_eq!(r.path, "/v1beta/models/gemini-2.0-flash:generateContent");
    assert_eq!(r.header("x-goog-api-key"), Some("k"));
    assert!(r.header("authorization").is_none());
    let sent = r.body_json().unwrap();
    assert_eq!(sent["systemInstruction"]["parts"][0]["text"], "Be brief.");
    assert_eq!(
        sent["generationConfig"],
        json!({"temperature": 0.2, "maxOutputTokens": 100})
    );
    assert!(sent.get("model").is_none() && sent.get("messages").is_none());
}

#[tokio::test]
async fn stream_and_whole_report_the_same_usage_and_cost() {
    let (up, gw) = setup().await;
    let body = json!({"model": MODEL, "messages": [{"role": "user", "content": "Tell me a story about a lighthouse"}]});
    let whole: Value = gw.chat(body.clone()).await.json().await.unwrap();
    let mut sbody = body.clone();
    sbody["stream"] = json!(true);
    sbody["stream_options"] = json!({"include_usage": true});
    let chunks = stream_chunks(&gw, sbody).await;
    assert_eq!(
        last_google(&up).path,
        "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse"
    );
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, whole["choices"][0]["message"]["content"]);
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let fin: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"].get(0))
        .map(|c| &c["finish_reason"])
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(fin, vec!["stop"]);
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    let (su, wu) = (&last["usage"], &whole["usage"]);
    for k in ["prompt_tokens", "completion_tokens", "total_tokens"] {
        assert_eq!(su[k], wu[k], "{k}");
    }
    assert_eq!(su["cost_usd"], wu["cost_usd"]);
    assert!(su["cost_usd"].as_f64().unwrap() > 0.0);

    // Without include_usage the client gets no usage chunk.
    let mut sbody = body;
    sbody["stream"] = json!(true);
    let chunks = stream_chunks(&gw, sbody).await;
    assert!(
        chunks.iter().all(|c| c.get("usage").is_none()),
        "{chunks:?}"
    );
    assert!(chunks
        .iter()
        .all(|c| !c["choices"].as_array().unwrap().is_empty()));
}

#[tokio::test]
async fn tools_round_trip_with_stable_ids() {
    let (up, gw) = setup().await;
    let ask = json!({"model": MODEL, "tools": tools(), "messages": [
        {"role": "user", "content": "Please use all tools for Paris"}]});
    let v: Value = gw.chat(ask.clone()).await.json().await.unwrap();
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert!(choice["message"]["content"].is_null());
    let calls = choice["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2, "parallel calls");
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    assert_eq!(calls[0]["function"]["arguments"], r#"{"city":"mock"}"#);
    assert!(calls[0]["id"].as_str().unwrap().starts_with("call_"));
    assert_ne!(calls[0]["id"], calls[1]["id"]);
    // The upstream saw sanitised declarations (no additionalProperties).
    let sent = last_google(&up).body_json().unwrap();
    let decl = &sent["tools"][0]["functionDeclarations"][0];
    assert!(decl["parameters"].get("additionalProperties").is_none());

    // Send the calls back with their results.
    let back = json!({"model": MODEL, "tools": tools(), "messages": [
        {"role": "user", "content": "Please use all tools for Paris"},
        choice["message"].clone(),
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": "{\"temp\": 21}"},
        {"role": "tool", "tool_call_id": calls[1]["id"], "content": "noon"}]});
    let v: Value = gw.chat(back).await.json().await.unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "[gemini mock] tool results: get_weather, get_time"
    );
    let sent = last_google(&up).body_json().unwrap();
    let turn = &sent["contents"][2];
    assert_eq!(turn["role"], "user");
    assert_eq!(
        turn["parts"][0]["functionResponse"]["response"],
        json!({"temp": 21})
    );
    assert_eq!(turn["parts"][1]["functionResponse"]["name"], "get_time");

    // Streamed: whole calls, indexed by ordinal, finish tool_calls.
    let mut s = ask;
    s["stream"] = json!(true);
    s["tool_choice"] = json!({"type": "function", "function": {"name": "get_time"}});
    let chunks = stream_chunks(&gw, s).await;
    let deltas: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].as_array())
        .flatten()
        .collect();
    assert_eq!(deltas.len(), 1, "the named tool only");
    assert_eq!(deltas[0]["index"], 0);
    assert_eq!(deltas[0]["function"]["name"], "get_time");
    assert!(chunks
        .iter()
        .any(|c| c["choices"][0]["finish_reason"] == "tool_calls"));
}

#[tokio::test]
async fn json_mode_and_vision_reach_gemini_as_native_fields() {
    let (up, gw) = setup().await;
    let resp = gw
        .chat(json!({"model": MODEL,
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {
                "type": "object", "additionalProperties": false,
                "properties": {"echo": {"type": "string"}}, "required": ["echo"]}}},
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "describe"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}]}))
        .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let content: Value =
        serde_json::from_str(v["choices"][0]["message"]["content"].as_str().unwrap()).unwrap();
    assert_eq!(content, json!({"echo": "describe"}));
    let sent = last_google(&up).body_json().unwrap();
    assert_eq!(
        sent["generationConfig"]["responseMimeType"],
        "application/json"
    );
    assert_eq!(
        sent["contents"][0]["parts"][1]["inlineData"],
        json!({"mimeType": "image/png", "data": "iVBORw0KGgo="})
    );
}

#[tokio::test]
async fn embeddings_single_and_batch() {
    let (up, gw) = setup().await;
    let model = "gemini-embedding-001";
    let resp = gw
        .post("/v1/embeddings")
        .body(json!({"model": model, "input": "hello world", "dimensions": 16}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"][0]["embedding"].as_array().unwrap().len(), 16);
    assert_eq!(
        v["usage"]["prompt_tokens"], 3,
        "estimated: 11 chars / 4, rounded up"
    );
    assert!(v["usage"]["cost_usd"].as_f64().unwrap() > 0.0);
    assert_eq!(
        last_google(&up).path,
        "/v1beta/models/gemini-embedding-001:embedContent"
    );

    let resp = gw
        .post("/v1/embeddings")
        .body(
            json!({"model": model, "input": ["a", "b", "c"], "encoding_format": "base64"})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    assert_eq!(data[2]["index"], 2);
    assert!(data[0]["embedding"].is_string(), "base64 encoding honoured");
    assert_eq!(
        last_google(&up).path,
        "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    );

    let resp = gw
        .post("/v1/embeddings")
        .body(json!({"model": model, "input": [[1, 2, 3]]}).to_string())
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, "unsupported_parameter").await;
}

#[tokio::test]
async fn upstream_errors_are_mapped() {
    let (up, _gw) = setup().await;
    // An invalid key is the gateway's credential problem, not the client's.
    let gw = Gw::start(&[
        ("GEMINI_API_KEY", GEMINI_BAD_KEY),
        ("GEMINI_BASE_URL", &up.url()),
    ])
    .await;
    let resp = gw.chat(chat_body(MODEL, "hi")).await;
    expect_error(resp, 502, "upstream_auth_error").await;
    let mut s = chat_body(MODEL, "hi");
    s["stream"] = json!(true);
    expect_error(gw.chat(s).await, 502, "upstream_auth_error").await;

    let (up, gw) = setup().await;
    up.push_fault(Fault::Status {
        status: 429,
        body: Some(r#"{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}"#.into()),
        retry_after: None,
    });
    let msg = expect_error(
        gw.chat(chat_body(MODEL, "hi")).await,
        429,
        "rate_limit_exceeded",
    )
    .await;
    assert!(msg.contains("exhausted"), "{msg}");
    up.push_fault(Fault::Status {
        status: 400,
        body: Some(r#"{"error":{"code":400,"message":"Request contains an invalid argument.","status":"INVALID_ARGUMENT"}}"#.into()),
        retry_after: None,
    });
    let msg = expect_error(
        gw.chat(chat_body(MODEL, "hi")).await,
        400,
        "invalid_request",
    )
    .await;
    assert_eq!(msg, "Request contains an invalid argument.");
}

#[tokio::test]
async fn unsupported_parameters_follow_the_configured_policy() {
    let up = MockUpstream::start().await.unwrap();
    let url = up.url();
    let gw = Gw::start_with_config(
        &[("GEMINI_API_KEY", "k"), ("GEMINI_BASE_URL", &url)],
        Some("targets:\n  - virtual_key: gemini\ncompatibility:\n  on_unsupported_param: reject\n"),
    )
    .await;
    let mut body = chat_body(MODEL, "hi");
    body["logit_bias"] = json!({"42": 1});
    let msg = expect_error(gw.chat(body.clone()).await, 400, "unsupported_parameter").await;
    assert!(msg.contains("logit_bias"), "{msg}");
    assert_eq!(up.hits(), 0, "refused before any upstream call");
    // The default policy (warn) drops it and the mock, which refuses unknown
    // fields, answers.
    let (_up, gw) = setup().await;
    assert_eq!(gw.chat(body).await.status(), 200);
}

// ------------------------------------------------------------------ Vertex AI

/// A fresh service-account key file (JSON) for tests.
fn service_account() -> String {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap();
    json!({
        "type": "service_account",
        "project_id": "proj",
        "private_key_id": "0123456789abcdef",
        "private_key": pem.as_str(),
        "client_email": "ferro-test@proj.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token"
    })
    .to_string()
}

async fn vertex_setup() -> (MockUpstream, Gw) {
    let up = MockUpstream::start().await.unwrap();
    let sa = service_account();
    let token_url = format!("{}/token", up.url());
    let gw = Gw::start(&[
        ("VERTEX_AI_PROJECT_ID", "proj"),
        ("VERTEX_AI_REGION", "us-central1"),
        ("VERTEX_AI_SERVICE_ACCOUNT_JSON", &sa),
        ("VERTEX_AI_BASE_URL", &up.url()),
        ("VERTEX_AI_TOKEN_URL", &token_url),
    ])
    .await;
    (up, gw)
}

#[tokio::test]
async fn vertex_service_account_token_is_obtained_once_and_reused() {
    let (up, gw) = vertex_setup().await;
    let v: Value = gw
        .chat(chat_body(MODEL, "hi vertex"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["provider"], "vertex-ai");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "[gemini mock] You said: hi vertex"
    );
    let mut s = chat_body(MODEL, "again");
    s["stream"] = json!(true);
    s["stream_options"] = json!({"include_usage": true});
    let chunks = stream_chunks(&gw, s).await;
    let last = chunks.last().unwrap();
    let cost = last["usage"]["cost_usd"].as_f64().unwrap();
    assert!((cost - expected_cost(&last["usage"], "vertex_ai/gemini-2.0-flash")).abs() < 1e-12);
    assert_eq!(up.hits_for("/token"), 1, "one exchange, token cached");
    let gens: Vec<_> = up
        .requests()
        .into_iter()
        .filter(|r| r.path.contains(':'))
        .collect();
    assert_eq!(gens.len(), 2);
    assert_eq!(
        gens[0].path,
        "/v1/projects/proj/locations/us-central1/publishers/google/models/gemini-2.0-flash:generateContent"
    );
    assert!(gens[1].path.ends_with(":streamGenerateContent?alt=sse"));
    let auth: Vec<_> = gens
        .iter()
        .map(|r| r.header("authorization").unwrap().to_owned())
        .collect();
    assert!(auth[0].starts_with("Bearer ya29.mock-"));
    assert_eq!(auth[0], auth[1], "the same token both times");
    assert!(gens[0].header("x-goog-api-key").is_none());
    // The token request was a JWT-bearer grant.
    let tok = up
        .requests()
        .into_iter()
        .find(|r| r.path == "/token")
        .unwrap();
    assert!(tok.body_text().starts_with(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion="
    ));

    // Embeddings through predict, with Vertex's exact token counts.
    let resp = gw
        .post("/v1/embeddings")
        .body(
            json!({"model": "text-embedding-004", "input": ["one", "two words"], "dimensions": 8})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["data"][0]["embedding"].as_array().unwrap().len(), 8);
    // The mock's statistics: chars / 4 + 1 per instance (not the estimate).
    assert_eq!(v["usage"]["prompt_tokens"], 1 + 3);
    assert_eq!(up.hits_for("/token"), 1);
}

#[tokio::test]
async fn vertex_with_an_api_key_and_a_refused_token() {
    let up = MockUpstream::start().await.unwrap();
    let gw = Gw::start(&[
        ("VERTEX_AI_PROJECT_ID", "proj"),
        ("VERTEX_AI_REGION", "europe-west4"),
        ("VERTEX_AI_API_KEY", "vk"),
        ("VERTEX_AI_BASE_URL", &up.url()),
    ])
    .await;
    let resp = gw.chat(chat_body(MODEL, "hi")).await;
    assert_eq!(resp.status(), 200);
    let r = last_google(&up);
    assert_eq!(r.header("x-goog-api-key"), Some("vk"));
    assert!(r
        .path
        .starts_with("/v1/projects/proj/locations/europe-west4/"));
    assert_eq!(up.hits_for("/token"), 0);

    // A token endpoint that refuses: 502 upstream_auth_error, no model call.
    let (up, gw) = vertex_setup().await;
    up.push_fault(Fault::Status {
        status: 400,
        body: Some(
            r#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#.into(),
        ),
        retry_after: None,
    });
    expect_error(
        gw.chat(chat_body(MODEL, "hi")).await,
        502,
        "upstream_auth_error",
    )
    .await;
    assert_eq!(up.hits(), 1, "only the token endpoint was called");
}

#[tokio::test]
async fn claude_on_vertex_goes_through_raw_predict() {
    let (up, gw) = vertex_setup().await;
    let model = "claude-sonnet-4@20250514";
    let resp = gw.chat(chat_body(model, "hello claude")).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["provider"], "vertex-ai");
    assert!(v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .contains("hello claude"));
    assert!(v["usage"]["cost_usd"].as_f64().unwrap() > 0.0);
    let r = last_google(&up);
    assert_eq!(
        r.path,
        "/v1/projects/proj/locations/us-central1/publishers/anthropic/models/claude-sonnet-4@20250514:rawPredict"
    );
    let sent = r.body_json().unwrap();
    assert_eq!(sent["anthropic_version"], "vertex-2023-10-16");
    assert!(sent.get("model").is_none());

    let mut s = chat_body(model, "stream please");
    s["stream"] = json!(true);
    s["stream_options"] = json!({"include_usage": true});
    let chunks = stream_chunks(&gw, s).await;
    assert!(last_google(&up).path.ends_with(":streamRawPredict"));
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"].get(0))
        .filter_map(|c| c["delta"]["content"].as_str())
        .collect();
    assert!(text.contains("stream please"), "{text}");
    assert!(
        chunks.last().unwrap()["usage"]["cost_usd"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert_eq!(up.hits_for("/token"), 1);
}
