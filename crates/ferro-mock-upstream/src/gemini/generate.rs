//! `generateContent` / `streamGenerateContent?alt=sse`, and Claude on Vertex.
//!
//! Requests are validated like the real API (see [`super::validate`]).
//!
//! Replies (deterministic):
//! * text `[gemini mock] You said: <last user text>`, or `{"echo": …}` when
//!   `responseMimeType` is JSON; after function responses,
//!   `[gemini mock] tool results: <names>`;
//! * `functionCall` parts when tools are declared and the last user text says
//!   "use tool" (the first declaration, or the allowed one) or "use all tools"
//!   (every declaration, in parallel), or when `mode` is `ANY`; arguments fill
//!   string / number / boolean properties with placeholders;
//! * a leading `thought` part when `thinkingConfig.includeThoughts` is set;
//! * `maxOutputTokens` cuts the text (`MAX_TOKENS`), a stop sequence cuts it
//!   (`STOP`), `candidateCount` repeats the answer;
//! * usage: prompt tokens ≈ request text / 4, candidates ≈ reply / 4, thoughts
//!   counted apart, `cachedContentTokenCount` = half the prompt when the
//!   request names `cachedContent`. Streams repeat cumulative usage on every
//!   frame; the last frame's is the final count.

use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{json, Map, Value};

use super::{invalid, unknown_field};
use crate::body::{MockBody, SseBuilder};
use crate::openai::{json as json_response, next_id, split_pieces, sse, ECHO_MAX_CHARS};
use crate::server::Shared;
use crate::util::{estimate_tokens, truncate_chars};

fn texts(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => out.push_str(s),
        Value::Array(a) => a.iter().for_each(|x| texts(x, out)),
        Value::Object(o) => o.values().for_each(|x| texts(x, out)),
        _ => {}
    }
}

struct Candidate {
    thought: Option<String>,
    text: String,
    calls: Vec<Value>,
    finish: &'static str,
}

struct Reply {
    candidates: Vec<Candidate>,
    prompt: u64,
    cached: Option<u64>,
}

fn placeholder_args(decl: &Value) -> Value {
    let mut args = Map::new();
    if let Some(props) = decl
        .pointer("/parameters/properties")
        .and_then(Value::as_object)
    {
        for (k, s) in props {
            let t = s
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_ascii_lowercase();
            let v = match t.as_str() {
                "string" => json!("mock"),
                "number" | "integer" => json!(1),
                "boolean" => json!(true),
                _ => continue,
            };
            args.insert(k.clone(), v);
        }
    }
    Value::Object(args)
}

fn build(req: &Map<String, Value>) -> Reply {
    let contents = req
        .get("contents")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let last = contents.last().cloned().unwrap_or(Value::Null);
    let parts = last
        .get("parts")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let responses: Vec<&str> = parts
        .iter()
        .filter_map(|p| p.pointer("/functionResponse/name").and_then(Value::as_str))
        .collect();
    let user_text: String = parts
        .iter()
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let gc = req.get("generationConfig").cloned().unwrap_or(Value::Null);
    let decls: Vec<Value> = req
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("functionDeclarations").and_then(Value::as_array))
        .flatten()
        .cloned()
        .collect();
    let fcc = req
        .get("toolConfig")
        .and_then(|t| t.get("functionCallingConfig"))
        .cloned()
        .unwrap_or(Value::Null);
    let mode = fcc.get("mode").and_then(Value::as_str).unwrap_or("AUTO");
    let allowed: Vec<&str> = fcc
        .get("allowedFunctionNames")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let lower = user_text.to_ascii_lowercase();
    let wants_all = lower.contains("use all tools");
    let wants_tool = responses.is_empty()
        && !decls.is_empty()
        && mode != "NONE"
        && (mode == "ANY" || lower.contains("use tool") || wants_all);
    let calls: Vec<Value> = if !wants_tool {
        Vec::new()
    } else {
        let chosen: Vec<&Value> = if wants_all && allowed.is_empty() {
            decls.iter().collect()
        } else {
            let name = allowed.first().copied();
            decls
                .iter()
                .find(|d| name.is_none_or(|n| d.get("name").and_then(Value::as_str) == Some(n)))
                .into_iter()
                .collect()
        };
        chosen
            .into_iter()
            .map(|d| json!({"name": d["name"], "args": placeholder_args(d)}))
            .collect()
    };
    let echo = truncate_chars(&user_text, ECHO_MAX_CHARS);
    let mut text = if !responses.is_empty() {
        format!("[gemini mock] tool results: {}", responses.join(", "))
    } else if gc.get("responseMimeType").and_then(Value::as_str) == Some("application/json") {
        json!({ "echo": echo }).to_string()
    } else if calls.is_empty() {
        format!("[gemini mock] You said: {echo}")
    } else {
        String::new()
    };
    let mut finish = "STOP";
    for s in gc
        .get("stopSequences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(at) = s
            .as_str()
            .filter(|s| !s.is_empty())
            .and_then(|s| text.find(s))
        {
            text.truncate(at);
        }
    }
    if let Some(max) = gc.get("maxOutputTokens").and_then(Value::as_u64) {
        if estimate_tokens(text.chars().count()) > max {
            text = truncate_chars(&text, (max as usize).saturating_sub(1) * 4).to_owned();
            finish = "MAX_TOKENS";
        }
    }
    let thought = gc
        .pointer("/thinkingConfig/includeThoughts")
        .and_then(Value::as_bool)
        .filter(|b| *b)
        .map(|_| format!("Thinking about: {echo}"));
    let n = gc
        .get("candidateCount")
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .clamp(1, 8);
    let mut prompt_text = String::new();
    texts(&Value::Array(contents), &mut prompt_text);
    if let Some(si) = req.get("systemInstruction") {
        texts(si, &mut prompt_text);
    }
    let prompt = estimate_tokens(prompt_text.chars().count());
    Reply {
        candidates: (0..n)
            .map(|i| Candidate {
                thought: thought.clone(),
                text: if i == 0 || text.is_empty() {
                    text.clone()
                } else {
                    format!("{text} ({i})")
                },
                calls: calls.clone(),
                finish,
            })
            .collect(),
        prompt,
        cached: req.contains_key("cachedContent").then_some(prompt / 2),
    }
}

fn candidate_tokens(c: &Candidate) -> u64 {
    let calls: usize = c.calls.iter().map(|x| x.to_string().len()).sum();
    if c.text.is_empty() && calls == 0 {
        return 0;
    }
    estimate_tokens(c.text.chars().count() + calls)
}

fn usage(r: &Reply, candidates: u64, thoughts: u64) -> Value {
    let mut u = json!({
        "promptTokenCount": r.prompt,
        "candidatesTokenCount": candidates,
        "totalTokenCount": r.prompt + candidates + thoughts,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": r.prompt}],
    });
    if thoughts > 0 {
        u["thoughtsTokenCount"] = json!(thoughts);
    }
    if let Some(c) = r.cached {
        u["cachedContentTokenCount"] = json!(c);
    }
    u
}

fn parts_of(thought: Option<&str>, text: &str, calls: &[Value]) -> Vec<Value> {
    let mut parts = Vec::new();
    if let Some(t) = thought {
        parts.push(json!({"text": t, "thought": true}));
    }
    if !text.is_empty() {
        parts.push(json!({ "text": text }));
    }
    parts.extend(calls.iter().map(|c| json!({ "functionCall": c })));
    parts
}

/// Answers `generateContent` (`stream`: `streamGenerateContent?alt=sse`).
pub(crate) fn respond(
    shared: &Arc<Shared>,
    body: &Bytes,
    model: &str,
    vertex: bool,
    stream: bool,
    abort_after: Option<usize>,
) -> Response<MockBody> {
    let req: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(_) => return invalid("Invalid JSON payload received."),
    };
    if let Err(m) = super::validate::validate(&req, vertex) {
        return invalid(&m);
    }
    let r = build(&req);
    let response_id = format!("mock-{}", next_id(shared));
    let thoughts = r
        .candidates
        .iter()
        .filter_map(|c| c.thought.as_ref())
        .map(|t| estimate_tokens(t.chars().count()))
        .sum::<u64>();
    let out_tokens: u64 = r.candidates.iter().map(candidate_tokens).sum();
    if !stream {
        let cands: Vec<Value> = r
            .candidates
            .iter()
            .enumerate()
            .map(|(i, c)| {
                json!({
                    "content": {"parts": parts_of(c.thought.as_deref(), &c.text, &c.calls), "role": "model"},
                    "finishReason": c.finish,
                    "index": i,
                })
            })
            .collect();
        let v = json!({
            "candidates": cands,
            "usageMetadata": usage(&r, out_tokens, thoughts),
            "modelVersion": model,
            "responseId": response_id,
        });
        // The real API pretty-prints whole answers.
        let text = serde_json::to_string_pretty(&v).unwrap_or_default();
        return json_response(StatusCode::OK, Bytes::from(text));
    }
    let k = shared.stream_chunks;
    let pieces: Vec<Vec<&str>> = r
        .candidates
        .iter()
        .map(|c| split_pieces(&c.text, k))
        .collect();
    let mut b = SseBuilder::new(512 * (k + 2), k + 2);
    let frame = |b: &mut SseBuilder, cands: Vec<Value>, usage: Value| {
        let v = json!({"candidates": cands, "usageMetadata": usage, "modelVersion": model, "responseId": response_id});
        b.begin().raw(&v.to_string());
        b.end_with("\r\n\r\n");
    };
    if thoughts > 0 {
        let cands = r
            .candidates
            .iter()
            .enumerate()
            .map(|(i, c)| json!({"content": {"parts": parts_of(c.thought.as_deref(), "", &[]), "role": "model"}, "index": i}))
            .collect();
        frame(&mut b, cands, usage(&r, 0, thoughts));
    }
    for j in 0..k {
        let last = j + 1 == k;
        let cands = r
            .candidates
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let calls: &[Value] = if last { &c.calls } else { &[] };
                let mut v = json!({"content": {"parts": parts_of(None, pieces[i].get(j).copied().unwrap_or(""), calls), "role": "model"}, "index": i});
                if last {
                    v["finishReason"] = json!(c.finish);
                }
                v
            })
            .collect();
        let so_far = if last {
            out_tokens
        } else {
            out_tokens * (j as u64 + 1) / k as u64
        };
        frame(&mut b, cands, usage(&r, so_far, thoughts));
    }
    sse(MockBody::Sse(b.into_body(
        Arc::clone(shared),
        shared.chunk_gap,
        abort_after,
    )))
}

/// Claude on Vertex: checks the Vertex shape (`anthropic_version`
/// `vertex-2023-10-16`, no `model`, `stream` matching the method), then
/// answers through the Anthropic mock as if called directly.
pub(crate) fn claude_on_vertex(
    shared: &Arc<Shared>,
    parts: &http::request::Parts,
    body: &Bytes,
    model: &str,
    stream: bool,
    abort_after: Option<usize>,
) -> Response<MockBody> {
    let mut req: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(_) => return invalid("Invalid JSON payload received."),
    };
    if req.get("anthropic_version").and_then(Value::as_str) != Some("vertex-2023-10-16") {
        return invalid("anthropic_version: must be vertex-2023-10-16");
    }
    if req.contains_key("model") {
        return unknown_field("model");
    }
    if req.get("stream").and_then(Value::as_bool).unwrap_or(false) != stream {
        return invalid("stream must be true for streamRawPredict and absent for rawPredict");
    }
    req.remove("anthropic_version");
    req.insert("model".into(), json!(model));
    let mut builder = http::Request::builder()
        .method(parts.method.clone())
        .uri("/v1/messages")
        .header("x-api-key", "vertex")
        .header("anthropic-version", "2023-06-01");
    for (k, v) in &parts.headers {
        builder = builder.header(k, v);
    }
    let Ok(req_parts) = builder.body(()).map(|r| r.into_parts().0) else {
        return invalid("bad request");
    };
    let body = Bytes::from(Value::Object(req).to_string());
    crate::anthropic::respond(shared, &req_parts, &body, abort_after)
}
