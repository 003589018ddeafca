//! The retry policy (CONTRACT §11.4), proven by counting requests that reached
//! a local server. `Retry-After: 0` keeps most tests instant; the jitter and
//! `Retry-After` timing tests measure elapsed time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use ferrolabsai::{Error, KeyUsageQuery, UpdateKeyRequest};
use std::time::{Duration, Instant};

fn status(code: u16) -> Reply {
    Reply::json(
        code,
        serde_json::json!({"error": {"message": "nope", "code": "x"}}),
    )
    .header("retry-after", "0")
}

async fn chat_hits(code: u16) -> (usize, Error) {
    let m = Mock::fixed(status(code)).await;
    let e = m
        .client()
        .chat()
        .completions()
        .create(&chat_req())
        .await
        .unwrap_err();
    (m.hits(), e)
}

#[tokio::test]
async fn post_is_retried_on_429_only() {
    let (hits, e) = chat_hits(429).await;
    assert_eq!(hits, 3, "429: 1 + max_retries(2)");
    assert!(matches!(e, Error::RateLimit(_)), "{e:?}");
    assert_eq!(e.retry_after(), Some(Duration::ZERO));
    for code in [408, 500, 502, 503, 504] {
        let (hits, _) = chat_hits(code).await;
        assert_eq!(hits, 1, "POST must not be retried on {code}");
    }
    for code in [400, 401, 402, 403, 404, 409, 422] {
        let (hits, _) = chat_hits(code).await;
        assert_eq!(hits, 1, "{code} is final");
    }
}

#[tokio::test]
async fn idempotent_methods_retry_on_408_and_5xx() {
    for code in [408, 500, 502, 503, 504] {
        let m = Mock::fixed(status(code)).await;
        let e = m.client().models().list().await.unwrap_err();
        assert_eq!(m.hits(), 3, "GET {code}");
        assert_eq!(e.status(), Some(code));
    }
    // PUT and DELETE are idempotent too.
    let m = Mock::fixed(status(503)).await;
    let c = m.client();
    c.admin()
        .keys()
        .update("k1", &UpdateKeyRequest::default())
        .await
        .unwrap_err();
    assert_eq!(m.hits(), 3, "PUT");
    c.admin().keys().delete("k1").await.unwrap_err();
    assert_eq!(m.hits(), 6, "DELETE");
    // A POST admin write is not.
    c.admin().keys().rotate("k1").await.unwrap_err();
    assert_eq!(m.hits(), 7, "POST");
    // 4xx other than 408/429 is final for GET as well.
    let m = Mock::fixed(status(404)).await;
    m.client()
        .admin()
        .keys()
        .usage(&KeyUsageQuery::default())
        .await
        .unwrap_err();
    assert_eq!(m.hits(), 1);
}

#[tokio::test]
async fn recovers_when_a_retry_succeeds() {
    let m = Mock::start(|_, n| {
        if n == 0 {
            status(429)
        } else {
            Reply::json(200, chat_reply("second time"))
        }
    })
    .await;
    let r = m
        .client()
        .chat()
        .completions()
        .create(&chat_req())
        .await
        .unwrap();
    assert_eq!(r.content(), Some("second time"));
    assert_eq!(m.hits(), 2);
    // Each attempt re-sends the same body.
    let reqs = m.requests();
    assert_eq!(reqs[0].body, reqs[1].body);
}

#[tokio::test]
async fn max_retries_is_configurable() {
    let m = Mock::fixed(status(429)).await;
    let c = m.builder().max_retries(0).build().unwrap();
    c.chat()
        .completions()
        .create(&chat_req())
        .await
        .unwrap_err();
    assert_eq!(m.hits(), 1);
    let m = Mock::fixed(status(500)).await;
    let c = m.builder().max_retries(5).build().unwrap();
    c.models().list().await.unwrap_err();
    assert_eq!(m.hits(), 6);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let m = Mock::start(|_, n| {
        if n == 0 {
            Reply::json(429, serde_json::json!({})).header("retry-after", "1")
        } else {
            Reply::json(200, chat_reply("ok"))
        }
    })
    .await;
    let t = Instant::now();
    m.client()
        .chat()
        .completions()
        .create(&chat_req())
        .await
        .unwrap();
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(950), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    assert_eq!(m.hits(), 2);
}

#[tokio::test]
async fn full_jitter_backoff_without_retry_after() {
    // Two retries wait at most 0.5 s + 1.0 s.
    let m = Mock::fixed(Reply::json(500, serde_json::json!({}))).await;
    let t = Instant::now();
    m.client().models().list().await.unwrap_err();
    assert_eq!(m.hits(), 3);
    assert!(
        t.elapsed() < Duration::from_millis(1500 + 1000),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn timeouts_retry_only_idempotent_methods() {
    let slow = Reply::json(200, chat_reply("late")).delay(Duration::from_secs(3));
    let m = Mock::fixed(slow).await;
    let c = m
        .builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let e = c
        .chat()
        .completions()
        .create(&chat_req())
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Connection { timeout: true, .. }),
        "{e:?}"
    );
    assert_eq!(m.hits(), 1, "a timed-out POST may have been processed");
    let e = c.models().list().await.unwrap_err();
    assert!(matches!(e, Error::Connection { timeout: true, .. }));
    assert_eq!(m.hits(), 1 + 3, "GET retried after timeouts");
}

#[tokio::test]
async fn connect_errors_become_connection_errors() {
    // A port nothing listens on.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let c = ferrolabsai::FerroClient::builder()
        .api_key(KEY)
        .base_url(format!("http://{addr}"))
        .env_lookup(|_| None)
        .max_retries(1)
        .build()
        .unwrap();
    let e = c
        .chat()
        .completions()
        .create(&chat_req())
        .await
        .unwrap_err();
    match &e {
        Error::Connection {
            timeout, message, ..
        } => {
            assert!(!timeout);
            assert!(message.contains("cannot reach"), "{message}");
            assert!(!message.contains(KEY));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn streams_are_never_retried() {
    let m = Mock::fixed(status(429)).await;
    let e = m
        .client()
        .chat()
        .completions()
        .stream(&chat_req())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::RateLimit(_)));
    assert_eq!(m.hits(), 1);
    let m = Mock::fixed(status(503)).await;
    m.client()
        .chat()
        .completions()
        .stream(&chat_req())
        .await
        .unwrap_err();
    assert_eq!(m.hits(), 1);
}

#[tokio::test]
async fn probes_return_503_without_retrying() {
    let m = Mock::fixed(
        Reply::json(
            503,
            serde_json::json!({"status": "not_ready", "reason": "no routable targets"}),
        )
        .header("retry-after", "0"),
    )
    .await;
    let c = m.client();
    let ready = c.ready().await.unwrap();
    assert_eq!(ready.http_status, 503);
    assert_eq!(ready.reason.as_deref(), Some("no routable targets"));
    assert!(!ready.is_ok());
    let health = c.health().await.unwrap();
    assert_eq!(health.status, "not_ready");
    assert_eq!(m.hits(), 2, "no retries for a 503 probe answer");
    // /livez has no 503 answer: it is a server error (and GET, so retried).
    let e = c.live().await.unwrap_err();
    assert!(matches!(e, Error::Server(_)));
    assert_eq!(m.hits(), 2 + 3);
}
