//! One terminal record per routed request, success or failure, streamed or not.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use ferro_mock_upstream::{Fault, MockUpstream};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn every_routed_request_gets_one_terminal_record() {
    let up = MockUpstream::start().await.unwrap();
    let cap = Arc::new(Captured::default());
    let gw = Gw::start_full(
        &[("OPENAI_API_KEY", "sk-x"), ("OPENAI_BASE_URL", &up.url())],
        None,
        Some(cap.clone()),
    )
    .await;
    let ok = gw.chat(chat_body("gpt-4o-mini", "one")).await;
    let trace = ok.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: serde_json::Value = ok.json().await.unwrap();
    gw.chat(chat_body("unknown-model-zzz", "two")).await;
    up.push_fault(Fault::Status {
        status: 500,
        body: None,
        retry_after: None,
    });
    gw.chat(chat_body("gpt-4o-mini", "three")).await;
    let s = gw.chat(json!({"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"four"}]})).await;
    let _ = s.text().await.unwrap();
    gw.get("/v1/models").send().await.unwrap();
    // the stream record is written when the relay finishes
    tokio::time::sleep(Duration::from_millis(100)).await;
    let recs = cap.all();
    assert_eq!(recs.len(), 4, "{recs:#?}");
    let first = &recs[0];
    assert_eq!(&*first.trace_id, trace);
    assert_eq!(first.status, 200);
    assert_eq!(first.route, "chat");
    assert_eq!(first.provider, "openai");
    assert!(first.api_key_id.starts_with("master-key:"));
    assert!((first.cost_usd.unwrap() - body["usage"]["cost_usd"].as_f64().unwrap()).abs() < 1e-12);
    assert_eq!(
        first.usage.prompt,
        body["usage"]["prompt_tokens"].as_u64().unwrap()
    );
    assert_eq!(
        (recs[1].status, recs[1].error_message.is_some()),
        (404, true)
    );
    assert_eq!(recs[2].status, 502);
    let st = &recs[3];
    assert!(st.stream && st.status == 200 && st.usage.completion > 0 && st.cost_usd.is_some());
    assert!(st.ttft_ms.is_some());
}
