//! Server behaviour: graceful shutdown drains in-flight work, HTTP/1.1 framing
//! is strict (no smuggling), oversized heads are refused, h2c works.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use ferro_mock_upstream::{MockOptions, MockUpstream};
use std::time::{Duration, Instant};

#[tokio::test]
async fn graceful_shutdown_lets_in_flight_requests_finish() {
    let up = MockUpstream::start_with(MockOptions {
        latency: Duration::from_millis(600),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut gw = Gw::start(&[("OPENAI_API_KEY", "sk-x"), ("OPENAI_BASE_URL", &up.url())]).await;
    let req = gw
        .post("/v1/chat/completions")
        .body(chat_body("gpt-4o-mini", "slow one").to_string())
        .send();
    let in_flight = tokio::spawn(req);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let t0 = Instant::now();
    gw.begin_shutdown();
    let resp = in_flight.await.unwrap().unwrap();
    assert_eq!(
        resp.status(),
        200,
        "in-flight request completed after the signal"
    );
    let v: serde_json::Value = resp.json().await.unwrap();
    assert!(v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .contains("slow one"));
    // new connections are refused once draining started
    let addr = gw.url.trim_start_matches("http://").to_owned();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        tokio::net::TcpStream::connect(&addr).await.is_err(),
        "listener still open"
    );
    tokio::time::timeout(Duration::from_secs(6), &mut gw.task)
        .await
        .expect("server stopped")
        .unwrap();
    assert!(t0.elapsed() < Duration::from_secs(6));
}

#[tokio::test]
async fn request_smuggling_and_bad_framing_are_refused() {
    let gw = Gw::start(&[]).await;
    let body = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}]}"#;
    let both = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        body.len()
    );
    let (status, _) = raw(&gw, both.as_bytes()).await;
    assert_eq!(status, 400, "CL + TE together");
    let two_cl = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{body}"
    );
    assert_eq!(
        raw(&gw, two_cl.as_bytes()).await.0,
        400,
        "conflicting Content-Length"
    );
    let space = "GET /livez HTTP/1.1\r\nHost : x\r\n\r\n";
    assert_eq!(
        raw(&gw, space.as_bytes()).await.0,
        400,
        "whitespace before colon"
    );
    let huge = format!(
        "GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let (status, _) = raw(&gw, huge.as_bytes()).await;
    assert!(
        status == 431 || status == 400 || status == 0,
        "oversized head: {status}"
    );
    let many: String = (0..150).map(|i| format!("X-H{i}: v\r\n")).collect();
    let (status, _) = raw(
        &gw,
        format!("GET /livez HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes(),
    )
    .await;
    assert!(
        status == 431 || status == 400 || status == 0,
        "too many headers: {status}"
    );
    // the server is still healthy
    let ok = "GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert_eq!(raw(&gw, ok.as_bytes()).await.0, 200);
}

#[tokio::test]
async fn h2c_prior_knowledge_is_served() {
    let gw = Gw::start(&[]).await;
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let r = client
        .post(format!("{}/v1/chat/completions", gw.url))
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body(chat_body("gpt-4o-mini", "over h2").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn keep_alive_reuses_connections() {
    let gw = Gw::start(&[]).await;
    let req = "GET /livez HTTP/1.1\r\nHost: x\r\n\r\nGET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let (_, text) = raw(&gw, req.as_bytes()).await;
    assert_eq!(text.matches("HTTP/1.1 200").count(), 2, "{text}");
}
