//! Streaming chat: usage always requested upstream, stripped or priced for the
//! client, bytes relayed as they arrive, disconnects cancel the upstream, and
//! mid-stream failures end in an error frame.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use ferro_mock_upstream::{Fault, MockOptions, MockUpstream};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn stream_body(model: &str, include_usage: Option<bool>) -> Value {
    let mut b = json!({"model": model, "stream": true, "messages": [{"role":"user","content":"tell me a story"}]});
    if let Some(u) = include_usage {
        b["stream_options"] = json!({"include_usage": u});
    }
    b
}

#[tokio::test]
async fn usage_requested_upstream_and_stripped_for_client() {
    let up = MockUpstream::start().await.unwrap();
    let gw = Gw::start(&[("OPENAI_API_KEY", "sk-x"), ("OPENAI_BASE_URL", &up.url())]).await;
    let resp = gw.chat(stream_body("gpt-4o-mini", None)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert_eq!(resp.headers()["x-gateway-provider"], "openai");
    assert_eq!(resp.headers()["x-request-id"].len(), 32);
    assert!(resp.headers().get("x-gateway-cost-usd").is_none());
    let payloads = sse_payloads(resp).await;
    assert_eq!(payloads.last().map(String::as_str), Some("[DONE]"));
    for p in &payloads {
        assert!(
            !p.contains("usage"),
            "usage leaked to a client that did not ask: {p}"
        );
    }
    let text: String = payloads[..payloads.len() - 1]
        .iter()
        .map(|p| serde_json::from_str::<Value>(p).unwrap())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert!(text.contains("tell me a story"), "{text}");
    let sent = up.last_request().unwrap().body_json().unwrap();
    assert_eq!(sent["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn client_usage_chunk_carries_cost() {
    let up = MockUpstream::start().await.unwrap();
    let gw = Gw::start(&[("OPENAI_API_KEY", "sk-x"), ("OPENAI_BASE_URL", &up.url())]).await;
    let payloads = sse_payloads(gw.chat(stream_body("gpt-4o-mini", Some(true))).await).await;
    let usage_chunk: Value = serde_json::from_str(&payloads[payloads.len() - 2]).unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    let u = &usage_chunk["usage"];
    let (pin, pout, _) = price("openai/gpt-4o-mini");
    let expected = (u["prompt_tokens"].as_f64().unwrap() * pin
        + u["completion_tokens"].as_f64().unwrap() * pout)
        / 1e6;
    assert!((u["cost_usd"].as_f64().unwrap() - expected).abs() < 1e-12);
    assert_eq!(u["cache_hit"], false);
}

#[tokio::test]
async fn chunks_are_relayed_as_they_arrive() {
    let up = MockUpstream::start_with(MockOptions {
        stream_chunks: 4,
        chunk_gap: Duration::from_millis(150),
        ..Default::default()
    })
    .await
    .unwrap();
    let gw = Gw::start(&[("OPENAI_API_KEY", "sk-x"), ("OPENAI_BASE_URL", &up.url())]).await;
    let t0 = Instant::now();
    let mut resp = gw.chat(stream_body("gpt-4o-mini", None)).await;
    let first = resp.chunk().await.unwrap().unwrap();
    let first_at = t0.elapsed();
    assert!(String::from_utf8_lossy(&first).contains("chat.completion.chunk"));
    while resp.chunk().await.unwrap().is_some() {}
    let total = t0.elapsed();
    // The whole stream takes ≥ 4 gaps; the first chunk must not wait for it.
    assert!(total >= Duration::from_millis(600), "{total:?}");
    assert!(
        first_at < total / 2,
        "first chunk at {first_at:?} of {total:?}"
    );
}

#[tokio::test]
async fn client_disconnect_cancels_upstream() {
    let up = MockUpstream::start_with(MockOptions {
        stream_chunks: 50,
        chunk_gap: Duration::from_millis(100),
        ..Default::default()
    })
    .await
    .unwrap();
    let gw = Gw::start(&[("OPENAI_API_KEY", "sk-x"), ("OPENAI_BASE_URL", &up.url())]).await;
    let mut resp = gw.chat(stream_body("gpt-4o-mini", None)).await;
    resp.chunk().await.unwrap().unwrap();
    assert_eq!(up.active_streams(), 1);
    drop(resp);
    drop(gw.client.clone());
    let deadline = Instant::now() + Duration::from_secs(3);
    while up.cancelled_streams() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        up.cancelled_streams(),
        1,
        "upstream stream was not cancelled"
    );
    assert_eq!(up.active_streams(), 0);
}

#[tokio::test]
async fn upstream_failure_mid_stream_ends_with_error_frame() {
    let up = MockUpstream::start().await.unwrap();
    let gw = Gw::start(&[("OPENAI_API_KEY", "sk-x"), ("OPENAI_BASE_URL", &up.url())]).await;
    up.push_fault(Fault::StreamThenError { after_chunks: 2 });
    let payloads = sse_payloads(gw.chat(stream_body("gpt-4o-mini", None)).await).await;
    let last: Value = serde_json::from_str(payloads.last().unwrap()).unwrap();
    assert_eq!(last["error"]["type"], "stream_error");
    assert_eq!(last["error"]["code"], "stream_error");
    assert!(!payloads.iter().any(|p| p == "[DONE]"));
}

#[tokio::test]
async fn upstream_error_before_first_byte_is_a_json_error() {
    let up = MockUpstream::start().await.unwrap();
    let gw = Gw::start(&[("OPENAI_API_KEY", "sk-x"), ("OPENAI_BASE_URL", &up.url())]).await;
    up.push_fault(Fault::Status {
        status: 503,
        body: None,
        retry_after: None,
    });
    let resp = gw.chat(stream_body("gpt-4o-mini", None)).await;
    expect_error(resp, 502, "upstream_error").await;
}

#[tokio::test]
async fn builtin_mock_streams() {
    let gw = Gw::start(&[]).await;
    let payloads = sse_payloads(gw.chat(stream_body("gpt-4o-mini", Some(true))).await).await;
    assert_eq!(payloads.last().map(String::as_str), Some("[DONE]"));
    let usage: Value = serde_json::from_str(&payloads[payloads.len() - 2]).unwrap();
    assert!(usage["usage"]["cost_usd"].as_f64().unwrap() > 0.0);
}
