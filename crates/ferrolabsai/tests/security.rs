//! The SDK security guidelines, enforced: HTTPS off loopback, no key in
//! `Debug`/errors, headers, key rotation, and untrusted extras validated.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use ferrolabsai::{EmbeddingRequest, Error, FerroClient, SecretString};
use serde_json::json;

fn build(url: &str, insecure: bool) -> Result<FerroClient, Error> {
    FerroClient::builder()
        .api_key(KEY)
        .base_url(url)
        .allow_insecure_http(insecure)
        .env_lookup(|_| None)
        .build()
}

#[test]
fn https_is_required_off_loopback() {
    for url in [
        "http://gw.example.com",
        "http://192.168.1.10:8080",
        "http://[2001:db8::1]",
    ] {
        let e = build(url, false).unwrap_err();
        assert!(matches!(e, Error::Config { .. }), "{url}: {e:?}");
        assert!(e.to_string().contains("https"), "{e}");
        assert!(build(url, true).is_ok(), "{url} with allow_insecure_http");
    }
    for url in [
        "http://localhost:8080",
        "http://127.0.0.1:8080",
        "http://[::1]:8080",
        "https://gw.example.com",
    ] {
        assert!(build(url, false).is_ok(), "{url}");
    }
    assert!(build("https://user:secret@gw.example.com", false).is_err());
    // The env base URL is held to the same rule.
    let e = FerroClient::builder()
        .api_key(KEY)
        .env_lookup(|k| (k == "FERRO_BASE_URL").then(|| "http://gw.example.com".into()))
        .build()
        .unwrap_err();
    assert!(matches!(e, Error::Config { .. }));
}

#[test]
fn the_key_never_appears_in_debug_output() {
    let c = build("https://gw.example.com/", false).unwrap();
    let b = FerroClient::builder()
        .api_key(KEY)
        .default_header("x-team", "a");
    let s = SecretString::from(KEY);
    for shown in [
        format!("{c:?}"),
        format!("{c:#?}"),
        format!("{b:?}"),
        format!("{s:?}"),
    ] {
        assert!(!shown.contains(KEY), "{shown}");
        assert!(!shown.contains("0123456789abcdef"), "{shown}");
    }
    assert!(format!("{c:?}").contains("https://gw.example.com"));
    assert_eq!(c.base_url(), "https://gw.example.com");
}

#[test]
fn authorization_cannot_be_smuggled_through_default_headers() {
    let e = FerroClient::builder()
        .api_key(KEY)
        .env_lookup(|_| None)
        .default_header("authorization", "Bearer other")
        .build()
        .unwrap_err();
    assert!(matches!(e, Error::Config { .. }));
    let e = FerroClient::builder()
        .api_key(KEY)
        .env_lookup(|_| None)
        .default_header("bad header", "v")
        .build()
        .unwrap_err();
    assert!(matches!(e, Error::Config { .. }));
    let e = FerroClient::new("bad\nkey").unwrap_err();
    assert!(!e.to_string().contains("bad\nkey"));
}

#[tokio::test]
async fn headers_sent() {
    let m = Mock::fixed(Reply::json(200, chat_reply("x"))).await;
    let c = m
        .builder()
        .default_header("x-team", "search")
        .build()
        .unwrap();
    c.chat().completions().create(&chat_req()).await.unwrap();
    let r = m.last();
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-team"), Some("search"));
    assert!(r
        .header("user-agent")
        .unwrap()
        .starts_with("ferrolabsai-rust/"));
    assert_eq!(r.json()["stream"], false);
}

#[tokio::test]
async fn with_api_key_switches_only_the_new_client() {
    let m = Mock::fixed(Reply::json(200, json!({"data": []}))).await;
    let old = m.client();
    let new = old.with_api_key("fgw_rotated_key_value_9876").unwrap();
    new.models().list().await.unwrap();
    old.models().list().await.unwrap();
    let reqs = m.requests();
    assert_eq!(
        reqs[0].header("authorization"),
        Some("Bearer fgw_rotated_key_value_9876")
    );
    assert_eq!(
        reqs[1].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(new.base_url(), old.base_url());
    assert!(!format!("{new:?}").contains("fgw_rotated"));
    assert!(old.with_api_key("").is_err());
}

#[tokio::test]
async fn rotated_key_is_a_secret_and_plugs_into_the_client() {
    let m = Mock::fixed(Reply::json(
        200,
        json!({"id": "k1", "name": "svc", "key": "fgw_brand_new_secret_000111", "scopes": ["admin"],
               "created_at": "2026-01-01T00:00:00Z", "rotated_at": "2026-02-01T00:00:00Z", "active": true}),
    ))
    .await;
    let c = m.client();
    let rotated = c.admin().keys().rotate("k1").await.unwrap();
    assert_eq!(m.last().path, "/admin/keys/k1/rotate");
    assert!(!format!("{rotated:?}").contains("fgw_brand_new_secret"));
    assert_eq!(rotated.key.expose_secret(), "fgw_brand_new_secret_000111");
    let c2 = c.with_api_key(rotated.key).unwrap();
    c2.live().await.unwrap_or_default();
    assert_eq!(
        m.last().header("authorization"),
        Some("Bearer fgw_brand_new_secret_000111")
    );
}

#[tokio::test]
async fn extras_from_body_then_headers_and_validated() {
    // Body has none: headers fill them.
    let m = Mock::fixed(
        Reply::json(
            200,
            json!({"object": "list", "data": [{"index": 0, "embedding": [0.5, 1.0]}],
                                "model": "e", "usage": {"prompt_tokens": 2, "total_tokens": 2}}),
        )
        .header("x-request-id", TRACE)
        .header("x-gateway-provider", "openai-eu")
        .header("x-gateway-overhead-ms", "0.731"),
    )
    .await;
    let r = m
        .client()
        .embeddings()
        .create(&EmbeddingRequest::new("e", "hello"))
        .await
        .unwrap();
    assert_eq!(r.trace_id.unwrap(), TRACE);
    assert_eq!(r.provider.unwrap(), "openai-eu");
    assert_eq!(r.gateway_overhead_ms.unwrap().value(), 0.731);
    assert_eq!(r.data[0].embedding.as_floats(), Some(&[0.5f32, 1.0][..]));

    // The body wins; invalid body values fall back to valid headers; invalid
    // everywhere → None. Unknown fields survive.
    let m = Mock::fixed(
        Reply::json(
            200,
            json!({
            "choices": [], "provider": "<script>alert(1)</script>", "trace_id": "body_trace",
            "gateway_overhead_ms": -5, "usage": {"cost_usd": -0.01, "cache_hit": true},
            "brand_new_field": {"x": 1}}),
        )
        .header("x-request-id", "header_trace")
        .header("x-gateway-provider", "groq")
        .header("x-gateway-overhead-ms", "NaN"),
    )
    .await;
    let r = m
        .client()
        .chat()
        .completions()
        .create(&chat_req())
        .await
        .unwrap();
    assert_eq!(r.trace_id.as_ref().unwrap(), "body_trace");
    assert_eq!(r.provider.as_ref().unwrap(), "groq");
    assert!(r.gateway_overhead_ms.is_none());
    let u = r.usage.as_ref().unwrap();
    assert!(u.cost_usd.is_none(), "negative cost refused");
    assert_eq!(u.cache_hit, Some(true));
    assert_eq!(r.extra["brand_new_field"], json!({"x": 1}));
    // Re-serialising keeps the unknown field.
    assert_eq!(serde_json::to_value(&r).unwrap()["brand_new_field"]["x"], 1);
}

#[tokio::test]
async fn ids_are_percent_encoded_and_dot_segments_refused() {
    let m = Mock::fixed(Reply::json(200, json!({"id": "x"}))).await;
    let c = m.client();
    c.admin().keys().get("a/../b?c").await.unwrap();
    assert_eq!(m.last().path, "/admin/keys/a%2F..%2Fb%3Fc");
    let e = c.admin().keys().get("..").await.unwrap_err();
    assert!(matches!(e, Error::InvalidArgument { .. }));
    assert_eq!(m.hits(), 1);
}

#[tokio::test]
async fn clients_and_futures_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}
    send_sync::<FerroClient>();
    send_sync::<Error>();
    let m = Mock::fixed(Reply::json(200, chat_reply("spawned"))).await;
    let c = m.client();
    let fut = async move { c.chat().completions().create(&chat_req()).await };
    send(&fut);
    let r = tokio::spawn(fut).await.unwrap().unwrap();
    assert_eq!(r.content(), Some("spawned"));
}
