//! Fault injection: status, delay, latency, dropped connections, mid-stream
//! aborts, redirects; one-shot versus persistent; HTTP control route.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{client, sse_data};
use ferro_mock_upstream::{Fault, MockOptions, MockUpstream};
use futures_util::StreamExt;
use serde_json::{json, Value};

fn chat_body(stream: bool) -> Value {
    json!({"model": "m", "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

async fn chat_status(mock: &MockUpstream) -> u16 {
    client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .json(&chat_body(false))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn status_fault_default_body_and_retry_after() {
    let mock = MockUpstream::start().await.unwrap();
    mock.set_fault(Fault::Status {
        status: 429,
        body: None,
        retry_after: Some("3".into()),
    });
    let resp = client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers()["retry-after"], "3");
    assert_eq!(resp.headers()["content-type"], "application/json");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v,
        json!({"error": {"message": "mock failure", "type": "server_error", "code": null}})
    );

    mock.set_fault(Fault::Status {
        status: 500,
        body: Some(r#"{"custom":true}"#.into()),
        retry_after: None,
    });
    let resp = client()
        .get(format!("{}/v1/models", mock.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 500);
    assert!(resp.headers().get("retry-after").is_none());
    assert_eq!(resp.text().await.unwrap(), r#"{"custom":true}"#);
}

#[tokio::test]
async fn one_shot_faults_are_fifo_then_persistent_applies() {
    let mock = MockUpstream::start().await.unwrap();
    let status = |s| Fault::Status {
        status: s,
        body: None,
        retry_after: None,
    };
    mock.push_fault(status(500));
    mock.push_fault(status(502));
    assert_eq!(chat_status(&mock).await, 500);
    assert_eq!(chat_status(&mock).await, 502);
    assert_eq!(chat_status(&mock).await, 200);

    mock.set_fault(status(503));
    mock.push_fault(status(429));
    assert_eq!(chat_status(&mock).await, 429);
    assert_eq!(chat_status(&mock).await, 503);
    assert_eq!(chat_status(&mock).await, 503);
    mock.clear_faults();
    assert_eq!(chat_status(&mock).await, 200);
    // Faulted requests still count as hits.
    assert_eq!(mock.hits(), 7);
}

#[tokio::test]
async fn delay_fault_and_latency_option() {
    let mock = MockUpstream::start().await.unwrap();
    mock.push_fault(Fault::Delay(Duration::from_millis(400)));
    let t = Instant::now();
    assert_eq!(chat_status(&mock).await, 200);
    assert!(t.elapsed() >= Duration::from_millis(400));
    // One-shot: consumed, the next request is not delayed.
    let t = Instant::now();
    assert_eq!(chat_status(&mock).await, 200);
    assert!(t.elapsed() < Duration::from_millis(400));

    let slow = MockUpstream::start_with(MockOptions {
        latency: Duration::from_millis(100),
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let t = Instant::now();
    assert_eq!(chat_status(&slow).await, 200);
    assert!(t.elapsed() >= Duration::from_millis(100));
}

#[tokio::test]
async fn drop_connection_gives_no_response() {
    let mock = MockUpstream::start().await.unwrap();
    mock.push_fault(Fault::DropConnection);
    let err = client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .json(&chat_body(false))
        .send()
        .await
        .expect_err("connection should be dropped without a response");
    assert!(!err.is_status());
    assert!(!err.is_timeout());
    // One-shot: the next request is fine.
    assert_eq!(chat_status(&mock).await, 200);
    assert_eq!(mock.hits(), 2);
}

#[tokio::test]
async fn stream_then_error_aborts_mid_body() {
    let mock = MockUpstream::start().await.unwrap();
    mock.push_fault(Fault::StreamThenError { after_chunks: 3 });
    let resp = client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .json(&chat_body(true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let mut body = resp.bytes_stream();
    let mut received = Vec::new();
    let mut failed = false;
    while let Some(item) = body.next().await {
        match item {
            Ok(b) => received.extend_from_slice(&b),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "body must end in an error, not cleanly");
    let events = sse_data(std::str::from_utf8(&received).unwrap());
    assert_eq!(events.len(), 3);
    assert!(!events.iter().any(|e| e == "[DONE]"));
    // The scripted abort is not a client cancellation.
    assert!(common::wait_until(Duration::from_secs(2), || mock.active_streams() == 0).await);
    assert_eq!(mock.cancelled_streams(), 0);

    // Non-stream request under the same fault: truncated JSON, then abort.
    mock.push_fault(Fault::StreamThenError { after_chunks: 0 });
    let resp = client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert!(resp.bytes().await.is_err());
}

#[tokio::test]
async fn redirect_fault() {
    let mock = MockUpstream::start().await.unwrap();
    mock.push_fault(Fault::Redirect {
        location: "http://127.0.0.1:1/elsewhere".into(),
    });
    let resp = client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 302);
    assert_eq!(resp.headers()["location"], "http://127.0.0.1:1/elsewhere");
}

#[tokio::test]
async fn http_fault_control_route() {
    let mock = MockUpstream::start().await.unwrap();
    let control = format!("{}/__mock/fault", mock.url());
    let set = |body: Value| {
        let control = control.clone();
        async move {
            let resp = client().post(control).json(&body).send().await.unwrap();
            resp.status().as_u16()
        }
    };

    assert_eq!(set(json!({"status": 503})).await, 200);
    assert_eq!(chat_status(&mock).await, 503);
    assert_eq!(chat_status(&mock).await, 503);
    assert_eq!(set(json!({"clear": true})).await, 200);
    assert_eq!(chat_status(&mock).await, 200);

    assert_eq!(set(json!({"delay_ms": 120, "once": true})).await, 200);
    let t = Instant::now();
    assert_eq!(chat_status(&mock).await, 200);
    assert!(t.elapsed() >= Duration::from_millis(120));

    assert_eq!(set(json!({"drop": true})).await, 200);
    assert!(client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .json(&chat_body(false))
        .send()
        .await
        .is_err());
    // Control routes are never faulted.
    assert_eq!(set(json!({"clear": true})).await, 200);
    assert_eq!(chat_status(&mock).await, 200);

    assert_eq!(set(json!({"bogus": 1})).await, 400);
    // Control traffic is not counted.
    assert_eq!(mock.hits(), 6);
}
