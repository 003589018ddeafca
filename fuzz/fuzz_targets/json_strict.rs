#![no_main]
//! `ferro_types::json` (strict validation, `JsonObject`) and the request
//! views built on it (`ChatRequest`, `ModelRequest`, `LegacyCompletion`).
//!
//! Invariants checked:
//! * no panic, for any bytes (also `JsonObject::parse` on unvalidated input);
//! * whatever `validate_strict` accepts is JSON to serde_json too;
//! * a strict object rewritten by `JsonObject::write_with` is still strict
//!   JSON, unchanged when nothing is edited, and has the edits applied;
//! * an accepted request view came from a strict body; the chat body
//!   `LegacyCompletion` builds is a valid chat request.

use ferro_types::chat::{ChatRequest, LegacyCompletion, ModelRequest, Surface};
use ferro_types::json::{validate_strict, JsonObject};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn strict_value(bytes: &[u8], what: &str) -> Value {
    if let Err(e) = validate_strict(bytes) {
        panic!(
            "{what} is not strict JSON ({e}): {:?}",
            String::from_utf8_lossy(bytes)
        );
    }
    match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => panic!("{what}: strict JSON that serde_json refuses: {e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    // Unvalidated input must not panic the object splitter either.
    let _ = JsonObject::parse(data);

    let strict = validate_strict(data).is_ok();
    if strict {
        let original = strict_value(data, "accepted body");
        if let Ok(obj) = JsonObject::parse(data) {
            // Unedited: the same value (fields copied verbatim, keys re-escaped).
            let same = obj.write_with(&[], &[]);
            assert_eq!(strict_value(&same, "unedited rewrite"), original);
            // Edited as the gateway does: replace/add fields, drop one.
            let edited = obj.write_with(
                &[
                    ("model", br#""fuzz/model""#),
                    ("x_added", b"[1,{\"a\":null}]"),
                ],
                &["stream", "model_extra"],
            );
            let v = strict_value(&edited, "edited rewrite");
            assert_eq!(v.get("model").and_then(Value::as_str), Some("fuzz/model"));
            assert!(v.get("x_added").is_some() && v.get("stream").is_none());
        }
    }

    // Request views: acceptance implies a strict body.
    if let Ok(req) = ChatRequest::parse(data) {
        assert!(strict, "ChatRequest accepted a non-strict body");
        assert!(!req.model.is_empty(), "ChatRequest accepted an empty model");
    }
    for surface in [Surface::Embeddings, Surface::Images, Surface::Moderations] {
        if ModelRequest::parse(data, surface).is_ok() {
            assert!(strict, "ModelRequest accepted a non-strict body");
        }
    }
    if let Ok(legacy) = LegacyCompletion::parse(data) {
        assert!(strict, "LegacyCompletion accepted a non-strict body");
        strict_value(&legacy.chat_body, "legacy chat body");
        if ChatRequest::parse(&legacy.chat_body).is_err() {
            panic!("legacy chat body is not a valid chat request");
        }
    }
});
