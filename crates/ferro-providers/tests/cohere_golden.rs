//! Golden tests of the Cohere v2 adapter, both directions, plus robustness
//! passes over the SSE translator (random splits, truncations, garbage).
//!
//! Fixtures live in `tests/fixtures/cohere/`:
//! * `requests/<case>.json` (+ optional `<case>.options.json` `{"policy"}`) →
//!   `<case>.expected.json`: `{"method","url","headers","body"}` or `{"error"}`;
//! * `responses/<case>.json` — a `/v2/chat` body → the `chat.completion`;
//! * `streams/<case>.sse` — a `/v2/chat` event stream → `{"chunks","error"}`;
//! * `errors/<case>.json` — `{"status","body"}` → what the gateway sees;
//! * `embeddings/<case>.json` — `{model, request, response}` → the `/v1/embed`
//!   request and the OpenAI answer (or the refusal);
//! * `rerank/<case>.json` — `{request, response}` → the `/v2/rerank` request
//!   and the contract answer.
//!
//! `FERRO_BLESS=1` rewrites the expected files (review the diff).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferro_providers::cohere::Cohere;
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

const MODEL: &str = "command-r-plus-08-2024";

mod golden;
use golden::read_json;

const FX: golden::Fixtures = golden::Fixtures("cohere");

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
        spec::find("cohere").unwrap(),
        InstanceSettings {
            api_key: Some(Secret::new("co-test")),
            ..Default::default()
        },
    )
    .unwrap()
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
    run(&mut *Cohere.stream(MODEL), parts)
}

#[test]
fn request_goldens() {
    let inst = instance();
    assert_eq!(inst.root, "https://api.cohere.com");
    assert_eq!(inst.headers[0].1.to_str().unwrap(), "Bearer co-test");
    for (case, path) in cases("requests", "json") {
        let opts_path = dir("requests").join(format!("{case}.options.json"));
        let opts = if opts_path.exists() {
            read_json(&opts_path)
        } else {
            json!({})
        };
        let policy = match opts["policy"].as_str() {
            Some("reject") => UnsupportedPolicy::Reject,
            Some("drop") => UnsupportedPolicy::Drop,
            _ => UnsupportedPolicy::Warn,
        };
        let bytes = std::fs::read(&path).unwrap();
        let req = ChatRequest::parse(&bytes).unwrap();
        let model = req.model.to_string();
        let out = match Cohere.chat_request(&inst, &req, &model, ModelFacts::default(), policy) {
            Ok(n) => native_json(&n),
            Err(e) => error_json(&e),
        };
        check("requests", &case, &out);
    }
}

#[test]
fn response_goldens() {
    for (case, path) in cases("responses", "json") {
        let out = Cohere
            .chat_response(&std::fs::read(&path).unwrap(), MODEL)
            .unwrap();
        check("responses", &case, &serde_json::from_slice(&out).unwrap());
    }
}

#[test]
fn stream_goldens() {
    for (case, path) in cases("streams", "sse") {
        let (chunks, error) = stream(&[&std::fs::read(&path).unwrap()]);
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
        let mapped = Cohere.map_status(status);
        let body = Cohere
            .error_body(mapped, &raw)
            .map(|b| serde_json::from_slice::<Value>(&b).unwrap());
        check("errors", &case, &json!({"status": mapped, "body": body}));
    }
}

#[test]
fn embedding_goldens() {
    for (case, path) in cases("embeddings", "json") {
        let f = read_json(&path);
        let model = f["model"].as_str().unwrap();
        let request = serde_json::to_vec(&f["request"]).unwrap();
        let out = match Cohere.embed_request(&instance(), &request, model) {
            Err(e) => error_json(&e),
            Ok(n) => {
                let answer = serde_json::to_vec(&f["response"]).unwrap();
                let translated = Cohere.embed_response_for(&request, &answer, model).unwrap();
                json!({"request": native_json(&n),
                    "answer": serde_json::from_slice::<Value>(&translated).unwrap()})
            }
        };
        check("embeddings", &case, &out);
    }
}

#[test]
fn rerank_goldens() {
    for (case, path) in cases("rerank", "json") {
        let f = read_json(&path);
        let req = RerankRequest::parse(&serde_json::to_vec(&f["request"]).unwrap()).unwrap();
        let n = Cohere
            .rerank_request(&instance(), &req, &req.model)
            .unwrap();
        let answer = serde_json::to_vec(&f["response"]).unwrap();
        let out = Cohere.rerank_response(&req, &answer).unwrap();
        check(
            "rerank",
            &case,
            &json!({"request": native_json(&n), "answer": serde_json::from_slice::<Value>(&out).unwrap()}),
        );
    }
}

#[test]
fn stream_and_json_usage_agree() {
    let mut pairs = 0;
    for (case, path) in cases("responses", "json") {
        let sse = dir("streams").join(format!("{case}.sse"));
        if !sse.exists() {
            continue;
        }
        pairs += 1;
        let json_out: Value = serde_json::from_slice(
            &Cohere
                .chat_response(&std::fs::read(&path).unwrap(), MODEL)
                .unwrap(),
        )
        .unwrap();
        let (chunks, err) = stream(&[&std::fs::read(&sse).unwrap()]);
        assert!(err.is_none(), "{case}: {err:?}");
        let last = chunks.last().unwrap();
        assert_eq!(last["choices"], json!([]), "{case}");
        assert_eq!(last["usage"], json_out["usage"], "{case}");
        let content: String = chunks
            .iter()
            .filter_map(|c| c.pointer("/choices/0/delta/content")?.as_str())
            .collect();
        let want = json_out["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or("");
        assert_eq!(content, want, "{case}");
    }
    assert!(pairs >= 4, "paired fixtures: {pairs}");
}

#[test]
fn every_fixture_has_its_expectation() {
    for (sub, ext) in [
        ("requests", "json"),
        ("responses", "json"),
        ("streams", "sse"),
        ("errors", "json"),
        ("embeddings", "json"),
        ("rerank", "json"),
    ] {
        for (case, _) in cases(sub, ext) {
            let p = dir(sub).join(format!("{case}.expected.json"));
            assert!(p.exists(), "{sub}/{case} lacks {}", p.display());
        }
    }
}

#[test]
fn random_splits_truncations_and_garbage() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    for (case, path) in cases("streams", "sse") {
        let bytes = std::fs::read(&path).unwrap();
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
        for cut in 0..bytes.len() {
            let (chunks, err) = stream(&[&bytes[..cut]]);
            if err.is_none() {
                assert_eq!(
                    chunks.last().unwrap()["choices"],
                    json!([]),
                    "{case} cut {cut}"
                );
            }
        }
        for _ in 0..100 {
            let mut b = bytes.clone();
            let i = rng.gen_range(0..b.len());
            b[i] = rng.gen();
            let _ = stream(&[&b]);
        }
    }
    for _ in 0..300 {
        let n = rng.gen_range(0..512);
        let junk: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
        let _ = stream(&[&junk]);
    }
    for (_, path) in cases("responses", "json") {
        let bytes = std::fs::read(&path).unwrap();
        for cut in 0..bytes.len() {
            let _ = Cohere.chat_response(&bytes[..cut], MODEL);
        }
    }
}
