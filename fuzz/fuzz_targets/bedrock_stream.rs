#![no_main]
//! Stream translation of Bedrock ConverseStream (`NativeAdapter::stream` →
//! `bedrock::stream::ConverseStream` over the binary event stream).
//!
//! Input: the test fixtures' JSON form, an array of
//! `{"event": type, "payload": …}` / `{"exception": type, "payload": …}`
//! (a string payload is sent as raw bytes, anything else serialized), which
//! the harness encodes into valid event-stream frames, so the fuzzer works on
//! the events rather than on CRCs. Any other input is fed as raw bytes.
//!
//! Invariants checked: no panic; every emitted chunk is JSON; the stream
//! translated whole, split at input-derived points and byte by byte gives
//! the same chunks and the same error.

use ferro_fuzz::{assert_json, assert_same_outcome, pieces, run_stream, StreamOutcome};
use ferro_providers::bedrock::eventstream;
use ferro_providers::bedrock::stream::ConverseStream;
use ferro_providers::bedrock::Bedrock;
use ferro_providers::native::NativeAdapter;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const MODEL: &str = "anthropic.claude-3-5-haiku-20241022-v1:0";

/// The fixture JSON encoded as an event stream; `None` if it is not that shape.
fn encode(data: &[u8]) -> Option<Vec<u8>> {
    let events: Vec<Value> = serde_json::from_slice(data).ok()?;
    let mut out = Vec::new();
    for e in &events {
        let payload = match e.get("payload") {
            Some(Value::String(s)) => s.as_bytes().to_vec(),
            Some(v) => serde_json::to_vec(v).ok()?,
            None => Vec::new(),
        };
        if let Some(t) = e.get("event").and_then(Value::as_str) {
            out.extend(eventstream::event(t, &payload));
        } else if let Some(t) = e.get("exception").and_then(Value::as_str) {
            out.extend(eventstream::exception(t, &payload));
        } else {
            return None;
        }
    }
    Some(out)
}

fn check(outcome: &StreamOutcome) {
    for chunk in &outcome.0 {
        assert_json(chunk, "bedrock");
    }
}

fuzz_target!(|data: &[u8]| {
    let bytes = encode(data).unwrap_or_else(|| data.to_vec());
    // Deterministic id: `Bedrock.stream` would mint a clock-based one.
    let fresh = || ConverseStream::new(MODEL, "chatcmpl-fuzz");

    let whole = run_stream(&mut fresh(), &[&bytes]);
    check(&whole);
    let split = run_stream(&mut fresh(), &pieces(&bytes, 0));
    assert_same_outcome(&split, &whole, "bedrock (input-derived split)");
    let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
    let bytewise = run_stream(&mut fresh(), &bytewise);
    assert_same_outcome(&bytewise, &whole, "bedrock (byte by byte)");

    // The adapter's own translator (clock-stamped id): no panic, JSON out.
    check(&run_stream(&mut *Bedrock.stream(MODEL), &pieces(&bytes, 1)));
});
