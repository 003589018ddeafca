//! The request view every chat request goes through (`ferro_types::json` and
//! `ferro_types::chat`): strict JSON validation (duplicate keys, depth, NaN,
//! trailing data), the top-level split into raw fields, and the validated
//! `ChatRequest` (which includes both).
//!
//! Inputs: the README's one-message request, the Anthropic golden fixture
//! `tools_round_trip.json` (multi-turn with tool calls and tool schemas), and a
//! 100 KB user message like the load benchmark's `100KB prompt` scenario.
#![allow(clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferro_types::chat::ChatRequest;
use ferro_types::json::{validate_strict, JsonObject};
use std::hint::black_box;

const SMALL: &[u8] =
    br#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello, Ferro"}]}"#;
const TOOLS: &[u8] =
    include_bytes!("../../ferro-providers/tests/fixtures/anthropic/requests/tools_round_trip.json");

fn prompt_100kb() -> Vec<u8> {
    let text = "The quick brown fox jumps over the lazy dog. ".repeat(100 * 1024 / 45);
    format!(
        r#"{{"model":"gpt-4o-mini","stream":false,"messages":[{{"role":"system","content":"Summarise the user's text."}},{{"role":"user","content":"{text}"}}],"max_tokens":256}}"#
    )
    .into_bytes()
}

fn bench_parse(c: &mut Criterion) {
    let big = prompt_100kb();
    let inputs: [(&str, &[u8]); 3] = [
        ("small_chat", SMALL),
        ("tools_round_trip", TOOLS),
        ("prompt_100kb", &big),
    ];
    for (_, body) in &inputs {
        ChatRequest::parse(body).expect("fixture: a valid chat request");
    }

    let mut g = c.benchmark_group("request_parse");
    for (name, body) in inputs {
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(format!("validate_strict/{name}"), |b| {
            b.iter(|| validate_strict(black_box(body)))
        });
        g.bench_function(format!("json_object/{name}"), |b| {
            b.iter(|| JsonObject::parse(black_box(body)).map(|o| o.fields().len()))
        });
        g.bench_function(format!("chat_request/{name}"), |b| {
            b.iter(|| ChatRequest::parse(black_box(body)).map(|r| r.stream))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
