#![no_main]
//! Request translation of every native adapter (`NativeAdapter::chat_request`:
//! Anthropic, Gemini, Vertex AI, Bedrock, Cohere) from an arbitrary OpenAI
//! chat body, under each unsupported-parameter policy.
//!
//! The body goes through `ChatRequest::parse` first, as in the gateway; the
//! model sent upstream is the body's own `model` (so the fuzzer also picks
//! Vertex's Claude or Gemini path and Bedrock's model family).
//!
//! Invariants checked: no panic; an accepted request has a JSON body and a
//! URL that parses; a refusal is a 4xx/5xx error.

use ferro_fuzz::{assert_json, natives};
use ferro_providers::native::{ModelFacts, UnsupportedPolicy};
use ferro_types::chat::ChatRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(req) = ChatRequest::parse(data) else {
        return;
    };
    let model = req.model.to_string();
    let runs = [
        (UnsupportedPolicy::Warn, None),
        (UnsupportedPolicy::Drop, Some(64_000)),
        (UnsupportedPolicy::Reject, Some(1)),
    ];
    for n in natives() {
        for (policy, max_output_tokens) in runs {
            let facts = ModelFacts { max_output_tokens };
            match n.adapter.chat_request(&n.inst, &req, &model, facts, policy) {
                Ok(native) => {
                    assert_json(&native.body, n.id);
                    if let Err(e) = url::Url::parse(&native.url) {
                        panic!("{}: unparsable upstream URL {:?}: {e}", n.id, native.url);
                    }
                }
                Err(e) => assert!(
                    (400..600).contains(&e.status),
                    "{}: refusal with status {}",
                    n.id,
                    e.status
                ),
            }
        }
    }
});
