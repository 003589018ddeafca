//! Anthropic end to end: OpenAI-shaped requests through the running gateway to
//! the mock's native Messages API (which, like the real one, checks
//! `x-api-key` / `anthropic-version` and refuses unknown top-level fields).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use ferro_mock_upstream::{
    Fault, MockUpstream, ANTHROPIC_FIELDS, CACHE_READ_TOKENS, CACHE_WRITE_TOKENS,
};
use serde_json::{json, Value};

const MODEL: &str = "claude-3-5-haiku-20241022";

async fn setup() -> (MockUpstream, Gw) {
    let up = MockUpstream::start().await.unwrap();
    let gw = Gw::start(&[
        ("ANTHROPIC_API_KEY", "sk-ant-test"),
        ("ANTHROPIC_BASE_URL", &up.url()),
    ])
    .await;
    (up, gw)
}

fn tools() -> Value {
    json!([
        {"type": "function", "function": {"name": "get_weather", "description": "Weather by city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
        {"type": "function", "function": {"name": "get_time",
            "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}}
    ])
}

/// Catalog price of the Anthropic model: (input, output, cache read, cache write).
fn haiku_price() -> (f64, f64, f64, f64) {
    let c = ferro_types::catalog::Catalog::embedded();
    let p = &c.get(&format!("anthropic/{MODEL}")).unwrap().pricing;
    (
        p.input_per_m_tokens.unwrap(),
        p.output_per_m_tokens.unwrap(),
        p.cache_read_per_m_tokens.unwrap(),
        p.cache_write_per_m_tokens.unwrap(),
    )
}

fn expected_cost(u: &Value) -> f64 {
    let (pin, pout, pread, pwrite) = haiku_price();
    let n = |k: &str| u[k].as_f64().unwrap_or(0.0);
    let read = n("cache_read_tokens");
    let write = n("cache_write_tokens");
    ((n("prompt_tokens") - read - write) * pin
        + read * pread
        + write * pwrite
        + n("completion_tokens") * pout)
        / 1e6
}

fn stream_of(mut body: Value, include_usage: bool) -> Value {
    body["stream"] = json!(true);
    if include_usage {
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

/// Parsed `data:` payloads of a gateway stream, `[DONE]` checked and removed.
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
async fn chat_is_translated_and_priced() {
    let (up, gw) = setup().await;
    let resp = gw.chat(chat_body(MODEL, "hello there")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-gateway-provider"], "anthropic");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["provider"], "anthropic");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "mock reply to: hello there"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    let u = &v["usage"];
    assert_eq!(u["completion_tokens"], 5);
    let cost = u["cost_usd"].as_f64().unwrap();
    assert!((cost - expected_cost(u)).abs() < 1e-12, "{u}");
    let rec = up.last_request().unwrap();
    assert_eq!(rec.path, "/v1/messages");
    assert_eq!(rec.header("x-api-key"), Some("sk-ant-test"));
    assert_eq!(rec.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(rec.header("authorization"), None);
    let sent = rec.body_json().unwrap();
    // max_tokens always sent: the catalog's max output for the model
    assert_eq!(sent["max_tokens"], 8192);
    assert_eq!(sent["model"], MODEL);
}

#[tokio::test]
async fn stream_content_usage_chunk_and_cost() {
    let (_up, gw) = setup().await;
    let c = chunks(
        gw.chat(stream_of(chat_body(MODEL, "tell me a story"), true))
            .await,
    )
    .await;
    assert_eq!(c[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(content_of(&c), "mock reply to: tell me a story");
    let finish: Vec<&Value> = c
        .iter()
        .filter_map(|c| c.pointer("/choices/0/finish_reason"))
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finish, [&json!("stop")]);
    let last = c.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    let u = &last["usage"];
    assert_eq!(u["completion_tokens"], 7);
    assert!((u["cost_usd"].as_f64().unwrap() - expected_cost(u)).abs() < 1e-12);
    // without include_usage the client sees no usage at all
    let c = chunks(gw.chat(stream_of(chat_body(MODEL, "again"), false)).await).await;
    assert!(c.iter().all(|c| c.get("usage").is_none()), "{c:?}");
    assert!(c
        .iter()
        .all(|c| !c["choices"].as_array().unwrap().is_empty()));
}

#[tokio::test]
async fn tools_round_trip_non_stream() {
    let (up, gw) = setup().await;
    let mut body = chat_body(MODEL, "please use tool");
    body["tools"] = tools();
    body["parallel_tool_calls"] = json!(false);
    let v: Value = gw.chat(body.clone()).await.json().await.unwrap();
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"city": "mock-city"}));
    let sent = up.last_request().unwrap().body_json().unwrap();
    assert_eq!(
        sent["tools"][0]["input_schema"]["required"],
        json!(["city"])
    );
    assert_eq!(
        sent["tool_choice"],
        json!({"type": "auto", "disable_parallel_tool_use": true})
    );
    // second turn: the assistant's call and the tool's answer go back
    let mut turn2 = body;
    let msgs = turn2["messages"].as_array_mut().unwrap();
    msgs.push(choice["message"].clone());
    msgs.push(json!({"role": "tool", "tool_call_id": call["id"], "content": "sunny, 21C"}));
    let v: Value = gw.chat(turn2).await.json().await.unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "mock reply to: sunny, 21C"
    );
    let sent = up.last_request().unwrap().body_json().unwrap();
    assert_eq!(sent["messages"][1]["content"][1]["type"], "tool_use");
    assert_eq!(sent["messages"][1]["content"][1]["input"], args);
    assert_eq!(sent["messages"][2]["content"][0]["type"], "tool_result");
    assert_eq!(sent["messages"][2]["content"][0]["tool_use_id"], call["id"]);
}

#[tokio::test]
async fn parallel_tool_calls_stream_with_their_own_indices() {
    let (_up, gw) = setup().await;
    let mut body = chat_body(MODEL, "use tool: two tools at once");
    body["tools"] = tools();
    let c = chunks(gw.chat(stream_of(body, true)).await).await;
    let mut calls: Vec<(String, String, String)> = Vec::new();
    for tc in c
        .iter()
        .filter_map(|c| c.pointer("/choices/0/delta/tool_calls")?.as_array())
        .flatten()
    {
        let i = tc["index"].as_u64().unwrap() as usize;
        if i == calls.len() {
            calls.push(Default::default());
        }
        if let Some(id) = tc["id"].as_str() {
            calls[i].0 = id.to_owned();
            calls[i].1 = tc["function"]["name"].as_str().unwrap().to_owned();
        }
        calls[i].2 += tc["function"]["arguments"].as_str().unwrap_or("");
    }
    assert_eq!(calls.len(), 2, "{c:?}");
    assert_eq!(
        (calls[0].1.as_str(), calls[1].1.as_str()),
        ("get_weather", "get_time")
    );
    assert_ne!(calls[0].0, calls[1].0);
    let a0: Value = serde_json::from_str(&calls[0].2).unwrap();
    let a1: Value = serde_json::from_str(&calls[1].2).unwrap();
    assert_eq!(
        (a0, a1),
        (json!({"city": "mock-city"}), json!({"tz": "mock-tz"}))
    );
    let finish = c
        .iter()
        .filter_map(|c| c.pointer("/choices/0/finish_reason"))
        .find(|f| !f.is_null());
    assert_eq!(finish, Some(&json!("tool_calls")));
}

#[tokio::test]
async fn unknown_and_unsupported_fields_are_not_forwarded() {
    let (up, gw) = setup().await;
    let mut body = chat_body(MODEL, "hi");
    body["vendor_thing"] = json!({"x": 1});
    body["seed"] = json!(7);
    body["logprobs"] = json!(true);
    body["frequency_penalty"] = json!(0.3);
    body["stop"] = json!("zzz");
    body["user"] = json!("u-42");
    let resp = gw.chat(body).await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let sent = up.last_request().unwrap().body_json().unwrap();
    for k in sent.as_object().unwrap().keys() {
        assert!(ANTHROPIC_FIELDS.contains(&k.as_str()), "forwarded `{k}`");
    }
    assert_eq!(sent["stop_sequences"], json!(["zzz"]));
    assert_eq!(sent["metadata"], json!({"user_id": "u-42"}));
}

#[tokio::test]
async fn reject_policy_refuses_before_any_upstream_call() {
    let up = MockUpstream::start().await.unwrap();
    let config =
        "targets:\n  - virtual_key: anthropic\ncompatibility:\n  on_unsupported_param: reject\n";
    let gw = Gw::start_with_config(
        &[
            ("ANTHROPIC_API_KEY", "sk-ant-test"),
            ("ANTHROPIC_BASE_URL", &up.url()),
        ],
        Some(config),
    )
    .await;
    let mut body = chat_body(MODEL, "hi");
    body["seed"] = json!(7);
    let msg = expect_error(gw.chat(body).await, 400, "unsupported_parameter").await;
    assert!(msg.contains("seed"), "{msg}");
    // OpenAI defaults are not uses of a parameter
    let mut body = chat_body(MODEL, "hi");
    body["n"] = json!(1);
    body["logprobs"] = json!(false);
    assert_eq!(gw.chat(body).await.status(), 200);
    assert_eq!(up.hits_for("/v1/messages"), 1);
}

fn anthropic_error(kind: &str, message: &str) -> Option<String> {
    Some(json!({"type": "error", "error": {"type": kind, "message": message}}).to_string())
}

#[tokio::test]
async fn upstream_errors_are_mapped() {
    let (up, gw) = setup().await;
    let fault = |status, kind, msg| Fault::Status {
        status,
        body: anthropic_error(kind, msg),
        retry_after: None,
    };
    up.push_fault(fault(401, "authentication_error", "invalid x-api-key"));
    expect_error(
        gw.chat(chat_body(MODEL, "x")).await,
        502,
        "upstream_auth_error",
    )
    .await;
    up.push_fault(fault(
        400,
        "invalid_request_error",
        "messages: roles must alternate",
    ));
    let m = expect_error(gw.chat(chat_body(MODEL, "x")).await, 400, "invalid_request").await;
    assert_eq!(m, "messages: roles must alternate");
    up.push_fault(fault(429, "rate_limit_error", "slow down"));
    expect_error(
        gw.chat(chat_body(MODEL, "x")).await,
        429,
        "rate_limit_exceeded",
    )
    .await;
    // 529 overloaded: the adapter maps it to 503; the gateway's classifier
    // reports 5xx answers as 502 upstream_error (CONTRACT §3.2).
    up.push_fault(fault(529, "overloaded_error", "Overloaded"));
    expect_error(gw.chat(chat_body(MODEL, "x")).await, 502, "upstream_error").await;
    up.push_fault(fault(529, "overloaded_error", "Overloaded"));
    let r = gw.chat(stream_of(chat_body(MODEL, "x"), true)).await;
    expect_error(r, 502, "upstream_error").await;
    // mid-stream failure: a terminal error frame, no [DONE]
    up.push_fault(Fault::StreamThenError { after_chunks: 4 });
    let p = sse_payloads(gw.chat(stream_of(chat_body(MODEL, "hello"), true)).await).await;
    assert!(p.last().unwrap().contains("\"error\""), "{p:?}");
    assert!(!p.iter().any(|s| s == "[DONE]"));
}

#[tokio::test]
async fn cache_tokens_are_priced_at_cache_rates() {
    let (up, gw) = setup().await;
    let body = json!({"model": MODEL, "messages": [
        {"role": "system", "content": [{"type": "text", "text": "a long handbook", "cache_control": {"type": "ephemeral"}}]},
        {"role": "user", "content": "summarise"}]});
    let v: Value = gw.chat(body).await.json().await.unwrap();
    let u = &v["usage"];
    assert_eq!(u["cache_read_tokens"], CACHE_READ_TOKENS);
    assert_eq!(u["cache_write_tokens"], CACHE_WRITE_TOKENS);
    assert_eq!(
        u["prompt_tokens_details"]["cached_tokens"],
        CACHE_READ_TOKENS
    );
    assert!(u["prompt_tokens"].as_u64().unwrap() > CACHE_READ_TOKENS + CACHE_WRITE_TOKENS);
    let (pin, pout, pread, pwrite) = haiku_price();
    assert!(
        pread < pin && pwrite > pin,
        "catalog has distinct cache rates"
    );
    let cost = u["cost_usd"].as_f64().unwrap();
    assert!((cost - expected_cost(u)).abs() < 1e-12, "{u}");
    let flat = u["prompt_tokens"].as_f64().unwrap() * pin
        + u["completion_tokens"].as_f64().unwrap() * pout;
    assert!(
        (cost - flat / 1e6).abs() > 1e-9,
        "cache tokens not billed at the input rate"
    );
    let sent = up.last_request().unwrap().body_json().unwrap();
    assert_eq!(
        sent["system"][0]["cache_control"],
        json!({"type": "ephemeral"})
    );
}

#[tokio::test]
async fn streamed_and_whole_answers_report_identical_usage_and_cost() {
    let (_up, gw) = setup().await;
    let cases = [
        json!({"model": MODEL, "messages": [
            {"role": "system", "content": [{"type": "text", "text": "cached", "cache_control": {"type": "ephemeral"}}]},
            {"role": "user", "content": "what is in the cache?"}]}),
        {
            let mut b = chat_body(MODEL, "use tool: two tools");
            b["tools"] = tools();
            b
        },
    ];
    for body in cases {
        let whole: Value = gw.chat(body.clone()).await.json().await.unwrap();
        let c = chunks(gw.chat(stream_of(body, true)).await).await;
        let streamed = &c.last().unwrap()["usage"];
        let w = &whole["usage"];
        for k in [
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "cost_usd",
        ] {
            assert_eq!(streamed[k], w[k], "{k}: {streamed} vs {w}");
        }
        assert_eq!(
            streamed["prompt_tokens_details"],
            w["prompt_tokens_details"]
        );
    }
}

#[tokio::test]
async fn json_mode_and_reasoning_round_trip() {
    let (up, gw) = setup().await;
    let mut body = chat_body(MODEL, "Ada Lovelace, 1815");
    body["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "person",
        "schema": {"type": "object", "properties": {"name": {"type": "string"}, "born": {"type": "integer"}}}}});
    let v: Value = gw.chat(body.clone()).await.json().await.unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert!(v["choices"][0]["message"].get("tool_calls").is_none());
    let answer: Value =
        serde_json::from_str(v["choices"][0]["message"]["content"].as_str().unwrap()).unwrap();
    assert_eq!(answer, json!({"name": "mock-name", "born": 1}));
    let c = chunks(gw.chat(stream_of(body, false)).await).await;
    assert_eq!(
        serde_json::from_str::<Value>(&content_of(&c)).unwrap(),
        answer
    );

    let mut body = chat_body(MODEL, "think first");
    body["reasoning_effort"] = json!("low");
    let v: Value = gw.chat(body.clone()).await.json().await.unwrap();
    let sent = up.last_request().unwrap().body_json().unwrap();
    assert_eq!(
        sent["thinking"],
        json!({"type": "enabled", "budget_tokens": 1024})
    );
    let m = &v["choices"][0]["message"];
    assert!(m["reasoning_content"]
        .as_str()
        .unwrap()
        .starts_with("Thinking about"));
    let sig = m["thinking_blocks"][0]["signature"]
        .as_str()
        .unwrap()
        .to_owned();
    // the signed block goes back with the assistant turn
    let msgs = body["messages"].as_array_mut().unwrap();
    msgs.push(m.clone());
    msgs.push(json!({"role": "user", "content": "and then?"}));
    assert_eq!(gw.chat(body).await.status(), 200);
    let sent = up.last_request().unwrap().body_json().unwrap();
    assert_eq!(sent["messages"][1]["content"][0]["type"], "thinking");
    assert_eq!(sent["messages"][1]["content"][0]["signature"], sig);
}

/// 529 overloaded is seen as 503: retried when the target has retries (here
/// limited to 503, so the retry proves the mapping), never a client error.
#[tokio::test]
async fn overloaded_is_retryable() {
    let up = MockUpstream::start().await.unwrap();
    let config = "targets:\n  - virtual_key: anthropic\n    retry: {attempts: 2, on_status_codes: [503], initial_backoff_ms: 1}\n";
    let gw = Gw::start_with_config(
        &[
            ("ANTHROPIC_API_KEY", "sk-ant-test"),
            ("ANTHROPIC_BASE_URL", &up.url()),
        ],
        Some(config),
    )
    .await;
    up.push_fault(Fault::Status {
        status: 529,
        body: anthropic_error("overloaded_error", "Overloaded"),
        retry_after: None,
    });
    let resp = gw.chat(chat_body(MODEL, "x")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-gateway-attempts"], "2");
    assert_eq!(up.hits_for("/v1/messages"), 2);
}
