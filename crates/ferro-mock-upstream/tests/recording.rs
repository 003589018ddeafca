//! Recording, hit counters, the `/__mock/*` inspection routes and shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::client;
use ferro_mock_upstream::{MockOptions, MockUpstream};
use serde_json::{json, Value};

#[tokio::test]
async fn records_method_path_query_headers_and_body() {
    let mock = MockUpstream::start().await.unwrap();
    assert!(mock.url().starts_with("http://127.0.0.1:"));
    assert_eq!(mock.url(), format!("http://{}", mock.addr()));
    assert!(mock.last_request().is_none());

    let body = json!({"model": "m", "messages": [{"role": "user", "content": "rec"}]});
    client()
        .post(format!("{}/v1/chat/completions?api-version=1", mock.url()))
        .header("Authorization", "Bearer sk-test")
        .header("X-Custom-Thing", "Value-Case")
        .json(&body)
        .send()
        .await
        .unwrap();
    client()
        .get(format!("{}/v1/models", mock.url()))
        .send()
        .await
        .unwrap();

    let reqs = mock.requests();
    assert_eq!(reqs.len(), 2);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/chat/completions?api-version=1");
    assert!(r
        .headers
        .iter()
        .any(|(k, v)| k == "authorization" && v == "Bearer sk-test"));
    assert!(r
        .headers
        .iter()
        .any(|(k, v)| k == "x-custom-thing" && v == "Value-Case"));
    assert!(r.headers.iter().all(|(k, _)| *k == k.to_lowercase()));
    assert_eq!(r.header("X-CUSTOM-THING"), Some("Value-Case"));
    assert_eq!(r.body_json().unwrap(), body);
    assert_eq!(serde_json::from_slice::<Value>(&r.body).unwrap(), body);

    let last = mock.last_request().unwrap();
    assert_eq!(last.method, "GET");
    assert_eq!(last.path, "/v1/models");
    assert!(last.body.is_empty());

    assert_eq!(mock.hits(), 2);
    assert_eq!(mock.hits_for("/v1/chat/completions"), 1);
    assert_eq!(mock.hits_for("/v1/chat/completions?anything"), 1);
    assert_eq!(mock.hits_for("/v1/models"), 1);
    assert_eq!(mock.hits_for("/v1/embeddings"), 0);

    mock.clear_requests();
    assert!(mock.requests().is_empty());
    assert_eq!(mock.hits(), 0);
}

#[tokio::test]
async fn record_false_skips_recording_but_counts_hits() {
    let mock = MockUpstream::start_with(MockOptions {
        record: false,
        ..MockOptions::default()
    })
    .await
    .unwrap();
    for _ in 0..3 {
        client()
            .post(format!("{}/v1/embeddings", mock.url()))
            .json(&json!({"input": "x"}))
            .send()
            .await
            .unwrap();
    }
    assert!(mock.requests().is_empty());
    assert!(mock.last_request().is_none());
    assert_eq!(mock.hits(), 3);
    assert_eq!(mock.hits_for("/v1/embeddings"), 3);
}

#[tokio::test]
async fn control_routes_expose_requests_and_stats_uncounted() {
    let mock = MockUpstream::start().await.unwrap();
    client()
        .post(format!("{}/v1/moderations", mock.url()))
        .header("x-trace", "abc")
        .body(r#"{"input":"hello"}"#)
        .send()
        .await
        .unwrap();

    let v: Value = client()
        .get(format!("{}/__mock/requests", mock.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["method"], "POST");
    assert_eq!(list[0]["path"], "/v1/moderations");
    assert_eq!(list[0]["body"], r#"{"input":"hello"}"#);
    assert!(list[0]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h == &json!(["x-trace", "abc"])));

    let stats: Value = client()
        .get(format!("{}/__mock/stats", mock.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        stats,
        json!({"hits": 1, "active_streams": 0, "cancelled_streams": 0})
    );

    let resp = client()
        .delete(format!("{}/__mock/requests", mock.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(mock.requests().is_empty());
    // None of the control traffic was counted or recorded.
    assert_eq!(mock.hits(), 0);
}

#[tokio::test]
async fn shutdown_stops_listening() {
    let mock = MockUpstream::start().await.unwrap();
    let url = format!("{}/v1/models", mock.url());
    assert!(client().get(&url).send().await.is_ok());
    mock.shutdown().await;
    assert!(client().get(&url).send().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_are_all_counted() {
    let mock = MockUpstream::start().await.unwrap();
    let c = reqwest::Client::new();
    let mut tasks = Vec::new();
    for i in 0..64 {
        let c = c.clone();
        let url = format!("{}/v1/chat/completions", mock.url());
        tasks.push(tokio::spawn(async move {
            let v: Value = c
                .post(url)
                .json(&json!({"model": "m", "messages": [{"role": "user", "content": format!("n{i}")}]}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["choices"][0]["message"]["content"].as_str().unwrap().to_owned()
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        assert_eq!(t.await.unwrap(), format!("mock reply to: n{i}"));
    }
    assert_eq!(mock.hits(), 64);
    assert_eq!(mock.requests().len(), 64);
}
