//! The door (★12, CONTRACT §1.1): per-IP limiter for unauthenticated and
//! failed-auth traffic (or everything with RATE_LIMIT_SCOPE=all), trusted
//! proxies, CORS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;

#[tokio::test]
async fn failed_auth_is_limited_per_ip_but_keys_are_not() {
    let gw = Gw::start(&[("RATE_LIMIT_RPS", "1"), ("RATE_LIMIT_BURST", "3")]).await;
    let url = format!("{}/v1/models", gw.url);
    for _ in 0..3 {
        let r = gw
            .client
            .get(&url)
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = gw
        .client
        .get(&url)
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["retry-after"], "1");
    expect_error(r, 429, "rate_limit_exceeded").await;
    // a different client IP behind the trusted (loopback) proxy has its own bucket
    let r = gw
        .client
        .get(&url)
        .bearer_auth("wrong")
        .header("x-forwarded-for", "203.0.113.7")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // authenticated traffic from the same IP is never throttled by the door
    for _ in 0..20 {
        assert_eq!(gw.get("/v1/models").send().await.unwrap().status(), 200);
    }
}

#[tokio::test]
async fn scope_all_limits_everything_but_probes() {
    let gw = Gw::start(&[
        ("RATE_LIMIT_RPS", "1"),
        ("RATE_LIMIT_BURST", "2"),
        ("RATE_LIMIT_SCOPE", "all"),
    ])
    .await;
    assert_eq!(gw.get("/v1/models").send().await.unwrap().status(), 200);
    assert_eq!(gw.get("/v1/models").send().await.unwrap().status(), 200);
    expect_error(
        gw.get("/v1/models").send().await.unwrap(),
        429,
        "rate_limit_exceeded",
    )
    .await;
    for _ in 0..5 {
        assert_eq!(
            gw.client
                .get(format!("{}/livez", gw.url))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
}

#[tokio::test]
async fn zero_rps_disables_the_limiter() {
    let gw = Gw::start(&[("RATE_LIMIT_RPS", "0")]).await;
    for _ in 0..60 {
        let r = gw
            .client
            .get(format!("{}/v1/models", gw.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
}

#[tokio::test]
async fn cors_preflight_and_simple_requests() {
    let gw = Gw::start(&[("CORS_ORIGINS", "https://app.example, https://admin.example")]).await;
    let pre = |origin: &'static str| {
        gw.client
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/v1/chat/completions", gw.url),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    let r = pre("https://app.example").await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    assert_eq!(
        r.headers()["access-control-allow-methods"],
        "GET, POST, PUT, DELETE, OPTIONS"
    );
    assert_eq!(
        r.headers()["access-control-allow-headers"],
        "Content-Type, Authorization, X-Provider"
    );
    assert_eq!(r.headers()["access-control-max-age"], "86400");
    let r = pre("https://evil.example").await.unwrap();
    assert_eq!(r.status(), 204);
    assert!(r.headers().get("access-control-allow-origin").is_none());
    let r = gw
        .get("/v1/models")
        .header("origin", "https://admin.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://admin.example"
    );
    assert_eq!(r.headers()["vary"], "Origin");
    let r = gw
        .get("/v1/models")
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}
