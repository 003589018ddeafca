#![no_main]
//! Response translation of every native adapter from arbitrary vendor bytes:
//! `chat_response` (2xx chat body → `chat.completion`), `error_body` (vendor
//! error → OpenAI envelope) with `map_status` / `error_status`, and
//! `embed_response_for` (2xx embeddings body → OpenAI embeddings).
//!
//! Invariants checked: no panic; every translated body is JSON; an error
//! envelope is `{"error":{"message": <string>, …}}`; a mapped status stays
//! an HTTP status.

use ferro_fuzz::{assert_json, natives};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// The client's embeddings request, for adapters that estimate usage from it.
const EMBED_REQUEST: &[u8] = br#"{"model":"m","input":["fuzz input","two"]}"#;

fuzz_target!(|data: &[u8]| {
    for n in natives() {
        for model in n.models {
            if let Ok(body) = n.adapter.chat_response(data, model) {
                assert_json(&body, n.id);
            }
        }
        for model in n.embed_models {
            if let Ok(body) = n.adapter.embed_response_for(EMBED_REQUEST, data, model) {
                assert_json(&body, n.id);
            }
        }
        for status in [400, 401, 404, 424, 429, 498, 500, 529] {
            let mapped = n.adapter.map_status(status);
            let mapped = n.adapter.error_status(mapped, data);
            assert!((100..600).contains(&mapped), "{}: status {mapped}", n.id);
            if let Some(body) = n.adapter.error_body(mapped, data) {
                assert_json(&body, n.id);
                let envelope: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                assert!(
                    envelope
                        .pointer("/error/message")
                        .is_some_and(Value::is_string),
                    "{}: error body without error.message: {envelope}",
                    n.id
                );
            }
        }
    }
});
