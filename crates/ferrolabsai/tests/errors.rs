//! Error mapping over real HTTP: variant per status, code/message precedence,
//! request ids, redaction, redirects and undecodable bodies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use ferrolabsai::Error;
use serde_json::json;

async fn err_for(reply: Reply) -> Error {
    let m = Mock::fixed(reply).await;
    m.builder()
        .max_retries(0)
        .build()
        .unwrap()
        .chat()
        .completions()
        .create(&chat_req())
        .await
        .unwrap_err()
}

fn envelope(code: &str, message: &str) -> serde_json::Value {
    json!({"error": {"message": message, "type": "some_type", "code": code}})
}

#[tokio::test]
async fn each_status_maps_to_its_variant() {
    type Case = (u16, &'static str, fn(&Error) -> bool);
    let cases: &[Case] = &[
        (401, "invalid_api_key", |e| matches!(e, Error::Auth(_))),
        (402, "insufficient_quota", |e| {
            matches!(e, Error::BudgetExceeded(_))
        }),
        (403, "insufficient_scope", |e| {
            matches!(e, Error::Permission(_))
        }),
        (404, "model_not_found", |e| matches!(e, Error::NotFound(_))),
        (429, "rate_limit_exceeded", |e| {
            matches!(e, Error::RateLimit(_))
        }),
        (500, "internal_error", |e| matches!(e, Error::Server(_))),
        (502, "upstream_error", |e| matches!(e, Error::Server(_))),
        (504, "gateway_timeout", |e| matches!(e, Error::Server(_))),
        (400, "invalid_request", |e| matches!(e, Error::Api(_))),
        (405, "method_not_supported", |e| matches!(e, Error::Api(_))),
        (409, "last_admin_key", |e| matches!(e, Error::Api(_))),
        (413, "request_too_large", |e| matches!(e, Error::Api(_))),
        (501, "not_implemented", |e| matches!(e, Error::Server(_))),
    ];
    for (status, code, is) in cases {
        let e = err_for(
            Reply::json(*status, envelope(code, "the message")).header("x-request-id", TRACE),
        )
        .await;
        assert!(is(&e), "{status}: {e:?}");
        assert_eq!(e.status(), Some(*status));
        assert_eq!(e.code(), Some(*code));
        assert_eq!(e.message(), "the message");
        assert_eq!(e.request_id().unwrap(), TRACE);
        let shown = e.to_string();
        assert!(
            shown.contains("the message") && shown.contains(TRACE),
            "{shown}"
        );
    }
}

#[tokio::test]
async fn rate_limit_carries_retry_after() {
    let e = err_for(
        Reply::json(429, envelope("rate_limit_exceeded", "slow")).header("retry-after", "12"),
    )
    .await;
    assert_eq!(e.retry_after(), Some(std::time::Duration::from_secs(12)));
    let e = err_for(
        Reply::json(429, envelope("rate_limit_exceeded", "slow"))
            .header("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"),
    )
    .await;
    assert_eq!(e.retry_after(), None, "only numeric seconds");
}

#[tokio::test]
async fn request_id_precedence() {
    // header → body request_id → body trace_id
    let body =
        json!({"error": {"message": "m"}, "request_id": "from_body", "trace_id": "from_trace"});
    let e = err_for(Reply::json(500, body.clone()).header("x-request-id", "from_header")).await;
    assert_eq!(e.request_id().unwrap(), "from_header");
    let e = err_for(Reply::json(500, body)).await;
    assert_eq!(e.request_id().unwrap(), "from_body");
    let e = err_for(Reply::json(
        500,
        json!({"error": {"message": "m"}, "trace_id": "from_trace"}),
    ))
    .await;
    assert_eq!(e.request_id().unwrap(), "from_trace");
    // An invalid header id is not trusted; the body's is used.
    let e = err_for(
        Reply::json(500, json!({"request_id": "ok_id"})).header("x-request-id", "bad id;drop"),
    )
    .await;
    assert_eq!(e.request_id().unwrap(), "ok_id");
}

#[tokio::test]
async fn message_fallbacks() {
    let e = err_for(Reply::json(
        400,
        json!({"message": "top level", "code": "top_code"}),
    ))
    .await;
    assert_eq!((e.message(), e.code()), ("top level", Some("top_code")));
    let e = err_for(Reply::text(502, "Bad Gateway from the proxy")).await;
    assert_eq!(e.message(), "Bad Gateway from the proxy");
    assert_eq!(e.code(), None);
    let e = err_for(Reply::new(503)).await;
    assert_eq!(e.message(), "HTTP 503 Service Unavailable");
    let e = err_for(Reply::json(400, json!({"error": "plain string error"}))).await;
    assert_eq!(e.message(), "plain string error");
}

#[tokio::test]
async fn echoed_key_never_reaches_the_error() {
    let e = err_for(Reply::json(
        401,
        envelope(KEY, &format!("key {KEY} is not valid")),
    ))
    .await;
    let all = format!("{e} | {e:?} | {} | {:?}", e.message(), e.code());
    assert!(!all.contains(KEY), "{all}");
    assert!(all.contains("[REDACTED]"));
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let m = Mock::start(|r, _| {
        if r.path == "/v1/chat/completions" {
            Reply::new(307).header("location", "/elsewhere")
        } else {
            Reply::json(200, chat_reply("followed!"))
        }
    })
    .await;
    let e = m
        .client()
        .chat()
        .completions()
        .create(&chat_req())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Api(_)), "{e:?}");
    assert_eq!(e.status(), Some(307));
    assert!(e.message().contains("redirect not followed"), "{e}");
    assert_eq!(
        m.hits_for("/elsewhere"),
        0,
        "the credential was not replayed"
    );
    // Also for GETs and streams.
    let m2 = Mock::fixed(Reply::new(302).header("location", format!("{}/x", m.url).as_str())).await;
    m2.client().models().list().await.unwrap_err();
    m2.client()
        .chat()
        .completions()
        .stream(&chat_req())
        .await
        .unwrap_err();
    assert_eq!(m.hits_for("/x"), 0);
}

#[tokio::test]
async fn a_byo_client_that_follows_redirects_is_refused() {
    let m = Mock::start(|r, _| {
        if r.path == "/v1/models" {
            Reply::new(302).header("location", "/moved")
        } else {
            Reply::json(200, json!({"data": []}))
        }
    })
    .await;
    let c = m
        .builder()
        .http_client(reqwest::Client::new()) // default policy follows redirects
        .build()
        .unwrap();
    let e = c.models().list().await.unwrap_err();
    assert!(matches!(e, Error::Config { .. }), "{e:?}");
    // A BYO client built without redirects sees the 3xx as an error instead.
    let c = m
        .builder()
        .http_client(
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    assert_eq!(c.models().list().await.unwrap_err().status(), Some(302));
}

#[tokio::test]
async fn undecodable_success_is_a_decode_error() {
    let e = err_for(Reply::text(200, "<html>not json</html>").header("x-request-id", TRACE)).await;
    match &e {
        Error::Decode { request_id, .. } => assert_eq!(request_id.as_ref().unwrap(), TRACE),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn missing_key_is_an_auth_error_before_any_request() {
    let e = ferrolabsai::FerroClient::builder()
        .env_lookup(|_| None)
        .build()
        .unwrap_err();
    assert!(matches!(e, Error::Auth(_)));
    assert_eq!(e.code(), Some("missing_api_key"));
    assert_eq!(e.status(), None);
}
