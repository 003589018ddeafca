#![no_main]
//! Stream translation of the SSE-framed native streams: Anthropic Messages
//! (also Vertex's Claude path), Gemini `streamGenerateContent?alt=sse` (also
//! Vertex's Gemini path) and Cohere v2 chat, fed arbitrary upstream bytes.
//!
//! Anthropic and Cohere are built through `NativeAdapter::stream`; Gemini's
//! translator directly, with a fixed `created` and fallback id, because the
//! adapter stamps the clock and a counter into it and outputs of two runs
//! would then differ for reasons unrelated to the input.
//!
//! Invariants checked: no panic; every emitted chunk is JSON; the input
//! translated whole and split at input-derived points gives the same chunks
//! and the same error (the gateway's chunks follow network packet sizes).

use ferro_fuzz::{assert_json, assert_same_outcome, pieces, run_stream, StreamOutcome};
use ferro_providers::anthropic::Anthropic;
use ferro_providers::cohere::Cohere;
use ferro_providers::gemini::stream::GeminiStream;
use ferro_providers::native::{NativeAdapter, StreamTranslator};
use libfuzzer_sys::fuzz_target;

type Make = fn() -> Box<dyn StreamTranslator>;

const TRANSLATORS: [(&str, Make); 3] = [
    ("anthropic", || {
        Anthropic.stream("claude-3-5-haiku-20241022")
    }),
    ("gemini", || {
        Box::new(GeminiStream::new(
            "gemini-2.0-flash",
            1_700_000_000,
            "fuzz-id",
        ))
    }),
    ("cohere", || Cohere.stream("command-r-plus")),
];

fn check(name: &str, outcome: &StreamOutcome) {
    for chunk in &outcome.0 {
        assert_json(chunk, name);
    }
}

fuzz_target!(|data: &[u8]| {
    for (name, make) in TRANSLATORS {
        let whole = run_stream(&mut *make(), &[data]);
        check(name, &whole);
        let split = run_stream(&mut *make(), &pieces(data, 0));
        check(name, &split);
        assert_same_outcome(&split, &whole, name);
    }
});
