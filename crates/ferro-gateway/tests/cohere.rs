//! Cohere v2 end to end: OpenAI-shaped requests through the running gateway
//! to the mock's `/v2/chat` and `/v1/embed`, which — like the real API — check
//! the Bearer key and refuse unknown fields and out-of-range sampling values.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use ferro_mock_upstream::MockUpstream;
use serde_json::{json, Value};

const MODEL: &str = "command-r-plus-08-2024";

async fn setup(key: &str) -> (MockUpstream, Gw) {
    let up = MockUpstream::start().await.unwrap();
    let gw = Gw::start(&[("COHERE_API_KEY", key), ("COHERE_BASE_URL", &up.url())]).await;
    (up, gw)
}

fn expected_cost(u: &Value) -> f64 {
    let (pin, pout, _) = price(&format!("cohere/{MODEL}"));
    (u["prompt_tokens"].as_f64().unwrap() * pin + u["completion_tokens"].as_f64().unwrap() * pout)
        / 1e6
}

async fn chunks(resp: reqwest::Response) -> Vec<Value> {
    assert_eq!(resp.status(), 200);
    let mut p = sse_payloads(resp).await;
    assert_eq!(p.pop().as_deref(), Some("[DONE]"));
    p.iter().map(|s| serde_json::from_str(s).unwrap()).collect()
}

#[tokio::test]
async fn chat_is_translated_and_priced() {
    let (up, gw) = setup("co-test-key").await;
    let mut body = chat_body(MODEL, "hello there");
    body["top_p"] = json!(1.0); // Cohere's p stops at 0.99: clamped, not refused
    body["presence_penalty"] = json!(-1.0);
    body["x_vendor_extension"] = json!(true); // never reaches Cohere
    let resp = gw.chat(body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-gateway-provider"], "cohere");
    let v: Value = resp.json().await.unwrap();
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
    assert_eq!(rec.path, "/v2/chat");
    assert_eq!(rec.header("authorization"), Some("Bearer co-test-key"));
    let sent = rec.body_json().unwrap();
    assert_eq!(sent["p"], 0.99);
    assert_eq!(sent["presence_penalty"], 0.0);
}

#[tokio::test]
async fn stream_text_and_parallel_tools() {
    let (_up, gw) = setup("k").await;
    let mut body = chat_body(MODEL, "tell me a story");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let c = chunks(gw.chat(body.clone()).await).await;
    let text: String = c
        .iter()
        .filter_map(|c| c.pointer("/choices/0/delta/content")?.as_str())
        .collect();
    assert_eq!(text, "mock reply to: tell me a story");
    let last = c.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert!(
        (last["usage"]["cost_usd"].as_f64().unwrap() - expected_cost(&last["usage"])).abs() < 1e-12
    );
    body["stream"] = json!(false);
    body.as_object_mut().unwrap().remove("stream_options");
    let v: Value = gw.chat(body).await.json().await.unwrap();
    assert_eq!(v["usage"], last["usage"], "streamed and not: same usage");

    let mut body = chat_body(MODEL, "use tool: call two tools");
    body["tools"] = json!([
        {"type": "function", "function": {"name": "a", "parameters": {"type": "object", "properties": {}}}},
        {"type": "function", "function": {"name": "b", "parameters": {"type": "object", "properties": {}}}}
    ]);
    body["stream"] = json!(true);
    let c = chunks(gw.chat(body).await).await;
    let mut args = [String::new(), String::new()];
    let mut ids = Vec::new();
    for ch in &c {
        if let Some(t) = ch.pointer("/choices/0/delta/tool_calls/0") {
            let i = t["index"].as_u64().unwrap() as usize;
            if let Some(id) = t.get("id") {
                ids.push(id.clone());
            }
            args[i].push_str(
                t.pointer("/function/arguments")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
            );
        }
    }
    assert_eq!(ids.len(), 2);
    assert_eq!(args, ["{\"q\":\"mock\"}", "{\"q\":\"mock\"}"]);
    let finish = c.iter().find_map(|c| {
        c.pointer("/choices/0/finish_reason")
            .filter(|f| !f.is_null())
    });
    assert_eq!(finish, Some(&json!("tool_calls")));
}

#[tokio::test]
async fn tool_results_go_back_as_tool_messages() {
    let (up, gw) = setup("k").await;
    let mut body = chat_body(MODEL, "weather?");
    body["tools"] = json!([{"type": "function", "function": {"name": "get_weather"}}]);
    body["tool_choice"] = json!({"type": "function", "function": {"name": "get_weather"}});
    let v: Value = gw.chat(body.clone()).await.json().await.unwrap();
    let msg = &v["choices"][0]["message"];
    assert_eq!(msg["content"], "I will use the tools.");
    let call = msg["tool_calls"][0].clone();
    assert_eq!(
        up.last_request().unwrap().body_json().unwrap()["tool_choice"],
        "REQUIRED"
    );
    body.as_object_mut().unwrap().remove("tool_choice");
    let msgs = body["messages"].as_array_mut().unwrap();
    msgs.push(
        json!({"role": "assistant", "content": msg["content"], "tool_calls": [call.clone()]}),
    );
    msgs.push(json!({"role": "tool", "tool_call_id": call["id"], "content": "sunny"}));
    let v: Value = gw.chat(body).await.json().await.unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    let sent = up.last_request().unwrap().body_json().unwrap();
    assert_eq!(sent["messages"][1]["tool_plan"], "I will use the tools.");
    assert_eq!(sent["messages"][2]["role"], "tool");
}

#[tokio::test]
async fn embeddings_and_errors() {
    let (up, gw) = setup("k").await;
    let resp = gw
        .post("/v1/embeddings")
        .body(json!({"model": "embed-english-v3.0", "input": ["hello", "world"]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert!(v["usage"]["cost_usd"].as_f64().unwrap() > 0.0);
    assert_eq!(up.last_request().unwrap().path, "/v1/embed");

    let (_up, gw) = setup("bad").await;
    expect_error(
        gw.chat(chat_body(MODEL, "hi")).await,
        502,
        "upstream_auth_error",
    )
    .await;
}
