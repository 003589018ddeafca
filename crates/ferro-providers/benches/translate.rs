//! Request and response translation of the native adapters
//! (`NativeAdapter::chat_request` / `chat_response` / `stream`), the
//! OpenAI-wire body rewrite (`openai_compat::chat_body`) and Bedrock's SigV4
//! signing (`bedrock::auth::sign`), over the golden fixtures in
//! `tests/fixtures/` (embedded with `include_bytes!`, nothing read at run time).
//!
//! The client body is parsed once outside the timings, as the gateway does
//! before it picks a target; each iteration is one translation.
#![allow(clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferro_providers::bedrock::auth;
use ferro_providers::instance::InstanceSettings;
use ferro_providers::native::{
    self, ModelFacts, NativeAdapter, StreamTranslator, UnsupportedPolicy,
};
use ferro_providers::{openai_compat, spec, ProviderInstance, Secret};
use ferro_types::chat::ChatRequest;
use serde_json::Value;
use std::hint::black_box;

macro_rules! fixture {
    ($path:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/",
            $path
        ))
        .as_slice()
    };
}

const FACTS: ModelFacts = ModelFacts {
    max_output_tokens: Some(8192),
};
const POLICY: UnsupportedPolicy = UnsupportedPolicy::Warn;

fn instance(id: &str, api_key: Option<&str>, extra: &[(&str, &str)]) -> ProviderInstance {
    let mut s = InstanceSettings {
        api_key: api_key.map(Secret::new),
        ..Default::default()
    };
    for (k, v) in extra {
        s.extra.insert((*k).into(), (*v).into());
    }
    ProviderInstance::build(spec::find(id).expect("provider spec"), s).expect("instance")
}

fn adapter(id: &str) -> &'static dyn NativeAdapter {
    native::adapter(id).expect("native adapter")
}

/// The `field` of the case named `name` in an array fixture, re-encoded.
fn case(array: &[u8], name: &str, field: &str) -> Vec<u8> {
    let cases: Vec<Value> = serde_json::from_slice(array).expect("fixture JSON");
    let c = cases
        .iter()
        .find(|c| c["name"] == name)
        .expect("fixture case");
    serde_json::to_vec(&c[field]).expect("fixture JSON")
}

fn bench_requests(c: &mut Criterion) {
    let gemini_cases = fixture!("gemini/requests.json");
    let gemini_plain = case(gemini_cases, "plain", "openai");
    let gemini_tools = case(gemini_cases, "tools_round_trip_parallel", "openai");
    // (adapter id, instance, case name, client body)
    let runs: Vec<(&str, ProviderInstance, &str, &[u8])> = vec![
        (
            "anthropic",
            instance("anthropic", Some("sk-ant-bench"), &[]),
            "plain_chat",
            fixture!("anthropic/requests/plain_chat.json"),
        ),
        (
            "anthropic",
            instance("anthropic", Some("sk-ant-bench"), &[]),
            "tools_round_trip",
            fixture!("anthropic/requests/tools_round_trip.json"),
        ),
        (
            "gemini",
            instance("gemini", Some("gm-bench"), &[]),
            "plain",
            &gemini_plain,
        ),
        (
            "gemini",
            instance("gemini", Some("gm-bench"), &[]),
            "tools_round_trip_parallel",
            &gemini_tools,
        ),
        (
            "bedrock",
            instance("bedrock", Some("br-bench"), &[("region", "us-east-1")]),
            "plain_chat",
            fixture!("bedrock/requests/plain_chat.json"),
        ),
        (
            "bedrock",
            instance("bedrock", Some("br-bench"), &[("region", "us-east-1")]),
            "tools_round_trip",
            fixture!("bedrock/requests/tools_round_trip.json"),
        ),
        (
            "cohere",
            instance("cohere", Some("co-bench"), &[]),
            "tools_round_trip",
            fixture!("cohere/requests/tools_round_trip.json"),
        ),
    ];

    let mut g = c.benchmark_group("translate_request");
    for (id, inst, name, body) in &runs {
        let req = ChatRequest::parse(body).expect("fixture: a valid chat request");
        let a = adapter(id);
        let model = req.model.to_string();
        a.chat_request(inst, &req, &model, FACTS, POLICY)
            .expect("fixture: a translatable request");
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(format!("{id}/{name}"), |b| {
            b.iter(|| {
                a.chat_request(inst, black_box(&req), &model, FACTS, POLICY)
                    .map(|n| n.body.len())
            })
        });
    }

    // OpenAI-wire targets: the body is forwarded, rewritten only when the
    // gateway must (here: a stream whose client did not ask for usage gets
    // `stream_options.include_usage`, and `max_tokens` is promoted for a
    // spec that wants `max_completion_tokens`).
    let stream_body: &[u8] = br#"{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Write a haiku about gateways."}],"stream":true,"temperature":0.7,"max_tokens":256}"#;
    let req = ChatRequest::parse(stream_body).expect("fixture: a valid chat request");
    assert!(req.stream && !req.client_wants_usage);
    let openai = spec::find("openai").expect("openai spec");
    assert!(openai_compat::chat_body(&req, &req.model, openai).is_some());
    g.throughput(Throughput::Bytes(stream_body.len() as u64));
    g.bench_function("openai_compat/stream_request", |b| {
        b.iter(|| openai_compat::chat_body(black_box(&req), &req.model, openai))
    });
    g.finish();

    // Bedrock with static keys: every attempt is SigV4-signed (HMAC chain +
    // SHA-256 of the payload) just before it is sent.
    let sigv4 = instance(
        "bedrock",
        None,
        &[
            ("region", "us-east-1"),
            ("aws_access_key_id", "AKIDEXAMPLEBENCH0001"),
            (
                "aws_secret_access_key",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            ),
        ],
    );
    let body = fixture!("bedrock/requests/tools_round_trip.json");
    let req = ChatRequest::parse(body).expect("fixture: a valid chat request");
    let built = adapter("bedrock")
        .chat_request(&sigv4, &req, &req.model, FACTS, POLICY)
        .expect("fixture: a translatable request");
    let mut signed = built.clone();
    auth::sign(&sigv4, &mut signed, 1_752_710_400).expect("SigV4 signing");
    assert!(signed.headers.iter().any(|(k, _)| k == "authorization"));
    let mut g = c.benchmark_group("bedrock_sigv4");
    g.throughput(Throughput::Bytes(built.body.len() as u64));
    g.bench_function("sign/tools_round_trip", |b| {
        b.iter(|| {
            let mut r = built.clone();
            auth::sign(&sigv4, &mut r, black_box(1_752_710_400)).map(|()| r.headers.len())
        })
    });
    g.finish();
}

fn bench_responses(c: &mut Criterion) {
    let gemini_cases = fixture!("gemini/responses.json");
    let gemini_calls = case(gemini_cases, "parallel_function_calls", "gemini");
    let gemini_cached = case(gemini_cases, "cached_tokens_and_max_tokens", "gemini");
    let runs: Vec<(&str, &str, &str, &[u8])> = vec![
        (
            "anthropic",
            "claude-3-5-haiku-20241022",
            "text",
            fixture!("anthropic/responses/text.json"),
        ),
        (
            "anthropic",
            "claude-3-5-haiku-20241022",
            "parallel_tools",
            fixture!("anthropic/responses/parallel_tools.json"),
        ),
        (
            "anthropic",
            "claude-3-5-haiku-20241022",
            "cache_usage",
            fixture!("anthropic/responses/cache_usage.json"),
        ),
        (
            "gemini",
            "gemini-2.0-flash",
            "parallel_function_calls",
            &gemini_calls,
        ),
        (
            "gemini",
            "gemini-2.0-flash",
            "cached_tokens_and_max_tokens",
            &gemini_cached,
        ),
        (
            "bedrock",
            "anthropic.claude-3-5-haiku-20241022-v1:0",
            "parallel_tools",
            fixture!("bedrock/responses/parallel_tools.json"),
        ),
    ];
    let mut g = c.benchmark_group("translate_response");
    for (id, model, name, body) in runs {
        let a = adapter(id);
        a.chat_response(body, model)
            .expect("fixture: a translatable response");
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(format!("{id}/{name}"), |b| {
            b.iter(|| a.chat_response(black_box(body), model).map(|v| v.len()))
        });
    }
    g.finish();
}

/// A whole upstream stream through a fresh translator, one read per call of
/// `push` as the fixture is split (whole here), then `finish`.
fn translate_stream(t: &mut dyn StreamTranslator, bytes: &[u8]) -> usize {
    let mut out = Vec::with_capacity(32);
    t.push(bytes, &mut out)
        .expect("fixture: a translatable stream");
    t.finish(&mut out).expect("fixture: a translatable stream");
    out.len()
}

fn bench_streams(c: &mut Criterion) {
    let runs: [(&str, &str, &str, &[u8]); 4] = [
        (
            "anthropic",
            "claude-3-5-haiku-20241022",
            "text",
            fixture!("anthropic/streams/text.sse"),
        ),
        (
            "anthropic",
            "claude-3-5-haiku-20241022",
            "parallel_tools",
            fixture!("anthropic/streams/parallel_tools.sse"),
        ),
        (
            "gemini",
            "gemini-2.0-flash",
            "text",
            fixture!("gemini/streams/text.sse"),
        ),
        (
            "cohere",
            "command-r-plus",
            "tool_calls",
            fixture!("cohere/streams/tool_calls.sse"),
        ),
    ];
    let mut g = c.benchmark_group("translate_stream");
    for (id, model, name, bytes) in runs {
        let a = adapter(id);
        assert!(translate_stream(&mut *a.stream(model), bytes) > 0);
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        // Translator construction included: one per streamed response.
        g.bench_function(format!("{id}/{name}"), |b| {
            b.iter(|| translate_stream(&mut *a.stream(model), black_box(bytes)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_requests, bench_responses, bench_streams);
criterion_main!(benches);
