//! Golden tests of the Anthropic Messages adapter, both directions, plus a
//! fuzz-style robustness pass over the translators (no cargo-fuzz needed).
//!
//! Fixtures live in `tests/fixtures/anthropic/`:
//! * `requests/<case>.json` — an OpenAI chat request; `<case>.options.json`
//!   (optional) — `{"policy","max_output_tokens","model"}`;
//!   `<case>.expected.json` — `{"url","headers","body"}` or `{"error":{…}}`.
//! * `responses/<case>.json` — a Messages API body; `<case>.expected.json` — the
//!   OpenAI `chat.completion`.
//! * `streams/<case>.sse` — a Messages API event stream; `<case>.expected.json`
//!   — `{"chunks":[…],"error":null|"…"}`.
//! * `errors/<case>.json` — `{"status","body"}` from Anthropic;
//!   `<case>.expected.json` — `{"status","body"}` as the gateway sees them.
//!
//! Every input must have its expected file. `FERRO_BLESS=1` rewrites the
//! expected files from the current output (review the diff before keeping it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferro_providers::anthropic::Anthropic;
use ferro_providers::instance::InstanceSettings;
use ferro_providers::native::{ModelFacts, NativeAdapter, StreamTranslator, UnsupportedPolicy};
use ferro_providers::{spec, ProviderInstance, Secret};
use ferro_types::chat::ChatRequest;
use serde_json::{json, Value};
use std::path::PathBuf;

const MODEL: &str = "claude-3-5-haiku-20241022";

mod golden;
use golden::read_json;

const FX: golden::Fixtures = golden::Fixtures("anthropic");

fn dir(sub: &str) -> PathBuf {
    FX.dir(sub)
}

fn cases(sub: &str, ext: &str) -> Vec<(String, PathBuf)> {
    FX.cases(sub, ext)
}

fn check(sub: &str, case: &str, actual: &Value) {
    FX.check(sub, case, actual)
}

fn instance() -> ProviderInstance {
    ProviderInstance::build(
        spec::find("anthropic").unwrap(),
        InstanceSettings {
            api_key: Some(Secret::new("sk-ant-test")),
            ..Default::default()
        },
    )
    .unwrap()
}

fn translate_request(input: &[u8], opts: &Value) -> Value {
    let req = ChatRequest::parse(input).unwrap();
    let policy = match opts["policy"].as_str() {
        Some("reject") => UnsupportedPolicy::Reject,
        Some("drop") => UnsupportedPolicy::Drop,
        _ => UnsupportedPolicy::Warn,
    };
    let facts = ModelFacts {
        max_output_tokens: match &opts["max_output_tokens"] {
            Value::Null if opts.get("max_output_tokens").is_some() => None,
            v => Some(v.as_u64().unwrap_or(8192)),
        },
    };
    let model = opts["model"].as_str().unwrap_or(&req.model).to_owned();
    match Anthropic.chat_request(&instance(), &req, &model, facts, policy) {
        Ok(n) => {
            let headers: serde_json::Map<String, Value> = n
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap())))
                .collect();
            let body: Value = serde_json::from_slice(&n.body).unwrap();
            json!({"method": n.method.as_str(), "url": n.url, "headers": headers, "body": body})
        }
        Err(e) => json!({"error": {"status": e.status, "code": e.code, "message": e.message}}),
    }
}

fn run_stream(tr: &mut dyn StreamTranslator, parts: &[&[u8]]) -> (Vec<Value>, Option<String>) {
    let mut out = Vec::new();
    let mut err = None;
    for p in parts {
        if let Err(e) = tr.push(p, &mut out) {
            err = Some(e.0);
            break;
        }
    }
    if err.is_none() {
        if let Err(e) = tr.finish(&mut out) {
            err = Some(e.0);
        }
    }
    let chunks = out
        .iter()
        .map(|c| serde_json::from_slice(c).unwrap())
        .collect();
    (chunks, err)
}

fn stream_whole(bytes: &[u8]) -> (Vec<Value>, Option<String>) {
    run_stream(&mut *Anthropic.stream(MODEL), &[bytes])
}

#[test]
fn request_goldens() {
    let inst = instance();
    assert_eq!(inst.root, "https://api.anthropic.com/v1");
    assert!(inst
        .headers
        .iter()
        .any(|(k, v)| k == "x-api-key" && v.to_str().unwrap() == "sk-ant-test"));
    for (case, path) in cases("requests", "json") {
        let opts_path = dir("requests").join(format!("{case}.options.json"));
        let opts = if opts_path.exists() {
            read_json(&opts_path)
        } else {
            json!({})
        };
        let out = translate_request(&std::fs::read(&path).unwrap(), &opts);
        check("requests", &case, &out);
    }
}

#[test]
fn response_goldens() {
    for (case, path) in cases("responses", "json") {
        let body = std::fs::read(&path).unwrap();
        let out = Anthropic.chat_response(&body, MODEL).unwrap();
        check("responses", &case, &serde_json::from_slice(&out).unwrap());
    }
}

#[test]
fn stream_goldens() {
    for (case, path) in cases("streams", "sse") {
        let bytes = std::fs::read(&path).unwrap();
        let (chunks, error) = stream_whole(&bytes);
        check("streams", &case, &json!({"chunks": chunks, "error": error}));
    }
}

#[test]
fn error_goldens() {
    for (case, path) in cases("errors", "json") {
        let input = read_json(&path);
        let status = input["status"].as_u64().unwrap() as u16;
        let raw = match &input["body"] {
            Value::String(s) => s.clone().into_bytes(),
            v => serde_json::to_vec(v).unwrap(),
        };
        let mapped = Anthropic.map_status(status);
        let body = Anthropic
            .error_body(mapped, &raw)
            .map(|b| serde_json::from_slice::<Value>(&b).unwrap());
        check("errors", &case, &json!({"status": mapped, "body": body}));
    }
}

/// The same exchange, streamed and not, reports identical usage.
#[test]
fn stream_and_json_usage_agree() {
    let mut pairs = 0;
    for (case, path) in cases("responses", "json") {
        let sse = dir("streams").join(format!("{case}.sse"));
        if !sse.exists() {
            continue;
        }
        pairs += 1;
        let resp = Anthropic
            .chat_response(&std::fs::read(&path).unwrap(), MODEL)
            .unwrap();
        let resp: Value = serde_json::from_slice(&resp).unwrap();
        let (chunks, err) = stream_whole(&std::fs::read(&sse).unwrap());
        assert!(err.is_none(), "{case}: {err:?}");
        let last = chunks.last().unwrap();
        assert_eq!(last["choices"], json!([]), "{case}: usage chunk last");
        assert_eq!(last["usage"], resp["usage"], "{case}: usage differs");
        let usage_chunks = chunks.iter().filter(|c| c.get("usage").is_some()).count();
        assert_eq!(usage_chunks, 1, "{case}: exactly one usage chunk");
        let finish: Vec<&Value> = chunks
            .iter()
            .filter_map(|c| c.pointer("/choices/0/finish_reason"))
            .filter(|f| !f.is_null())
            .collect();
        assert_eq!(finish, vec![&resp["choices"][0]["finish_reason"]], "{case}");
        // Streamed content adds up to the JSON content.
        let text: String = chunks
            .iter()
            .filter_map(|c| c.pointer("/choices/0/delta/content")?.as_str())
            .collect();
        let json_text = resp["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or("");
        let norm = |s: &str| serde_json::from_str::<Value>(s).ok();
        assert!(
            text == json_text || (norm(&text).is_some() && norm(&text) == norm(json_text)),
            "{case}: {text:?} vs {json_text:?}"
        );
    }
    assert!(pairs >= 4, "need stream/JSON pairs of the same exchange");
}

/// Tool calls streamed in parallel keep their own indices and arguments.
#[test]
fn parallel_streamed_tool_calls_reassemble() {
    let bytes = std::fs::read(dir("streams").join("parallel_tools.sse")).unwrap();
    let (chunks, err) = stream_whole(&bytes);
    assert!(err.is_none());
    let mut calls: Vec<(String, String, String)> = Vec::new();
    for c in &chunks {
        for tc in c
            .pointer("/choices/0/delta/tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let i = tc["index"].as_u64().unwrap() as usize;
            if calls.len() <= i {
                assert_eq!(calls.len(), i, "indices are dense ordinals");
                calls.push(Default::default());
            }
            if let Some(id) = tc["id"].as_str() {
                calls[i].0 = id.to_owned();
                calls[i].1 = tc["function"]["name"].as_str().unwrap().to_owned();
            }
            calls[i].2 += tc["function"]["arguments"].as_str().unwrap_or("");
        }
    }
    assert_eq!(calls.len(), 2);
    let args: Vec<Value> = calls
        .iter()
        .map(|c| serde_json::from_str(&c.2).unwrap())
        .collect();
    assert_eq!(calls[0].1, "get_weather");
    assert_eq!(
        args[0],
        json!({"location": "San Francisco, CA", "unit": "celsius"})
    );
    assert_eq!(calls[1].1, "get_time");
    assert_eq!(args[1], json!({"timezone": "America/Los_Angeles"}));
}

/// A fixed-seed xorshift generator: reproducible "random" inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn random_split<'a>(rng: &mut Rng, b: &'a [u8]) -> Vec<&'a [u8]> {
    let mut parts = Vec::new();
    let mut rest = b;
    while !rest.is_empty() {
        let n = 1 + rng.below(rest.len().min(64));
        let (a, r) = rest.split_at(n);
        parts.push(a);
        rest = r;
    }
    parts
}

fn mutate(rng: &mut Rng, b: &[u8]) -> Vec<u8> {
    let mut v = b.to_vec();
    for _ in 0..1 + rng.below(8) {
        if v.is_empty() {
            break;
        }
        let i = rng.below(v.len());
        match rng.below(4) {
            0 => v[i] = (rng.next() & 0xff) as u8,
            1 => {
                v.remove(i);
            }
            2 => v.insert(i, b"{}[]\":,\n\\"[rng.below(9)]),
            _ => v.truncate(i),
        }
    }
    v
}

#[test]
fn fuzz_stream_splits_truncations_and_mutations() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for (case, path) in cases("streams", "sse") {
        let bytes = std::fs::read(&path).unwrap();
        let whole = stream_whole(&bytes);
        // Any split of the same bytes gives the same chunks.
        for _ in 0..200 {
            let parts = random_split(&mut rng, &bytes);
            let split = run_stream(&mut *Anthropic.stream(MODEL), &parts);
            assert_eq!(split, whole, "{case}: split changed the output");
        }
        // Truncation anywhere: never a panic; a cut before the end is an error
        // unless the message was already complete.
        for cut in 0..bytes.len() {
            let (_, err) = stream_whole(&bytes[..cut]);
            let _ = err;
        }
        for _ in 0..300 {
            let m = mutate(&mut rng, &bytes);
            let parts = random_split(&mut rng, &m);
            let _ = run_stream(&mut *Anthropic.stream(MODEL), &parts);
        }
    }
}

#[test]
fn fuzz_response_and_request_translators() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for (_, path) in cases("responses", "json") {
        let bytes = std::fs::read(&path).unwrap();
        let bytes = bytes.trim_ascii_end();
        for cut in 0..bytes.len() {
            assert!(Anthropic.chat_response(&bytes[..cut], MODEL).is_err());
        }
        for _ in 0..300 {
            let _ = Anthropic.chat_response(&mutate(&mut rng, bytes), MODEL);
        }
    }
    for (_, path) in cases("errors", "json") {
        let bytes = std::fs::read(&path).unwrap();
        for _ in 0..100 {
            let _ = Anthropic.error_body(500, &mutate(&mut rng, &bytes));
        }
    }
    let inst = instance();
    for (_, path) in cases("requests", "json") {
        let bytes = std::fs::read(&path).unwrap();
        for _ in 0..300 {
            let m = mutate(&mut rng, &bytes);
            if let Ok(req) = ChatRequest::parse(&m) {
                for policy in [UnsupportedPolicy::Warn, UnsupportedPolicy::Reject] {
                    let _ =
                        Anthropic.chat_request(&inst, &req, MODEL, ModelFacts::default(), policy);
                }
            }
        }
    }
}

/// Structurally odd but valid JSON never panics the request translator.
#[test]
fn odd_shapes_are_errors_not_panics() {
    let inst = instance();
    let bodies = [
        json!({"model": MODEL, "messages": [{"role": "user", "content": []}]}),
        json!({"model": MODEL, "messages": [{"role": "assistant", "content": null, "tool_calls": {"x": 1}}]}),
        json!({"model": MODEL, "messages": [{"role": "assistant", "thinking_blocks": [{"type": "thinking"}]}]}),
        json!({"model": MODEL, "messages": [{"role": "tool", "content": "x"}]}),
        json!({"model": MODEL, "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]}),
        json!({"model": MODEL, "messages": [{"role": "user", "content": "x"}], "tools": {"a": 1}}),
        json!({"model": MODEL, "messages": [{"role": "user", "content": "x"}], "tool_choice": 5}),
        json!({"model": MODEL, "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "yaml"}}),
        json!({"model": MODEL, "messages": [{"role": "user", "content": "x"}], "reasoning_effort": "max"}),
        json!({"model": MODEL, "messages": [{"role": "user", "content": "x"}], "reasoning_effort": "high", "max_tokens": 1000}),
        json!({"model": MODEL, "messages": [{"role": "user", "content": "x"}], "user": 7}),
        json!({"model": MODEL, "messages": [{"role": "user", "content": "x"}], "thinking": true}),
        json!({"model": MODEL, "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png,abc"}}]}]}),
        json!({"model": MODEL, "messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "f"}}]}]}),
    ];
    for b in bodies {
        let raw = serde_json::to_vec(&b).unwrap();
        let Ok(req) = ChatRequest::parse(&raw) else {
            continue;
        };
        let r = Anthropic.chat_request(
            &inst,
            &req,
            MODEL,
            ModelFacts::default(),
            UnsupportedPolicy::Warn,
        );
        if let Err(e) = r {
            assert_eq!(e.status, 400, "{b}");
        }
    }
}
