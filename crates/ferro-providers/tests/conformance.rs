//! The provider conformance suite: one set of provider-independent checks that
//! every native adapter runs against its own recorded payloads.
//!
//! `tests/fixtures/conformance.json` names, for every provider id of the native
//! registry, the fixture(s) realising each capability case of [`CASES`], or an
//! explicit opt-out with a reason. For every provider × realised case the suite
//! loads the fixtures, runs the adapter's translation (OpenAI → native request;
//! native response / stream → OpenAI) and checks invariants on the OpenAI side
//! that hold whatever the vendor:
//!
//! * `chat` — one choice, assistant content, a finish reason, coherent usage;
//! * `stream` — the first chunk says `role: assistant`, exactly one usage-only
//!   chunk (`choices: []`) and it is the last, one finish reason, one id; the
//!   request with `stream: true` differs from the non-streamed one; deltas add
//!   up to the non-streamed content when the same exchange is recorded whole;
//! * `tools` — tool names reach the native request; tool calls come back with
//!   an id, `type: function`, a name and arguments that parse as JSON;
//! * `parallel_stream_tools` — two or more streamed tool calls, indices 0, 1, …,
//!   each reassembling to valid JSON arguments;
//! * `vision` — every image of the OpenAI request is carried by the native one;
//! * `json_mode` — `response_format` changes the native request (and the schema
//!   properties reach it); the answer's content parses as JSON, streamed too;
//! * `reasoning` — the reasoning knob changes the native request;
//!   `reasoning_content` comes back, streamed too;
//! * `errors` — vendor error bodies become an envelope with a string message;
//! * `cache_usage` — `prompt_tokens` ≥ cached tokens, `cache_read_tokens` and
//!   `prompt_tokens_details.cached_tokens` set, and the catalog price is lower
//!   than pricing every prompt token at the input rate.
//!
//! A case listing both `response` and `stream` claims they record one exchange:
//! content, finish reason, tool calls and usage must then agree.
//!
//! A provider entry may list `known_failures` (`{case: {reason, expect}}`): an
//! adapter bug the suite has found and that is not fixed yet. The case must
//! then fail with a message containing `expect`; once it passes, the suite
//! fails until the entry is removed.
//!
//! `manifest_covers_every_native_provider` fails when a provider of the native
//! registry has no manifest entry, a case is neither realised nor opted out, or
//! a fixture the manifest names does not exist.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ferro_providers::instance::InstanceSettings;
use ferro_providers::native::{self, ModelFacts, NativeAdapter, UnsupportedPolicy};
use ferro_providers::{spec, ProviderInstance, ProviderSpec, Secret};
use ferro_types::catalog::Catalog;
use ferro_types::chat::ChatRequest;
use ferro_types::cost::{cost_usd, CostKind};
use ferro_types::usage::TokenCounts;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// The capability cases, and the manifest fields each one requires / allows.
const CASES: &[(&str, &[&str], &[&str])] = &[
    ("chat", &["request", "response"], &[]),
    ("stream", &["stream"], &["request", "response"]),
    ("tools", &["request", "response"], &[]),
    (
        "parallel_stream_tools",
        &["stream"],
        &["response", "more_streams"],
    ),
    ("vision", &["request"], &[]),
    ("json_mode", &["request", "response"], &["stream"]),
    ("reasoning", &["response"], &["request", "stream"]),
    ("errors", &["errors"], &[]),
    ("cache_usage", &["response"], &["stream"]),
];

const FINISH_REASONS: &[&str] = &["stop", "length", "tool_calls", "content_filter"];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn manifest() -> Value {
    let p = fixtures().join("conformance.json");
    let s = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[path = "conformance/fixture_files.rs"]
mod fixture_files;
use fixture_files::*;

// ---------------------------------------------------------------- provider --

struct Provider {
    id: String,
    spec: &'static ProviderSpec,
    adapter: &'static dyn NativeAdapter,
    inst: ProviderInstance,
    model: String,
}

/// The provider id of a manifest entry: its `provider` field, else its key.
fn provider_of<'a>(key: &'a str, entry: &'a Value) -> &'a str {
    entry["provider"].as_str().unwrap_or(key)
}

impl Provider {
    fn new(key: &str, entry: &Value) -> Provider {
        let id = provider_of(key, entry);
        let spec = spec::find(id).unwrap_or_else(|| panic!("{id}: not in spec::PROVIDERS"));
        let adapter = native::adapter(id).unwrap_or_else(|| panic!("{id}: no native adapter"));
        let settings = &entry["settings"];
        let mut s = InstanceSettings {
            name: id.to_owned(),
            api_key: Some(Secret::new("conformance-test-key")),
            base_url: settings["base_url"].as_str().map(str::to_owned),
            ..Default::default()
        };
        for (k, v) in settings["extra"].as_object().into_iter().flatten() {
            s.extra.insert(k.clone(), v.as_str().unwrap().to_owned());
        }
        let inst = ProviderInstance::build(spec, s).unwrap_or_else(|e| panic!("{id}: {e:?}"));
        Provider {
            id: key.to_owned(),
            spec,
            adapter,
            inst,
            model: entry["model"].as_str().unwrap().to_owned(),
        }
    }

    /// OpenAI request → native `(url, body)`.
    fn request(&self, openai: &[u8]) -> Result<(String, Value), String> {
        let req = ChatRequest::parse(openai).map_err(|e| format!("parse: {}", e.message))?;
        let facts = ModelFacts {
            max_output_tokens: Some(8192),
        };
        let n = self
            .adapter
            .chat_request(&self.inst, &req, &req.model, facts, UnsupportedPolicy::Warn)
            .map_err(|e| format!("chat_request refused: {} {}", e.code, e.message))?;
        let body =
            serde_json::from_slice(&n.body).map_err(|e| format!("native body is not JSON: {e}"))?;
        Ok((n.url, body))
    }

    /// The native request of `openai` with top-level `keys` removed.
    fn request_without(&self, openai: &[u8], keys: &[&str]) -> Result<(String, Value), String> {
        let mut v: Value = serde_json::from_slice(openai).map_err(|e| e.to_string())?;
        for k in keys {
            v.as_object_mut().unwrap().remove(*k);
        }
        self.request(&serde_json::to_vec(&v).unwrap())
    }

    fn response(&self, native: &[u8]) -> Result<Value, String> {
        let out = self
            .adapter
            .chat_response(native, &self.model)
            .map_err(|e| format!("chat_response: {}", e.0))?;
        serde_json::from_slice(&out).map_err(|e| format!("chat_response gave non-JSON: {e}"))
    }

    fn stream(&self, native: &[u8]) -> Result<Vec<Value>, String> {
        let mut tr = self.adapter.stream(&self.model);
        let mut out = Vec::new();
        tr.push(native, &mut out)
            .map_err(|e| format!("stream push: {}", e.0))?;
        tr.finish(&mut out)
            .map_err(|e| format!("stream finish: {}", e.0))?;
        out.iter()
            .map(|c| serde_json::from_slice(c).map_err(|e| format!("chunk is not JSON: {e}")))
            .collect()
    }
}

// -------------------------------------------------------------- invariants --

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

#[path = "conformance/invariants.rs"]
mod invariants;
use invariants::*;

// ------------------------------------------------------------------- cases --

fn case_chat(p: &Provider, c: &Value) -> Result<(), String> {
    let req = request_bytes(field(c, "request").unwrap())?;
    let (url, body) = p.request(&req)?;
    ensure!(
        url.starts_with("https://") || url.starts_with("http://"),
        "url {url}"
    );
    ensure!(body.is_object(), "native body is not an object");
    let v = p.response(&response_bytes(field(c, "response").unwrap())?)?;
    let (m, _) = check_completion(&v)?;
    ensure!(
        m["content"].as_str().is_some_and(|s| !s.is_empty()),
        "no assistant content: {m}"
    );
    Ok(())
}

fn case_stream(p: &Provider, c: &Value) -> Result<(), String> {
    if let Some(r) = field(c, "request") {
        let req = request_bytes(r)?;
        let v: Value = serde_json::from_slice(&req).unwrap();
        ensure!(v["stream"] == true, "stream request without stream: true");
        let streamed = p.request(&req)?;
        let mut plain = v.clone();
        plain["stream"] = json!(false);
        plain.as_object_mut().unwrap().remove("stream_options");
        let plain = p.request(&serde_json::to_vec(&plain).unwrap())?;
        ensure!(
            streamed != plain,
            "stream: true does not change the native request"
        );
    }
    let s = check_stream(&p.stream(&stream_bytes(field(c, "stream").unwrap())?)?)?;
    ensure!(!s.content.is_empty(), "no streamed content");
    if let Some(r) = field(c, "response") {
        check_pair(&s, &p.response(&response_bytes(r)?)?)?;
    }
    Ok(())
}

fn case_tools(p: &Provider, c: &Value) -> Result<(), String> {
    let req = request_bytes(field(c, "request").unwrap())?;
    let openai: Value = serde_json::from_slice(&req).unwrap();
    let tools = openai["tools"].as_array().ok_or("request has no tools")?;
    let (_, body) = p.request(&req)?;
    for t in tools {
        let name = t["function"]["name"].as_str().ok_or("tool without name")?;
        ensure!(
            carries_string(&body, name),
            "tool {name} does not reach the native request"
        );
    }
    let v = p.response(&response_bytes(field(c, "response").unwrap())?)?;
    let (m, f) = check_completion(&v)?;
    ensure!(f == "tool_calls", "finish_reason {f} with tool calls");
    check_tool_calls(m)?;
    Ok(())
}

fn check_parallel_stream(p: &Provider, r: &str) -> Result<Streamed, String> {
    let s = check_stream(&p.stream(&stream_bytes(r)?)?)?;
    ensure!(
        s.calls.len() >= 2,
        "{} streamed tool calls, want ≥ 2",
        s.calls.len()
    );
    ensure!(s.finish == "tool_calls", "finish_reason {}", s.finish);
    let mut ids: Vec<&str> = s.calls.iter().map(|c| c.0.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    ensure!(ids.len() == s.calls.len(), "tool call ids not distinct");
    Ok(s)
}

/// `stream` (paired with `response` when given), then each of `more_streams`.
fn case_parallel_stream_tools(p: &Provider, c: &Value) -> Result<(), String> {
    let r = field(c, "stream").unwrap();
    let s = check_parallel_stream(p, r).map_err(|e| format!("{r}: {e}"))?;
    if let Some(r) = field(c, "response") {
        check_pair(&s, &p.response(&response_bytes(r)?)?)?;
    }
    for r in c["more_streams"].as_array().into_iter().flatten() {
        let r = r.as_str().ok_or("more_streams holds a non-path")?;
        check_parallel_stream(p, r).map_err(|e| format!("{r}: {e}"))?;
    }
    Ok(())
}

fn case_vision(p: &Provider, c: &Value) -> Result<(), String> {
    let req = request_bytes(field(c, "request").unwrap())?;
    let openai: Value = serde_json::from_slice(&req).unwrap();
    let (_, body) = p.request(&req)?;
    let mut images = 0;
    for m in openai["messages"].as_array().ok_or("no messages")? {
        for part in m["content"].as_array().into_iter().flatten() {
            if part["type"] != "image_url" {
                continue;
            }
            images += 1;
            let url = part["image_url"]["url"]
                .as_str()
                .ok_or("image without url")?;
            // A data URL travels as its base64 payload; a web URL as itself.
            let needle = match url.strip_prefix("data:") {
                Some(rest) => rest.split_once(',').map(|(_, d)| d).unwrap_or(rest),
                None => url,
            };
            ensure!(
                carries_string(&body, needle),
                "image {} does not reach the native request",
                &url[..url.len().min(48)]
            );
        }
    }
    ensure!(images > 0, "vision request without images");
    Ok(())
}

fn case_json_mode(p: &Provider, c: &Value) -> Result<(), String> {
    let req = request_bytes(field(c, "request").unwrap())?;
    let openai: Value = serde_json::from_slice(&req).unwrap();
    let rf = &openai["response_format"];
    ensure!(
        rf["type"] == "json_object" || rf["type"] == "json_schema",
        "request has no JSON response_format"
    );
    let with = p.request(&req)?;
    let without = p.request_without(&req, &["response_format"])?;
    ensure!(
        with != without,
        "response_format does not reach the native request"
    );
    for prop in rf
        .pointer("/json_schema/schema/properties")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(Map::keys)
    {
        ensure!(
            carries_key(&with.1, prop),
            "schema property {prop} does not reach the native request"
        );
    }
    let v = p.response(&response_bytes(field(c, "response").unwrap())?)?;
    let (m, _) = check_completion(&v)?;
    let content = m["content"].as_str().ok_or("JSON answer without content")?;
    ensure!(
        serde_json::from_str::<Value>(content).is_ok(),
        "content is not JSON: {content:?}"
    );
    if let Some(r) = field(c, "stream") {
        let s = check_stream(&p.stream(&stream_bytes(r)?)?)?;
        ensure!(
            serde_json::from_str::<Value>(&s.content).is_ok(),
            "streamed content is not JSON: {:?}",
            s.content
        );
        check_pair(&s, &v)?;
    }
    Ok(())
}

fn case_reasoning(p: &Provider, c: &Value) -> Result<(), String> {
    if let Some(r) = field(c, "request") {
        let req = request_bytes(r)?;
        let with = p.request(&req)?;
        let without = p.request_without(&req, &["reasoning_effort", "thinking"])?;
        ensure!(
            with != without,
            "the reasoning parameter does not reach the native request"
        );
    }
    let v = p.response(&response_bytes(field(c, "response").unwrap())?)?;
    let (m, _) = check_completion(&v)?;
    ensure!(
        m["reasoning_content"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "no reasoning_content: {m}"
    );
    if let Some(r) = field(c, "stream") {
        let s = check_stream(&p.stream(&stream_bytes(r)?)?)?;
        ensure!(!s.reasoning.is_empty(), "no streamed reasoning_content");
        check_pair(&s, &v)?;
    }
    Ok(())
}

fn case_errors(p: &Provider, c: &Value) -> Result<(), String> {
    for r in c["errors"].as_array().ok_or("errors is not a list")? {
        let r = r.as_str().ok_or("error ref is not a string")?;
        let (status, body) = error_input(r)?;
        let mapped = p.adapter.map_status(status);
        let mapped = p.adapter.error_status(mapped, &body);
        ensure!(
            (400..600).contains(&mapped),
            "{r}: status {status} maps to {mapped}"
        );
        let env = p
            .adapter
            .error_body(mapped, &body)
            .ok_or(format!("{r}: no error envelope"))?;
        let env: Value =
            serde_json::from_slice(&env).map_err(|e| format!("{r}: envelope not JSON: {e}"))?;
        let msg = env.pointer("/error/message").and_then(Value::as_str);
        ensure!(
            msg.is_some_and(|m| !m.is_empty()),
            "{r}: envelope without a string message: {env}"
        );
        ensure!(
            env.pointer("/error/type").is_some_and(Value::is_string),
            "{r}: envelope without a type: {env}"
        );
    }
    Ok(())
}

fn check_cache_usage(p: &Provider, u: &Value) -> Result<(), String> {
    check_usage(u)?;
    let prompt = u64_at(u, "prompt_tokens")?;
    let read = u64_at(u, "cache_read_tokens")?;
    let write = u["cache_write_tokens"].as_u64().unwrap_or(0);
    ensure!(read > 0, "cache_read_tokens is 0");
    ensure!(
        prompt >= read + write,
        "prompt_tokens {prompt} < cached {read} + written {write}"
    );
    ensure!(
        u.pointer("/prompt_tokens_details/cached_tokens") == Some(&json!(read)),
        "prompt_tokens_details.cached_tokens != cache_read_tokens: {u}"
    );
    let catalog = Catalog::embedded();
    let entry = catalog
        .lookup(p.spec.catalog, &p.model)
        .ok_or(format!("{} is not in the catalog", p.model))?;
    let t = TokenCounts::from_usage_json(&u.to_string()).ok_or("usage does not parse")?;
    ensure!(
        t.cache_read == read,
        "TokenCounts reads {} cached",
        t.cache_read
    );
    let priced = cost_usd(&entry.pricing, CostKind::Chat, &t).ok_or("model unpriced")?;
    let flat = TokenCounts {
        cache_read: 0,
        cache_write: 0,
        ..t
    };
    let full = cost_usd(&entry.pricing, CostKind::Chat, &flat).unwrap();
    ensure!(
        priced.total_cmp(&full).is_lt(),
        "cache-aware cost {priced} is not below the full-input cost {full}"
    );
    Ok(())
}

fn case_cache_usage(p: &Provider, c: &Value) -> Result<(), String> {
    let v = p.response(&response_bytes(field(c, "response").unwrap())?)?;
    check_completion(&v)?;
    check_cache_usage(p, &v["usage"])?;
    if let Some(r) = field(c, "stream") {
        let s = check_stream(&p.stream(&stream_bytes(r)?)?)?;
        check_cache_usage(p, &s.usage).map_err(|e| format!("streamed: {e}"))?;
        check_pair(&s, &v)?;
    }
    Ok(())
}

fn run_case(p: &Provider, case: &str, c: &Value) -> Result<(), String> {
    match case {
        "chat" => case_chat(p, c),
        "stream" => case_stream(p, c),
        "tools" => case_tools(p, c),
        "parallel_stream_tools" => case_parallel_stream_tools(p, c),
        "vision" => case_vision(p, c),
        "json_mode" => case_json_mode(p, c),
        "reasoning" => case_reasoning(p, c),
        "errors" => case_errors(p, c),
        "cache_usage" => case_cache_usage(p, c),
        other => Err(format!("unknown case {other}")),
    }
}

// ------------------------------------------------------------------- tests --

/// Providers of the native registry, in table order.
fn native_ids() -> Vec<&'static str> {
    spec::PROVIDERS
        .iter()
        .map(|s| s.id)
        .filter(|id| native::adapter(id).is_some())
        .collect()
}

/// Everything wrong with a manifest's coverage (empty: complete).
fn coverage_problems(m: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let Some(providers) = m["providers"].as_object() else {
        return vec!["manifest has no providers object".into()];
    };
    for id in native_ids() {
        if !providers.iter().any(|(k, e)| provider_of(k, e) == id) {
            out.push(format!("{id}: native provider has no manifest entry"));
        }
    }
    for (id, entry) in providers {
        let provider = provider_of(id, entry);
        if native::adapter(provider).is_none() || spec::find(provider).is_none() {
            out.push(format!(
                "{id}: manifest entry for a provider with no native adapter"
            ));
        }
        if entry["model"].as_str().is_none_or(str::is_empty) {
            out.push(format!("{id}: no model"));
        }
        let cases = entry["cases"].as_object().cloned().unwrap_or_default();
        let opt_out = entry["opt_out"].as_object().cloned().unwrap_or_default();
        let known = entry["known_failures"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (case, k) in &known {
            if !cases.contains_key(case) {
                out.push(format!("{id}/{case}: known failure of a case not realised"));
            }
            let long = |f: &str| k[f].as_str().is_some_and(|r| r.trim().len() >= 10);
            if !long("reason") || !long("expect") {
                out.push(format!(
                    "{id}/{case}: a known failure needs a reason and an expect text"
                ));
            }
        }
        for name in cases.keys().chain(opt_out.keys()) {
            if !CASES.iter().any(|(c, _, _)| c == name) {
                out.push(format!("{id}: unknown case {name}"));
            }
        }
        for (case, required, optional) in CASES {
            match (cases.get(*case), opt_out.get(*case)) {
                (None, None) => out.push(format!("{id}/{case}: neither realised nor opted out")),
                (Some(_), Some(_)) => out.push(format!("{id}/{case}: both realised and opted out")),
                (None, Some(reason)) => {
                    if reason.as_str().is_none_or(|r| r.trim().len() < 10) {
                        out.push(format!("{id}/{case}: opt-out needs a reason"));
                    }
                }
                (Some(c), None) => {
                    let Some(c) = c.as_object() else {
                        out.push(format!("{id}/{case}: not an object"));
                        continue;
                    };
                    for f in *required {
                        if !c.contains_key(*f) {
                            out.push(format!("{id}/{case}: missing {f}"));
                        }
                    }
                    for (f, r) in c {
                        if !required.contains(&f.as_str()) && !optional.contains(&f.as_str()) {
                            out.push(format!("{id}/{case}: unexpected field {f}"));
                        }
                        let refs: Vec<&Value> = match r {
                            Value::Array(a) if !a.is_empty() => a.iter().collect(),
                            Value::Array(_) => {
                                out.push(format!("{id}/{case}.{f}: empty list"));
                                Vec::new()
                            }
                            v => vec![v],
                        };
                        for r in refs {
                            match r.as_str() {
                                None => out.push(format!("{id}/{case}.{f}: not a path: {r}")),
                                Some(r) => {
                                    if let Err(e) = resolve(r) {
                                        out.push(format!("{id}/{case}.{f}: {e}"));
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

#[test]
fn manifest_covers_every_native_provider() {
    let m = manifest();
    let ids = native_ids();
    assert!(
        ids.len() >= 5,
        "the native registry shrank: {ids:?} (update the manifest and this bound)"
    );
    let problems = coverage_problems(&m);
    assert!(
        problems.is_empty(),
        "conformance manifest incomplete:\n  {}",
        problems.join("\n  ")
    );
}

/// The coverage check itself catches each kind of gap.
#[test]
fn coverage_check_rejects_gaps() {
    let m = manifest();
    let first = native_ids()[0];

    let mut missing_provider = m.clone();
    missing_provider["providers"]
        .as_object_mut()
        .unwrap()
        .remove(first);
    let p = coverage_problems(&missing_provider);
    assert!(
        p.iter()
            .any(|e| e.contains(first) && e.contains("no manifest entry")),
        "{p:?}"
    );

    let mut missing_case = m.clone();
    missing_case["providers"][first]["cases"]
        .as_object_mut()
        .unwrap()
        .remove("vision");
    missing_case["providers"][first]["opt_out"]
        .as_object_mut()
        .unwrap()
        .remove("vision");
    let p = coverage_problems(&missing_case);
    assert!(p.iter().any(|e| e.contains("/vision: neither")), "{p:?}");

    let mut missing_file = m.clone();
    missing_file["providers"][first]["cases"]["chat"]["response"] =
        json!("nowhere/responses/nothing.json");
    let p = coverage_problems(&missing_file);
    assert!(p.iter().any(|e| e.contains("no file")), "{p:?}");

    let mut missing_entry = m.clone();
    missing_entry["providers"][first]["cases"]["errors"]["errors"] =
        json!(["gemini/errors.json#no_such_case"]);
    let p = coverage_problems(&missing_entry);
    assert!(p.iter().any(|e| e.contains("no entry named")), "{p:?}");

    let mut both = m.clone();
    both["providers"][first]["opt_out"]["chat"] = json!("realised and opted out at once");
    let p = coverage_problems(&both);
    assert!(p.iter().any(|e| e.contains("both realised")), "{p:?}");

    let mut silent_opt_out = m.clone();
    silent_opt_out["providers"][first]["cases"]
        .as_object_mut()
        .unwrap()
        .remove("chat");
    silent_opt_out["providers"][first]["opt_out"]["chat"] = json!("");
    let p = coverage_problems(&silent_opt_out);
    assert!(
        p.iter().any(|e| e.contains("opt-out needs a reason")),
        "{p:?}"
    );

    let mut vague_known = m.clone();
    vague_known["providers"][first]["known_failures"] = json!({"chat": {"reason": "?"}});
    let p = coverage_problems(&vague_known);
    assert!(
        p.iter().any(|e| e.contains("needs a reason and an expect")),
        "{p:?}"
    );
}

/// Every provider × case not opted out passes the provider-independent checks.
#[test]
fn every_provider_conforms() {
    let m = manifest();
    let mut failures = Vec::new();
    let mut matrix = String::from("provider         ");
    for (case, _, _) in CASES {
        matrix += &format!(" {case:>21}");
    }
    for id in native_ids() {
        if m["providers"].get(id).is_none() {
            failures.push(format!("{id}: no manifest entry"));
        }
    }
    let entries = m["providers"].as_object().cloned().unwrap_or_default();
    for (id, entry) in &entries {
        let p = Provider::new(id, entry);
        matrix += &format!("\n{:<17}", p.id);
        for (case, _, _) in CASES {
            let cell = if entry["opt_out"].get(*case).is_some() {
                "opt-out"
            } else if let Some(c) = entry["cases"].get(*case) {
                let known = &entry["known_failures"][*case];
                match (run_case(&p, case, c), known["expect"].as_str()) {
                    (Ok(()), None) => "ok",
                    (Err(e), Some(expect)) if e.contains(expect) => {
                        println!("{id}/{case}: known failure ({}): {e}", known["reason"]);
                        "KNOWN-BUG"
                    }
                    (Ok(()), Some(_)) => {
                        failures.push(format!(
                            "{id}/{case}: passes now; remove its known_failures entry"
                        ));
                        "FIXED?"
                    }
                    (Err(e), _) => {
                        failures.push(format!("{id}/{case}: {e}"));
                        "FAIL"
                    }
                }
            } else {
                failures.push(format!("{id}/{case}: neither realised nor opted out"));
                "MISSING"
            };
            matrix += &format!(" {cell:>21}");
        }
    }
    println!("{matrix}");
    assert!(
        failures.is_empty(),
        "conformance failures:\n  {}\n\n{matrix}",
        failures.join("\n  ")
    );
}
