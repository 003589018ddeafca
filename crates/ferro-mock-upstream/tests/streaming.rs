//! SSE streaming: chunk shapes with and without `include_usage`, chunk
//! count and gap, legacy completion streams, and cancellation counting.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{client, sse_data, wait_until};
use ferro_mock_upstream::{MockOptions, MockUpstream};
use futures_util::StreamExt;
use serde_json::{json, Value};

async fn stream_chat(
    mock: &MockUpstream,
    body: Value,
) -> (reqwest::header::HeaderMap, Vec<String>) {
    let resp = client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    (headers, sse_data(&text))
}

fn parse(events: &[String]) -> Vec<Value> {
    events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect()
}

#[tokio::test]
async fn stream_without_usage() {
    let mock = MockUpstream::start().await.unwrap();
    let (headers, events) = stream_chat(
        &mock,
        json!({"model": "gpt-4o", "stream": true,
               "messages": [{"role": "user", "content": "stream me please"}]}),
    )
    .await;
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks = parse(&events);
    // role + 5 content + finish
    assert_eq!(chunks.len(), 7);
    let id = chunks[0]["id"].clone();
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["id"], id);
        assert_eq!(c["model"], "gpt-4o");
        assert_eq!(c["system_fingerprint"], "fp_mock");
        assert!(c["created"].as_u64().is_some());
        assert!(
            c.get("usage").is_none(),
            "no usage key without include_usage"
        );
        assert_eq!(c["choices"][0]["index"], 0);
        assert_eq!(c["choices"][0]["logprobs"], Value::Null);
    }
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(chunks[0]["choices"][0]["delta"]["content"], "");
    let content: String = chunks[1..6]
        .iter()
        .map(|c| {
            assert_eq!(c["choices"][0]["finish_reason"], Value::Null);
            c["choices"][0]["delta"]["content"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(content, "mock reply to: stream me please");
    let last = &chunks[6]["choices"][0];
    assert_eq!(last["delta"], json!({}));
    assert_eq!(last["finish_reason"], "stop");
}

#[tokio::test]
async fn stream_with_include_usage() {
    let mock = MockUpstream::start().await.unwrap();
    let (_, events) = stream_chat(
        &mock,
        json!({"model": "gpt-4o", "stream": true, "stream_options": {"include_usage": true},
               "messages": [{"role": "user", "content": "count me"}]}),
    )
    .await;
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks = parse(&events);
    assert_eq!(chunks.len(), 8);
    for c in &chunks[..7] {
        assert_eq!(c["usage"], Value::Null);
        assert!(
            c.get("usage").is_some(),
            "usage:null present on every chunk"
        );
        assert_eq!(c["choices"].as_array().unwrap().len(), 1);
    }
    let last = &chunks[7];
    assert_eq!(last["object"], "chat.completion.chunk");
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["prompt_tokens"], 3);
    assert_eq!(last["usage"]["completion_tokens"], 5);
    assert_eq!(last["usage"]["total_tokens"], 8);
}

#[tokio::test]
async fn stream_usage_override_and_chunk_count_option() {
    let mock = MockUpstream::start_with(MockOptions {
        stream_chunks: 3,
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let resp = client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .header("x-mock-usage", r#"{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3,"prompt_tokens_details":{"cached_tokens":1}}"#)
        .json(&json!({"model": "m", "stream": true, "stream_options": {"include_usage": true},
                      "messages": [{"role": "user", "content": "q"}]}))
        .send()
        .await
        .unwrap();
    let events = sse_data(&resp.text().await.unwrap());
    let chunks = parse(&events);
    // role + 3 content + finish + usage
    assert_eq!(chunks.len(), 6);
    assert_eq!(
        chunks[5]["usage"]["prompt_tokens_details"]["cached_tokens"],
        1
    );
}

#[tokio::test]
async fn stream_chunks_arrive_separately_with_gap() {
    let mock = MockUpstream::start_with(MockOptions {
        chunk_gap: Duration::from_millis(30),
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let started = Instant::now();
    let resp = client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .json(
            &json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "q"}]}),
        )
        .send()
        .await
        .unwrap();
    let mut body = resp.bytes_stream();
    let mut frames = 0;
    let mut first_at = None;
    while let Some(b) = body.next().await {
        b.unwrap();
        frames += 1;
        first_at.get_or_insert_with(|| started.elapsed());
    }
    // 8 events (role, 5 content, finish, [DONE]) with 7 gaps of 30ms.
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(
        frames >= 4,
        "events were written as produced, got {frames} frames"
    );
    assert!(first_at.unwrap() < Duration::from_millis(150));
    assert!(wait_until(Duration::from_secs(2), || mock.active_streams() == 0).await);
    assert_eq!(mock.cancelled_streams(), 0);
}

#[tokio::test]
async fn legacy_completion_stream() {
    let mock = MockUpstream::start().await.unwrap();
    let resp = client()
        .post(format!("{}/v1/completions", mock.url()))
        .json(&json!({"model": "m", "prompt": "p", "stream": true,
                      "stream_options": {"include_usage": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let events = sse_data(&resp.text().await.unwrap());
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks = parse(&events);
    assert_eq!(chunks.len(), 7); // 5 content + finish + usage
    let text: String = chunks[..5]
        .iter()
        .map(|c| {
            assert_eq!(c["object"], "text_completion");
            c["choices"][0]["text"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(text, "mock reply to: p");
    assert_eq!(chunks[5]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[6]["choices"], json!([]));
    assert_eq!(chunks[6]["usage"]["total_tokens"], 5);
}

#[tokio::test]
async fn client_disconnect_cancels_the_stream() {
    let mock = MockUpstream::start_with(MockOptions {
        stream_chunks: 50,
        chunk_gap: Duration::from_millis(20),
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let resp = client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .json(&json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "long"}]}))
        .send()
        .await
        .unwrap();
    let mut body = resp.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(first.starts_with(b"data: "));
    assert_eq!(mock.active_streams(), 1);
    assert_eq!(mock.cancelled_streams(), 0);
    drop(body);

    assert!(
        wait_until(Duration::from_secs(5), || mock.active_streams() == 0).await,
        "upstream stream still alive after client went away"
    );
    assert_eq!(mock.cancelled_streams(), 1);
}

#[tokio::test]
async fn completed_streams_are_not_cancelled() {
    let mock = MockUpstream::start().await.unwrap();
    for _ in 0..3 {
        let (_, events) = stream_chat(
            &mock,
            json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "x"}]}),
        )
        .await;
        assert_eq!(events.last().unwrap(), "[DONE]");
    }
    assert!(wait_until(Duration::from_secs(2), || mock.active_streams() == 0).await);
    assert_eq!(mock.cancelled_streams(), 0);
}
