//! Golden tests of the Bedrock adapter, both directions, plus robustness
//! passes over the event-stream decoder and the translators (random splits,
//! truncations, bit flips, garbage: never a panic).
//!
//! Fixtures live in `tests/fixtures/bedrock/`:
//! * `requests/<case>.json` — an OpenAI chat request; `<case>.options.json`
//!   (optional) — `{"policy","max_output_tokens"}`; `<case>.expected.json` —
//!   `{"method","url","headers","body"}` or `{"error":{…}}`.
//! * `responses/<case>.json` — a Converse body; expected: the `chat.completion`.
//! * `streams/<case>.json` — ConverseStream messages as JSON
//!   (`{"event": type, "payload": …}` or `{"exception": type, "payload": …}`),
//!   encoded to the binary event stream by the test; expected:
//!   `{"chunks":[…],"error":null|"…"}`.
//! * `errors/<case>.json` — `{"status","body"}`; expected: what the gateway sees.
//! * `embeddings/<case>.json` — `{model, request, response}`; expected: the
//!   InvokeModel request and the OpenAI answer (or the refusal).
//! * `rerank/<case>.json` — `{request, response}`; expected: the agent-runtime
//!   request and the contract answer.
//!
//! `FERRO_BLESS=1` rewrites the expected files (review the diff).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferro_providers::bedrock::eventstream::{self, Decoder};
use ferro_providers::bedrock::stream::ConverseStream;
use ferro_providers::bedrock::{response, Bedrock};
use ferro_providers::instance::InstanceSettings;
use ferro_providers::native::{
    ModelFacts, NativeAdapter, NativeRequest, StreamTranslator, UnsupportedPolicy,
};
use ferro_providers::rerank::RerankRequest;
use ferro_providers::{spec, ProviderInstance, Secret};
use ferro_types::chat::ChatRequest;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::path::PathBuf;

const MODEL: &str = "anthropic.claude-3-5-haiku-20241022-v1:0";
const ID: &str = "chatcmpl-bedrock-test";

mod golden;
use golden::read_json;

const FX: golden::Fixtures = golden::Fixtures("bedrock");

fn dir(sub: &str) -> PathBuf {
    FX.dir(sub)
}

fn cases(sub: &str) -> Vec<(String, PathBuf)> {
    FX.cases(sub, "json")
}

fn check(sub: &str, case: &str, actual: &Value) {
    FX.check(sub, case, actual)
}

fn instance() -> ProviderInstance {
    let mut s = InstanceSettings {
        api_key: Some(Secret::new("bedrock-api-key")),
        ..Default::default()
    };
    s.extra.insert("region".into(), "us-east-1".into());
    ProviderInstance::build(spec::find("bedrock").unwrap(), s).unwrap()
}

fn native_json(n: &NativeRequest) -> Value {
    let headers: serde_json::Map<String, Value> = n
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap())))
        .collect();
    let body: Value = serde_json::from_slice(&n.body).unwrap();
    json!({"method": n.method.as_str(), "url": n.url, "headers": headers, "body": body})
}

fn error_json(e: &ferro_types::ApiError) -> Value {
    json!({"error": {"status": e.status, "code": e.code, "message": e.message}})
}

fn translate_request(input: &[u8], opts: &Value) -> Value {
    let req = ChatRequest::parse(input).unwrap();
    let policy = match opts["policy"].as_str() {
        Some("reject") => UnsupportedPolicy::Reject,
        Some("drop") => UnsupportedPolicy::Drop,
        _ => UnsupportedPolicy::Warn,
    };
    let facts = ModelFacts {
        max_output_tokens: opts["max_output_tokens"].as_u64(),
    };
    let model = req.model.to_string();
    match Bedrock.chat_request(&instance(), &req, &model, facts, policy) {
        Ok(n) => native_json(&n),
        Err(e) => error_json(&e),
    }
}

/// A stream fixture as event-stream bytes.
fn encode_stream(events: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    for e in events.as_array().unwrap() {
        let payload = serde_json::to_vec(&e["payload"]).unwrap();
        if let Some(t) = e["event"].as_str() {
            out.extend(eventstream::event(t, &payload));
        } else {
            out.extend(eventstream::exception(
                e["exception"].as_str().unwrap(),
                &payload,
            ));
        }
    }
    out
}

fn run(tr: &mut dyn StreamTranslator, parts: &[&[u8]]) -> (Vec<Value>, Option<String>) {
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

fn stream(parts: &[&[u8]]) -> (Vec<Value>, Option<String>) {
    run(&mut ConverseStream::new(MODEL, ID), parts)
}

fn stream_bytes() -> Vec<(String, Vec<u8>)> {
    cases("streams")
        .into_iter()
        .map(|(case, p)| (case, encode_stream(&read_json(&p))))
        .collect()
}

#[test]
fn request_goldens() {
    for (case, path) in cases("requests") {
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
    for (case, path) in cases("responses") {
        let body = std::fs::read(&path).unwrap();
        let out = response::translate(&body, MODEL, ID).unwrap();
        check("responses", &case, &serde_json::from_slice(&out).unwrap());
    }
}

#[test]
fn stream_goldens() {
    for (case, bytes) in stream_bytes() {
        let (chunks, error) = stream(&[&bytes]);
        check("streams", &case, &json!({"chunks": chunks, "error": error}));
    }
}

#[test]
fn error_goldens() {
    for (case, path) in cases("errors") {
        let input = read_json(&path);
        let status = input["status"].as_u64().unwrap() as u16;
        let raw = match &input["body"] {
            Value::String(s) => s.clone().into_bytes(),
            v => serde_json::to_vec(v).unwrap(),
        };
        let mapped = Bedrock.map_status(status);
        let body = Bedrock
            .error_body(mapped, &raw)
            .map(|b| serde_json::from_slice::<Value>(&b).unwrap());
        check("errors", &case, &json!({"status": mapped, "body": body}));
    }
}

#[test]
fn embedding_goldens() {
    for (case, path) in cases("embeddings") {
        let f = read_json(&path);
        let model = f["model"].as_str().unwrap();
        let request = serde_json::to_vec(&f["request"]).unwrap();
        let out = match Bedrock.embed_request(&instance(), &request, model) {
            Err(e) => error_json(&e),
            Ok(n) => {
                let answer = serde_json::to_vec(&f["response"]).unwrap();
                let translated = Bedrock
                    .embed_response_for(&request, &answer, model)
                    .unwrap();
                json!({"request": native_json(&n),
                    "answer": serde_json::from_slice::<Value>(&translated).unwrap()})
            }
        };
        check("embeddings", &case, &out);
    }
}

#[test]
fn rerank_goldens() {
    for (case, path) in cases("rerank") {
        let f = read_json(&path);
        let req = RerankRequest::parse(&serde_json::to_vec(&f["request"]).unwrap()).unwrap();
        let n = Bedrock
            .rerank_request(&instance(), &req, &req.model)
            .unwrap();
        let answer = serde_json::to_vec(&f["response"]).unwrap();
        let out = Bedrock.rerank_response(&req, &answer).unwrap();
        check(
            "rerank",
            &case,
            &json!({"request": native_json(&n), "answer": serde_json::from_slice::<Value>(&out).unwrap()}),
        );
    }
}

/// The same exchange, streamed and not, reports identical usage.
#[test]
fn stream_and_json_usage_agree() {
    let mut pairs = 0;
    for (case, path) in cases("responses") {
        let sse = dir("streams").join(format!("{case}.json"));
        if !sse.exists() {
            continue;
        }
        pairs += 1;
        let json_out: Value = serde_json::from_slice(
            &response::translate(&std::fs::read(&path).unwrap(), MODEL, ID).unwrap(),
        )
        .unwrap();
        let (chunks, err) = stream(&[&encode_stream(&read_json(&sse))]);
        assert!(err.is_none(), "{case}: {err:?}");
        let last = chunks.last().unwrap();
        assert_eq!(
            last["choices"],
            json!([]),
            "{case}: last chunk is usage-only"
        );
        assert_eq!(last["usage"], json_out["usage"], "{case}");
        let finish = chunks.iter().find_map(|c| {
            c.pointer("/choices/0/finish_reason")
                .filter(|f| !f.is_null())
        });
        assert_eq!(
            finish,
            Some(&json_out["choices"][0]["finish_reason"]),
            "{case}"
        );
    }
    assert!(pairs >= 5, "paired fixtures: {pairs}");
}

#[test]
fn every_fixture_has_its_expectation() {
    for sub in [
        "requests",
        "responses",
        "streams",
        "errors",
        "embeddings",
        "rerank",
    ] {
        for (case, _) in cases(sub) {
            let p = dir(sub).join(format!("{case}.expected.json"));
            assert!(p.exists(), "{sub}/{case} lacks {}", p.display());
        }
    }
}

#[test]
fn random_splits_give_the_same_chunks() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for (case, bytes) in stream_bytes() {
        let whole = stream(&[&bytes]);
        for _ in 0..50 {
            let mut cuts: Vec<usize> = (0..rng.gen_range(1..8))
                .map(|_| rng.gen_range(0..=bytes.len()))
                .collect();
            cuts.sort_unstable();
            let mut parts = Vec::new();
            let mut at = 0;
            for c in cuts {
                parts.push(&bytes[at..c]);
                at = c;
            }
            parts.push(&bytes[at..]);
            assert_eq!(stream(&parts), whole, "{case}");
        }
        let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(stream(&bytewise), whole, "{case} byte by byte");
    }
}

#[test]
fn truncations_flips_and_garbage_never_panic() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    for (case, bytes) in stream_bytes() {
        for cut in 0..bytes.len() {
            // A clean end always carries the usage-only chunk; a cut inside
            // a frame is never a clean end.
            let (chunks, err) = stream(&[&bytes[..cut]]);
            if err.is_none() {
                assert_eq!(
                    chunks.last().unwrap()["choices"],
                    json!([]),
                    "{case} cut {cut}"
                );
            }
        }
        for _ in 0..200 {
            let mut b = bytes.clone();
            let i = rng.gen_range(0..b.len());
            b[i] ^= 1 << rng.gen_range(0..8);
            let (_, err) = stream(&[&b]);
            assert!(err.is_some(), "{case}: a flipped bit must fail a CRC");
        }
    }
    for _ in 0..500 {
        let n = rng.gen_range(0..256);
        let junk: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
        let _ = stream(&[&junk]);
        let mut d = Decoder::new();
        let _ = d.push(&junk, &mut Vec::new());
    }
    // A frame that claims 2 GiB is refused before buffering it.
    let mut huge = 0x8000_0000u32.to_be_bytes().to_vec();
    huge.extend_from_slice(&0u32.to_be_bytes());
    let crc = eventstream::crc32(&huge);
    huge.extend_from_slice(&crc.to_be_bytes());
    assert!(stream(&[&huge]).1.is_some());
}

#[test]
fn mutated_requests_never_panic() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let inst = instance();
    for (_, path) in cases("requests") {
        let v = read_json(&path);
        for _ in 0..100 {
            let mut m = v.clone();
            mutate(&mut m, &mut rng);
            let bytes = serde_json::to_vec(&m).unwrap();
            if let Ok(req) = ChatRequest::parse(&bytes) {
                let model = req.model.to_string();
                let _ = Bedrock.chat_request(
                    &inst,
                    &req,
                    &model,
                    ModelFacts::default(),
                    UnsupportedPolicy::Reject,
                );
            }
        }
    }
    for (_, path) in cases("responses") {
        let bytes = std::fs::read(&path).unwrap();
        for cut in 0..bytes.len() {
            let _ = response::translate(&bytes[..cut], MODEL, ID);
        }
    }
}

/// Replaces one random node of `v` with an odd value.
fn mutate(v: &mut Value, rng: &mut rand::rngs::StdRng) {
    let descend = rng.gen_bool(0.7);
    match v {
        Value::Object(o) if descend && !o.is_empty() => {
            let k = o.keys().nth(rng.gen_range(0..o.len())).cloned().unwrap();
            mutate(o.get_mut(&k).unwrap(), rng);
        }
        Value::Array(a) if descend && !a.is_empty() => {
            let i = rng.gen_range(0..a.len());
            mutate(&mut a[i], rng);
        }
        _ => {
            let odd = [
                json!(null),
                json!(-1),
                json!(1e300),
                json!(""),
                json!("x"),
                json!([]),
                json!({}),
                json!([null, 1, "a"]),
                json!({"type": "image_url", "image_url": {"url": "data:,"}}),
            ];
            *v = odd[rng.gen_range(0..odd.len())].clone();
        }
    }
}
