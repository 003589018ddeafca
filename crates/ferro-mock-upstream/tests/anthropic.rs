//! The mock's Anthropic Messages API (`POST /v1/messages`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use ferro_mock_upstream::{Fault, MockUpstream, CACHE_READ_TOKENS, CACHE_WRITE_TOKENS};
use serde_json::{json, Value};

async fn post(
    up: &MockUpstream,
    body: &Value,
    key: Option<&str>,
    version: Option<&str>,
) -> reqwest::Response {
    let mut rb = common::client()
        .post(format!("{}/v1/messages", up.url()))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(k) = key {
        rb = rb.header("x-api-key", k);
    }
    if let Some(v) = version {
        rb = rb.header("anthropic-version", v);
    }
    rb.send().await.unwrap()
}

async fn ok(up: &MockUpstream, body: &Value) -> reqwest::Response {
    post(up, body, Some("sk-ant-test"), Some("2023-06-01")).await
}

fn msg(text: &str) -> Value {
    json!({"model": "claude-3-5-haiku-20241022", "max_tokens": 100,
        "messages": [{"role": "user", "content": text}]})
}

async fn error_of(resp: reqwest::Response) -> (u16, String, String) {
    let status = resp.status().as_u16();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "error", "{v}");
    (
        status,
        v["error"]["type"].as_str().unwrap().to_owned(),
        v["error"]["message"].as_str().unwrap().to_owned(),
    )
}

/// `(event name, data)` pairs of an Anthropic SSE body.
fn events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let mut lines = e.lines();
            let name = lines.next().unwrap().strip_prefix("event: ").unwrap();
            let data = lines.next().unwrap().strip_prefix("data: ").unwrap();
            let v: Value = serde_json::from_str(data).unwrap();
            assert_eq!(v["type"], name, "event line matches the data type");
            (name.to_owned(), v)
        })
        .collect()
}

#[tokio::test]
async fn checks_headers_fields_and_max_tokens() {
    let up = MockUpstream::start().await.unwrap();
    let body = msg("hi");
    let (s, t, _) = error_of(post(&up, &body, None, Some("2023-06-01")).await).await;
    assert_eq!((s, t.as_str()), (401, "authentication_error"));
    let (s, t, m) = error_of(post(&up, &body, Some("k"), None).await).await;
    assert_eq!((s, t.as_str()), (400, "invalid_request_error"));
    assert!(m.contains("anthropic-version"));
    let mut extra = body.clone();
    extra["frequency_penalty"] = json!(0.5);
    let (s, _, m) = error_of(ok(&up, &extra).await).await;
    assert_eq!(s, 400);
    assert_eq!(m, "frequency_penalty: Extra inputs are not permitted");
    let mut no_max = body.clone();
    no_max.as_object_mut().unwrap().remove("max_tokens");
    let (s, _, m) = error_of(ok(&up, &no_max).await).await;
    assert_eq!((s, m.as_str()), (400, "max_tokens: Field required"));
    assert_eq!(up.hits_for("/v1/messages"), 4);
}

#[tokio::test]
async fn text_reply_usage_and_cache_tokens() {
    let up = MockUpstream::start().await.unwrap();
    let v: Value = ok(&up, &msg("hello there")).await.json().await.unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["content"][0]["text"], "mock reply to: hello there");
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(v["usage"]["output_tokens"], 5);
    assert_eq!(v["usage"]["cache_read_input_tokens"], 0);
    let cached = json!({"model": "m", "max_tokens": 100,
        "system": [{"type": "text", "text": "big", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "hi"}]});
    let v: Value = ok(&up, &cached).await.json().await.unwrap();
    assert_eq!(v["usage"]["cache_read_input_tokens"], CACHE_READ_TOKENS);
    assert_eq!(
        v["usage"]["cache_creation_input_tokens"],
        CACHE_WRITE_TOKENS
    );
    let mut stop = msg("count one two three");
    stop["stop_sequences"] = json!(["two"]);
    let v: Value = ok(&up, &stop).await.json().await.unwrap();
    assert_eq!(v["stop_reason"], "stop_sequence");
    assert_eq!(v["stop_sequence"], "two");
    assert_eq!(v["content"][0]["text"], "mock reply to: count one ");
}

#[tokio::test]
async fn tools_thinking_and_tool_results() {
    let up = MockUpstream::start().await.unwrap();
    let tools = json!([
        {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}},
        {"name": "get_time", "input_schema": {"type": "object", "properties": {"tz": {"type": "string"}, "h24": {"type": "boolean"}}}}
    ]);
    let mut b = msg("please use tool");
    b["tools"] = tools.clone();
    let v: Value = ok(&up, &b).await.json().await.unwrap();
    assert_eq!(v["stop_reason"], "tool_use");
    let c = v["content"].as_array().unwrap();
    assert_eq!((c.len(), &c[1]["name"]), (2, &json!("get_weather")));
    assert_eq!(c[1]["input"], json!({"city": "mock-city"}));
    b["messages"][0]["content"] = json!("use tool: two tools please");
    let v: Value = ok(&up, &b).await.json().await.unwrap();
    let names: Vec<&str> = v["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["name"].as_str())
        .collect();
    assert_eq!(names, ["get_weather", "get_time"]);
    // forced tool, with thinking
    let mut f = msg("anything");
    f["tools"] = tools.clone();
    f["tool_choice"] = json!({"type": "tool", "name": "get_time"});
    f["thinking"] = json!({"type": "enabled", "budget_tokens": 1024});
    f["max_tokens"] = json!(2048);
    let v: Value = ok(&up, &f).await.json().await.unwrap();
    assert_eq!(v["content"][0]["type"], "thinking");
    assert!(v["content"][0]["signature"]
        .as_str()
        .unwrap()
        .starts_with("mock-signature-"));
    assert_eq!(
        v["content"][1]["input"],
        json!({"tz": "mock-tz", "h24": true})
    );
    // a turn of tool results is answered, not looped
    let mut r = b.clone();
    r["messages"] = json!([
        {"role": "user", "content": "use tool"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "get_weather", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "sunny"}]}
    ]);
    let v: Value = ok(&up, &r).await.json().await.unwrap();
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(v["content"][0]["text"], "mock reply to: sunny");
}

#[tokio::test]
async fn streams_real_event_shapes_with_interleaved_tools() {
    let up = MockUpstream::start().await.unwrap();
    let mut b = msg("use tool, two tools");
    b["stream"] = json!(true);
    b["tools"] = json!([
        {"name": "a", "input_schema": {"type": "object", "properties": {"x": {"type": "string"}}}},
        {"name": "b", "input_schema": {"type": "object", "properties": {"y": {"type": "integer"}}}}
    ]);
    let resp = ok(&up, &b).await;
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let ev = events(&resp.text().await.unwrap());
    let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names[..2], ["message_start", "ping"]);
    assert_eq!(names[names.len() - 2..], ["message_delta", "message_stop"]);
    assert_eq!(ev[0].1["message"]["usage"]["output_tokens"], 1);
    // both tool blocks start before either one's input streams
    let starts: Vec<usize> = ev
        .iter()
        .enumerate()
        .filter(|(_, (n, v))| {
            n == "content_block_start" && v["content_block"]["type"] == "tool_use"
        })
        .map(|(i, _)| i)
        .collect();
    let first_input = ev
        .iter()
        .position(|(_, v)| {
            v["delta"]["partial_json"]
                .as_str()
                .is_some_and(|p| !p.is_empty())
        })
        .unwrap();
    assert_eq!(starts.len(), 2);
    assert!(starts[1] < first_input);
    let mut inputs = [String::new(), String::new()];
    for (_, v) in &ev {
        if let Some(p) = v["delta"]["partial_json"].as_str() {
            inputs[v["index"].as_u64().unwrap() as usize - 1] += p;
        }
    }
    assert_eq!(
        serde_json::from_str::<Value>(&inputs[0]).unwrap(),
        json!({"x": "mock-x"})
    );
    assert_eq!(
        serde_json::from_str::<Value>(&inputs[1]).unwrap(),
        json!({"y": 1})
    );
    let (_, delta) = &ev[ev.len() - 2];
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert!(delta["usage"]["output_tokens"].as_u64().unwrap() > 1);
}

#[tokio::test]
async fn faults_apply_to_messages() {
    let up = MockUpstream::start().await.unwrap();
    up.push_fault(Fault::Status {
        status: 529,
        body: Some(
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#.into(),
        ),
        retry_after: None,
    });
    let (s, t, _) = error_of(ok(&up, &msg("x")).await).await;
    assert_eq!((s, t.as_str()), (529, "overloaded_error"));
    up.push_fault(Fault::StreamThenError { after_chunks: 3 });
    let mut b = msg("hello");
    b["stream"] = json!(true);
    let resp = ok(&up, &b).await;
    assert!(resp.text().await.is_err(), "body aborted mid-stream");
    assert_eq!(ok(&up, &msg("x")).await.status(), 200);
}
