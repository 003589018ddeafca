//! Every error class of CONTRACT §3 over real HTTP: client errors refused before
//! any upstream call, upstream failures mapped, the envelope always exact.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use ferro_mock_upstream::{Fault, MockUpstream};
use std::time::Duration;

async fn setup() -> (MockUpstream, Gw) {
    let up = MockUpstream::start().await.unwrap();
    let gw = Gw::start(&[
        ("OPENAI_API_KEY", "sk-live-abcdefghijklmnopqrstuvwxyz"),
        ("OPENAI_BASE_URL", &up.url()),
    ])
    .await;
    (up, gw)
}

#[tokio::test]
async fn auth_errors() {
    let (up, gw) = setup().await;
    let url = format!("{}/v1/chat/completions", gw.url);
    let body = chat_body("gpt-4o-mini", "x").to_string();
    let r = gw
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "missing_api_key").await;
    let r = gw
        .client
        .post(&url)
        .bearer_auth("wrong")
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "invalid_api_key").await;
    let r = gw
        .client
        .post(&url)
        .header("authorization", format!("bearer {KEY}"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "missing_api_key").await;
    // wrong method without a key: auth first
    let r = gw.client.get(&url).send().await.unwrap();
    expect_error(r, 401, "missing_api_key").await;
    assert_eq!(up.hits(), 0);
}

#[tokio::test]
async fn unauthenticated_proxy_mode() {
    let up = MockUpstream::start().await.unwrap();
    let gw = Gw::start(&[
        ("OPENAI_API_KEY", "sk-x"),
        ("OPENAI_BASE_URL", &up.url()),
        ("ALLOW_UNAUTHENTICATED_PROXY", "true"),
    ])
    .await;
    let r = gw
        .client
        .post(format!("{}/v1/chat/completions", gw.url))
        .header("content-type", "application/json")
        .body(chat_body("gpt-4o-mini", "x").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn request_validation_never_reaches_upstream() {
    let (up, gw) = setup().await;
    let cases: &[(&str, u16, &str)] = &[
        ("{", 400, "invalid_request"),
        ("", 400, "invalid_request"),
        (
            r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}]} trailing"#,
            400,
            "invalid_request",
        ),
        (
            r#"{"model":"gpt-4o-mini","model":"gpt-4o","messages":[{"role":"user","content":"x"}]}"#,
            400,
            "invalid_request",
        ),
        (
            r#"{"model":"gpt-4o-mini","\u006dodel":"gpt-4o","messages":[{"role":"user","content":"x"}]}"#,
            400,
            "invalid_request",
        ),
        (
            r#"{"messages":[{"role":"user","content":"x"}]}"#,
            400,
            "invalid_request",
        ),
        (
            r#"{"model":"gpt-4o-mini","messages":[]}"#,
            400,
            "invalid_request",
        ),
        (
            r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}],"temperature":2.5}"#,
            400,
            "invalid_request",
        ),
        (
            r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}],"max_tokens":-1}"#,
            400,
            "invalid_request",
        ),
        (
            r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}],"n":1e400}"#,
            400,
            "invalid_request",
        ),
        (
            r#"{"model":"gpt 4o","messages":[{"role":"user","content":"x"}]}"#,
            400,
            "invalid_request",
        ),
        (r#"[1,2]"#, 400, "invalid_request"),
    ];
    for (body, status, code) in cases {
        let r = gw
            .post("/v1/chat/completions")
            .body(*body)
            .send()
            .await
            .unwrap();
        let msg = expect_error(r, *status, code).await;
        assert!(msg.len() < 300, "error message too long for {body}");
    }
    let deep = format!("{{\"model\":\"gpt-4o-mini\",\"messages\":[{{\"role\":\"user\",\"content\":\"x\"}}],\"x\":{}{}}}", "[".repeat(200), "]".repeat(200));
    expect_error(
        gw.post("/v1/chat/completions")
            .body(deep)
            .send()
            .await
            .unwrap(),
        400,
        "invalid_request",
    )
    .await;
    assert_eq!(up.hits(), 0);
}

#[tokio::test]
async fn size_type_and_method_errors() {
    let (up, gw) = setup().await;
    let big = vec![b' '; 11 * 1024 * 1024];
    let r = gw
        .post("/v1/chat/completions")
        .body(big)
        .send()
        .await
        .unwrap();
    expect_error(r, 413, "request_too_large").await;
    let url = format!("{}/v1/chat/completions", gw.url);
    let r = gw
        .client
        .post(&url)
        .bearer_auth(KEY)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    // two Content-Type headers: refused, never guessed
    let r = gw
        .post("/v1/chat/completions")
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "invalid_request").await;
    let r = gw
        .post("/v1/chat/completions")
        .header("content-encoding", "gzip")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let r = gw.get("/v1/chat/completions").send().await.unwrap();
    assert_eq!(r.headers()["allow"], "POST");
    expect_error(r, 405, "method_not_supported").await;
    let r = gw
        .client
        .post(format!("{}/health", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["allow"], "GET, HEAD");
    expect_error(r, 405, "method_not_supported").await;
    let r = gw
        .client
        .request(
            reqwest::Method::from_bytes(b"BREW").unwrap(),
            format!("{}/health", gw.url),
        )
        .send()
        .await
        .unwrap();
    expect_error(r, 501, "method_not_supported").await;
    let r = gw
        .client
        .get(format!("{}/nothing-here", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.text().await.unwrap(), "404 page not found");
    assert_eq!(up.hits(), 0);
}

#[tokio::test]
async fn configured_body_limit_applies() {
    let up = MockUpstream::start().await.unwrap();
    let gw = Gw::start_with_config(
        &[("OPENAI_API_KEY", "sk-x"), ("OPENAI_BASE_URL", &up.url())],
        Some("targets:\n  - virtual_key: openai\nmax_request_bytes: 1024\n"),
    )
    .await;
    let text = "y".repeat(2000);
    expect_error(
        gw.chat(chat_body("gpt-4o-mini", &text)).await,
        413,
        "request_too_large",
    )
    .await;
    assert_eq!(
        gw.chat(chat_body("gpt-4o-mini", "short")).await.status(),
        200
    );
}

#[tokio::test]
async fn upstream_status_mapping() {
    let (up, gw) = setup().await;
    let cases: &[(u16, u16, &str)] = &[
        (401, 502, "upstream_auth_error"),
        (403, 502, "upstream_auth_error"),
        (500, 502, "upstream_error"),
        (503, 502, "upstream_error"),
        (504, 504, "upstream_timeout"),
        (408, 504, "upstream_timeout"),
        (404, 404, "model_not_found"),
        (422, 422, "invalid_request"),
    ];
    for (upstream, status, code) in cases {
        up.push_fault(Fault::Status {
            status: *upstream,
            body: None,
            retry_after: None,
        });
        expect_error(gw.chat(chat_body("gpt-4o-mini", "x")).await, *status, code).await;
    }
    up.push_fault(Fault::Status {
        status: 429,
        body: None,
        retry_after: Some("7".into()),
    });
    let r = gw.chat(chat_body("gpt-4o-mini", "x")).await;
    assert_eq!(r.headers()["retry-after"], "7");
    expect_error(r, 429, "rate_limit_exceeded").await;
    // upstream 400 keeps its status and (redacted) message
    up.push_fault(Fault::Status {
        status: 400,
        body: Some(r#"{"error":{"message":"bad key sk-live-abcdefghijklmnopqrstuvwxyz in request","type":"invalid_request_error"}}"#.into()),
        retry_after: None,
    });
    let msg = expect_error(
        gw.chat(chat_body("gpt-4o-mini", "x")).await,
        400,
        "invalid_request",
    )
    .await;
    assert!(
        msg.contains("[REDACTED]") && !msg.contains("abcdefghij"),
        "{msg}"
    );
    up.push_fault(Fault::Redirect {
        location: "http://169.254.169.254/".into(),
    });
    expect_error(
        gw.chat(chat_body("gpt-4o-mini", "x")).await,
        502,
        "upstream_error",
    )
    .await;
    up.push_fault(Fault::DropConnection);
    expect_error(
        gw.chat(chat_body("gpt-4o-mini", "x")).await,
        502,
        "upstream_error",
    )
    .await;
}

#[tokio::test]
async fn connection_refused_is_502() {
    let gw = Gw::start(&[
        ("OPENAI_API_KEY", "sk-x"),
        ("OPENAI_BASE_URL", "http://127.0.0.1:1"),
    ])
    .await;
    expect_error(
        gw.chat(chat_body("gpt-4o-mini", "x")).await,
        502,
        "upstream_error",
    )
    .await;
}

#[tokio::test]
async fn request_timeout_is_504() {
    let up = MockUpstream::start().await.unwrap();
    let gw = Gw::start_with_config(
        &[("OPENAI_API_KEY", "sk-x"), ("OPENAI_BASE_URL", &up.url())],
        Some("targets:\n  - virtual_key: openai\nrequest_timeout: 200ms\n"),
    )
    .await;
    up.push_fault(Fault::Delay(Duration::from_secs(2)));
    expect_error(
        gw.chat(chat_body("gpt-4o-mini", "x")).await,
        504,
        "gateway_timeout",
    )
    .await;
}

#[tokio::test]
async fn trace_id_header_rules() {
    let (_up, gw) = setup().await;
    let r = gw
        .get("/livez")
        .header("x-request-id", "0123456789ABCDEF0123456789ABCDEF")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["x-request-id"],
        "0123456789abcdef0123456789abcdef"
    );
    let r = gw
        .get("/livez")
        .header("x-request-id", "not-a-trace-id")
        .send()
        .await
        .unwrap();
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(id, "not-a-trace-id");
    assert_eq!(id.len(), 32);
    let r = gw
        .get("/livez")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["x-request-id"],
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    // errors carry it too
    let r = gw.chat(chat_body("nope-model", "x")).await;
    assert_eq!(r.headers()["x-request-id"].len(), 32);
}
