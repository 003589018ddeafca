//! Golden tests of the Gemini translation, both directions, against payload
//! shapes of Google's public API reference (fixtures under
//! `tests/fixtures/gemini/`). `FERRO_BLESS=1 cargo test -p ferro-providers
//! --test gemini_golden` rewrites the expected OpenAI outputs (review the diff).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ferro_providers::gemini::{self, response, stream::GeminiStream, Gemini};
use ferro_providers::instance::{InstanceSettings, ProviderInstance};
use ferro_providers::native::{ModelFacts, NativeAdapter, StreamTranslator, UnsupportedPolicy};
use ferro_providers::{spec, Secret};
use ferro_types::catalog::Catalog;
use ferro_types::chat::ChatRequest;
use ferro_types::cost::{cost_usd, CostKind};
use ferro_types::usage::TokenCounts;
use serde_json::Value;
use std::path::{Path, PathBuf};

const CREATED: u64 = 1_700_000_000;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gemini")
}

fn bless() -> bool {
    std::env::var("FERRO_BLESS").is_ok_and(|v| v == "1")
}

fn read_json(name: &str) -> Value {
    let p = dir().join(name);
    serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap_or_else(|e| panic!("{p:?}: {e}"))
}

fn write_json(name: &str, v: &Value) {
    let mut s = serde_json::to_string_pretty(v).unwrap();
    s.push('\n');
    std::fs::write(dir().join(name), s).unwrap();
}

fn instance() -> ProviderInstance {
    ProviderInstance::build(
        spec::find("gemini").unwrap(),
        InstanceSettings {
            api_key: Some(Secret::new("test-key")),
            base_url: Some("http://127.0.0.1:9".into()),
            ..Default::default()
        },
    )
    .unwrap()
}

fn chat_request(openai: &Value, policy: UnsupportedPolicy) -> Result<(String, Value), String> {
    let bytes = openai.to_string().into_bytes();
    let req = ChatRequest::parse(&bytes).map_err(|e| e.message.into_owned())?;
    let model = req.model.to_string();
    let n = Gemini
        .chat_request(&instance(), &req, &model, ModelFacts::default(), policy)
        .map_err(|e| format!("{}: {}", e.code, e.message))?;
    assert_eq!(n.headers.len(), 0, "the key header comes from the instance");
    Ok((n.url, serde_json::from_slice(&n.body).unwrap()))
}

#[test]
fn request_goldens() {
    let cases = read_json("requests.json");
    for case in cases.as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        // Reject: every fixture parameter must be translatable.
        let (url, body) = chat_request(&case["openai"], UnsupportedPolicy::Reject)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(body, case["gemini"], "{name}");
        let model = case["openai"]["model"].as_str().unwrap();
        let want = if case["openai"]["stream"] == true {
            format!("http://127.0.0.1:9/v1beta/models/{model}:streamGenerateContent?alt=sse")
        } else {
            format!("http://127.0.0.1:9/v1beta/models/{model}:generateContent")
        };
        assert_eq!(url, want, "{name}");
    }
}

#[test]
fn instance_sends_the_api_key_header() {
    let inst = instance();
    assert_eq!(inst.headers[0].0.as_str(), "x-goog-api-key");
    assert_eq!(inst.root, "http://127.0.0.1:9/v1beta");
}

#[test]
fn unsupported_parameters_follow_the_policy() {
    let base = serde_json::json!({"model": "gemini-2.0-flash",
        "messages": [{"role": "user", "content": "hi"}], "logprobs": true, "user": "u1"});
    let e = chat_request(&base, UnsupportedPolicy::Reject).unwrap_err();
    assert!(e.starts_with("unsupported_parameter"), "{e}");
    for policy in [UnsupportedPolicy::Warn, UnsupportedPolicy::Drop] {
        let (_, body) = chat_request(&base, policy).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
        );
    }
    assert_eq!(Gemini.param_support("logit_bias").as_str(), "unsupported");
    assert_eq!(Gemini.param_support("tools").as_str(), "translate");
    // Bad shapes are the client's error, never a panic.
    for bad in [
        serde_json::json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}]}]}),
        serde_json::json!({"model": "m", "messages": [{"role": "assistant", "content": null, "tool_calls": [{"id": "1", "type": "function", "function": {"name": "f", "arguments": "[1]"}}]}]}),
        serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "tool_choice": "sometimes"}),
        serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "yaml"}}),
        serde_json::json!({"model": "bad:model", "messages": [{"role": "user", "content": "x"}]}),
    ] {
        assert!(
            chat_request(&bad, UnsupportedPolicy::Warn).is_err(),
            "{bad}"
        );
    }
}

/// Native answers in `responses.json`; their translations, by case name, in
/// `responses.expected.json`.
#[test]
fn response_goldens() {
    let cases = read_json("responses.json");
    let mut expected = if bless() {
        Value::Object(Default::default())
    } else {
        read_json("responses.expected.json")
    };
    for case in cases.as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let body = serde_json::to_vec_pretty(&case["gemini"]).unwrap();
        let out = response::translate(&body, "gemini-2.0-flash", CREATED, "fixture").unwrap();
        let out: Value = serde_json::from_slice(&out).unwrap();
        if bless() {
            expected[name] = out;
        } else {
            assert_eq!(out, expected[name], "{name}");
        }
    }
    if bless() {
        write_json("responses.expected.json", &expected);
    }
}

fn run_stream(tr: &mut GeminiStream, pieces: &[&[u8]]) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for p in pieces {
        tr.push(p, &mut out).map_err(|e| e.0)?;
    }
    tr.finish(&mut out).map_err(|e| e.0)?;
    Ok(out
        .iter()
        .map(|c| serde_json::from_slice(c).unwrap())
        .collect())
}

fn stream_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir().join("streams"))
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().into_string().unwrap();
            n.strip_suffix(".sse").map(str::to_owned)
        })
        .collect();
    names.sort();
    names
}

fn sse_bytes(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(format!("streams/{name}.sse"))).unwrap()
}

#[test]
fn stream_goldens() {
    for name in stream_names() {
        let bytes = sse_bytes(&name);
        let got = run_stream(
            &mut GeminiStream::new("gemini-2.0-flash", CREATED, "fixture"),
            &[&bytes],
        );
        if name == "error_midstream" {
            let e = got.unwrap_err();
            assert!(e.contains("overloaded"), "{e}");
            continue;
        }
        let got = Value::Array(got.unwrap_or_else(|e| panic!("{name}: {e}")));
        let expected = format!("streams/{name}.chunks.json");
        if bless() {
            write_json(&expected, &got);
        } else {
            assert_eq!(got, read_json(&expected), "{name}");
        }
        // The contract: exactly one usage-only chunk, and it is the last.
        let chunks = got.as_array().unwrap();
        let usage_only: Vec<_> = chunks
            .iter()
            .filter(|c| c["choices"].as_array().is_some_and(Vec::is_empty))
            .collect();
        assert_eq!(usage_only.len(), 1, "{name}");
        assert!(chunks.last().unwrap()["usage"].is_object(), "{name}");
        assert!(
            chunks[..chunks.len() - 1]
                .iter()
                .all(|c| c.get("usage").is_none()),
            "{name}: only the last chunk carries usage"
        );
    }
}

fn price(tokens: &TokenCounts) -> Option<f64> {
    let c = Catalog::embedded();
    let p = &c.get("gemini/gemini-2.0-flash").unwrap().pricing;
    cost_usd(p, CostKind::Chat, tokens)
}

#[test]
fn stream_and_whole_answers_agree() {
    let whole = std::fs::read(dir().join("streams/function_calls.whole.json")).unwrap();
    let whole: Value = serde_json::from_slice(
        &response::translate(&whole, "gemini-2.0-flash", CREATED, "fixture").unwrap(),
    )
    .unwrap();
    let chunks = run_stream(
        &mut GeminiStream::new("gemini-2.0-flash", CREATED, "fixture"),
        &[&sse_bytes("function_calls")],
    )
    .unwrap();
    assert_eq!(chunks[0]["id"], whole["id"]);
    // Tool calls: same ids, names, arguments and order.
    let streamed: Vec<&Value> = chunks
        .iter()
        .flat_map(|c| c["choices"].as_array().unwrap())
        .filter_map(|ch| ch["delta"]["tool_calls"].as_array())
        .flatten()
        .collect();
    let calls = whole["choices"][0]["message"]["tool_calls"]
        .as_array()
        .unwrap();
    assert_eq!(streamed.len(), calls.len());
    for (i, (s, w)) in streamed.iter().zip(calls).enumerate() {
        assert_eq!(s["index"], i as u64);
        assert_eq!(s["id"], w["id"]);
        assert_eq!(s["function"], w["function"]);
    }
    let content: String = chunks
        .iter()
        .flat_map(|c| c["choices"].as_array().unwrap())
        .filter_map(|ch| ch["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, whole["choices"][0]["message"]["content"]);
    let finish: Vec<&Value> = chunks
        .iter()
        .flat_map(|c| c["choices"].as_array().unwrap())
        .map(|ch| &ch["finish_reason"])
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finish, vec![&whole["choices"][0]["finish_reason"]]);
    // Usage and cost identical (the last frame's usage, cached tokens priced).
    let su = chunks.last().unwrap()["usage"].clone();
    assert_eq!(su, whole["usage"]);
    let st = TokenCounts::from_usage_json(&su.to_string()).unwrap();
    let wt = TokenCounts::from_usage_json(&whole["usage"].to_string()).unwrap();
    assert_eq!(st, wt);
    assert_eq!(st.cache_read, 64);
    assert_eq!(price(&st), price(&wt));
    assert!(price(&st).unwrap() > 0.0);
}

/// A tiny deterministic generator for the robustness test.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

#[test]
fn random_splits_and_truncations_never_panic() {
    let mut rng = Lcg(7);
    for name in stream_names() {
        let bytes = sse_bytes(&name);
        let whole = run_stream(&mut GeminiStream::new("m", CREATED, "f"), &[&bytes]);
        for _ in 0..200 {
            // Random split points: identical output.
            let mut cuts: Vec<usize> = (0..rng.next(12)).map(|_| rng.next(bytes.len())).collect();
            cuts.sort_unstable();
            let mut pieces: Vec<&[u8]> = Vec::new();
            let mut at = 0;
            for c in cuts {
                pieces.push(&bytes[at..c]);
                at = c;
            }
            pieces.push(&bytes[at..]);
            let split = run_stream(&mut GeminiStream::new("m", CREATED, "f"), &pieces);
            assert_eq!(split, whole, "{name}: split changed the output");
            // Random truncation: an error or a shorter answer, never a panic.
            let cut = rng.next(bytes.len());
            let _ = run_stream(&mut GeminiStream::new("m", CREATED, "f"), &[&bytes[..cut]]);
            // Random corruption of one byte.
            let mut bad = bytes.clone();
            let i = rng.next(bad.len());
            bad[i] = rng.next(256) as u8;
            let _ = run_stream(&mut GeminiStream::new("m", CREATED, "f"), &[&bad]);
        }
    }
    // Garbage and odd-but-valid frames.
    for junk in [
        &b"data: [1,2,3]\n\n"[..],
        b"data: {\"candidates\":7}\n\n",
        b"data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{}}]}}]}\n\n",
        b": keep-alive\n\ndata:\n\n",
        b"\xff\xfe\x00data",
    ] {
        let _ = run_stream(&mut GeminiStream::new("m", CREATED, "f"), &[junk]);
    }
    // Frames after the end are ignored.
    let mut tr = GeminiStream::new("m", CREATED, "f");
    let mut out = Vec::new();
    tr.finish(&mut out).unwrap();
    tr.push(&sse_bytes("text"), &mut out).unwrap();
    assert_eq!(out.len(), 1, "only the usage chunk");
}

#[test]
fn error_goldens() {
    for case in read_json("errors.json").as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let body = serde_json::to_vec(&case["gemini"]).unwrap();
        let status = case["status"].as_u64().unwrap() as u16;
        let out = Gemini.error_body(status, &body).unwrap();
        let out: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(out, case["openai"], "{name}");
        assert_eq!(
            u64::from(Gemini.error_status(status, &body)),
            case["expected_status"].as_u64().unwrap(),
            "{name}"
        );
    }
    assert!(Gemini.error_body(500, b"<html>oops</html>").is_none());
}

#[test]
fn embedding_goldens() {
    let inst = instance();
    for case in read_json("embeddings.json").as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let body = case["openai"].to_string().into_bytes();
        let model = case["openai"]["model"].as_str().unwrap();
        let n = Gemini.embed_request(&inst, &body, model).unwrap();
        assert_eq!(
            n.url,
            format!(
                "http://127.0.0.1:9/v1beta{}",
                case["url_suffix"].as_str().unwrap()
            ),
            "{name}"
        );
        let sent: Value = serde_json::from_slice(&n.body).unwrap();
        assert_eq!(sent, case["gemini_request"], "{name}");
        let native = case["gemini_response"].to_string().into_bytes();
        let out = Gemini.embed_response_for(&body, &native, model).unwrap();
        let out: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(out, case["openai_response"], "{name}");
        // Without the request the vectors still translate (usage unknown: 0).
        let bare: Value =
            serde_json::from_slice(&Gemini.embed_response(&native, model).unwrap()).unwrap();
        assert_eq!(
            bare["data"].as_array().unwrap().len(),
            out["data"].as_array().unwrap().len()
        );
    }
    let e = Gemini
        .embed_request(&inst, br#"{"model":"m","input":[[1,2]]}"#, "m")
        .unwrap_err();
    assert_eq!(e.code, "unsupported_parameter");
}

#[test]
fn vertex_reuses_the_gemini_translation() {
    use ferro_providers::vertex::Vertex;
    let mut s = InstanceSettings {
        api_key: Some(Secret::new("k")),
        base_url: Some("http://127.0.0.1:9".into()),
        ..Default::default()
    };
    s.extra.insert("project_id".into(), "proj".into());
    s.extra.insert("region".into(), "europe-west4".into());
    let inst = ProviderInstance::build(spec::find("vertex-ai").unwrap(), s).unwrap();
    let case = &read_json("requests.json")[2];
    let bytes = case["openai"].to_string().into_bytes();
    let req = ChatRequest::parse(&bytes).unwrap();
    let n = Vertex
        .chat_request(
            &inst,
            &req,
            "gemini-2.0-flash",
            ModelFacts::default(),
            UnsupportedPolicy::Reject,
        )
        .unwrap();
    assert_eq!(
        n.url,
        "http://127.0.0.1:9/v1/projects/proj/locations/europe-west4/publishers/google/models/gemini-2.0-flash:generateContent"
    );
    let body: Value = serde_json::from_slice(&n.body).unwrap();
    assert_eq!(body, case["gemini"]);
    let whole = std::fs::read(dir().join("streams/function_calls.whole.json")).unwrap();
    let v: Value =
        serde_json::from_slice(&Vertex.chat_response(&whole, "gemini-2.0-flash").unwrap()).unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        gemini::model_path("gemini-2.0-flash").unwrap(),
        "models/gemini-2.0-flash"
    );
}

/// A fresh service-account key file (JSON).
fn service_account() -> String {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap();
    serde_json::json!({"type": "service_account", "client_email": "t@p.iam.gserviceaccount.com",
                       "private_key": pem.as_str(), "private_key_id": "k1"})
    .to_string()
}

#[tokio::test]
async fn vertex_tokens_are_cached_then_refreshed_before_expiry() {
    use ferro_mock_upstream::{Fault, MockUpstream};
    use ferro_providers::vertex::auth::access_token;
    let up = MockUpstream::start().await.unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/token", up.url());
    let sa = service_account();
    let a = access_token(&http, &sa, Some(&url)).await.unwrap();
    let b = access_token(&http, &sa, Some(&url)).await.unwrap();
    assert_eq!(a, b);
    assert_eq!(up.hits_for("/token"), 1, "cached");
    // Another credential has its own token.
    let other = service_account();
    let c = access_token(&http, &other, Some(&url)).await.unwrap();
    assert_ne!(a, c);
    assert_eq!(up.hits_for("/token"), 2);
    // A token that expires within the refresh margin is replaced on next use.
    let sa = service_account();
    up.push_fault(Fault::Status {
        status: 200,
        body: Some(r#"{"access_token":"ya29.short","expires_in":60,"token_type":"Bearer"}"#.into()),
        retry_after: None,
    });
    let short = access_token(&http, &sa, Some(&url)).await.unwrap();
    assert_eq!(short, "ya29.short");
    // 60 s is inside the 300 s margin: refreshed at 30 s, i.e. not yet.
    assert_eq!(
        access_token(&http, &sa, Some(&url)).await.unwrap(),
        "ya29.short"
    );
    up.push_fault(Fault::Status {
        status: 200,
        body: Some(
            r#"{"access_token":"ya29.instant","expires_in":1,"token_type":"Bearer"}"#.into(),
        ),
        retry_after: None,
    });
    let sa2 = service_account();
    assert_eq!(
        access_token(&http, &sa2, Some(&url)).await.unwrap(),
        "ya29.instant"
    );
    let fresh = access_token(&http, &sa2, Some(&url)).await.unwrap();
    assert!(fresh.starts_with("ya29.mock-"), "refreshed: {fresh}");
    // Refusals and bad keys are errors without secrets.
    up.push_fault(Fault::Status {
        status: 400,
        body: Some(
            r#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#.into(),
        ),
        retry_after: None,
    });
    let e = access_token(&http, &service_account(), Some(&url))
        .await
        .unwrap_err();
    assert!(e.contains("invalid_grant") && !e.contains("PRIVATE"), "{e}");
    let e = access_token(
        &http,
        r#"{"client_email":"x","private_key":"nope"}"#,
        Some(&url),
    )
    .await
    .unwrap_err();
    assert!(e.contains("PKCS#8"), "{e}");
}
