//! The blocking client (feature `blocking`): same policy and types, driven on
//! a private runtime; refuses to run inside an async runtime.
#![cfg(feature = "blocking")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use ferrolabsai::{blocking, Error};
use std::time::Duration;

/// The mock server runs on its own multi-thread runtime, kept alive by the guard.
fn server(
    handler: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static,
) -> (tokio::runtime::Runtime, Mock) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let m = rt.block_on(Mock::start(handler));
    (rt, m)
}

fn client(m: &Mock) -> blocking::FerroClient {
    m.builder().build_blocking().unwrap()
}

#[test]
fn create_stream_and_errors() {
    let (_rt, m) = server(|r, n| {
        match (
            r.path.as_str(),
            serde_json::from_slice::<serde_json::Value>(&r.body)
                .ok()
                .and_then(|v| v["stream"].as_bool()),
        ) {
            ("/v1/chat/completions", Some(true)) => Reply::sse(
                "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n\
             data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"}}]}\n\ndata: [DONE]\n\n",
                5,
                Duration::ZERO,
            )
            .header("x-request-id", TRACE),
            ("/v1/chat/completions", _) if n < 2 => {
                Reply::json(429, serde_json::json!({})).header("retry-after", "0")
            }
            _ => Reply::json(200, chat_reply("sync hello")),
        }
    });
    let c = client(&m);
    // Two 429s then success: the retry policy is the async client's.
    let r = c.chat().completions().create(&chat_req()).unwrap();
    assert_eq!(r.content(), Some("sync hello"));
    assert_eq!(m.hits(), 3);

    let s = c.chat().completions().stream(&chat_req()).unwrap();
    assert_eq!(s.trace_id().unwrap(), TRACE);
    let text: String = s
        .map(|c| c.unwrap().content().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(text, "ab");

    let c2 = c.with_api_key("fgw_other_key_1234").unwrap();
    assert_eq!(c2.base_url(), c.base_url());
    assert!(c.live().is_ok());
}

#[test]
fn admin_and_errors_map_the_same() {
    let (_rt, m) = server(|r, _| match r.path.as_str() {
        "/admin/keys" => Reply::json(200, serde_json::json!([{"id": "k1", "name": "a"}])),
        _ => Reply::json(
            403,
            serde_json::json!({"error": {"message": "no", "code": "insufficient_scope"}}),
        )
        .header("x-request-id", TRACE),
    });
    let c = client(&m);
    assert_eq!(c.admin().keys().list().unwrap()[0].id, "k1");
    let e = c.admin().keys().rotate("k1").unwrap_err();
    assert!(matches!(e, Error::Permission(_)));
    assert_eq!(e.request_id().unwrap(), TRACE);
}

#[tokio::test]
async fn refuses_to_block_inside_an_async_runtime() {
    let c = blocking::FerroClient::builder()
        .api_key(KEY)
        .env_lookup(|_| None)
        .build_blocking()
        .unwrap();
    let e = c.live().unwrap_err();
    assert!(matches!(e, Error::Config { .. }), "{e:?}");
}
