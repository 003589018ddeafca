//! Cohere v2: a deterministic `/v2/chat` (JSON and SSE), `/v1/embed` and
//! `/v2/rerank`, for testing the gateway's native translation end to end.
//!
//! Like the real API it requires `Authorization: Bearer <key>` (401
//! `{"id","message":"invalid api token"}` without one, or for the key `bad`),
//! refuses unknown top-level fields and out-of-range `p` / `k` / penalties
//! (400 `{"message"}`). Chat replies: `mock reply to: <last user text>` (stop
//! sequences → `STOP_SEQUENCE`, `max_tokens` words → `MAX_TOKENS`), or tool
//! calls when `tool_choice` is `REQUIRED` or the user says "use tool" ("two
//! tools": two), with a `tool_plan`. Streams use Cohere's event names
//! (`event:` + `data:` lines): message-start, content-start / -delta / -end,
//! tool-plan-delta, tool-call-start / -delta / -end, message-end.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use serde_json::{json, Map, Value};

use crate::bedrock::relevance;
use crate::body::{MockBody, SseBuilder};
use crate::openai::{json as json_response, next_id, split_pieces, sse, ECHO_MAX_CHARS};
use crate::server::Shared;
use crate::util::{estimate_tokens, fnv1a, truncate_chars};

const CHAT_FIELDS: [&str; 21] = [
    "model",
    "messages",
    "stream",
    "tools",
    "documents",
    "citation_options",
    "response_format",
    "safety_mode",
    "max_tokens",
    "stop_sequences",
    "temperature",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "k",
    "p",
    "logprobs",
    "tool_choice",
    "strict_tools",
    "thinking",
    "priority",
];

/// Whether this request is for the Cohere mock.
pub(crate) fn handles(parts: &http::request::Parts) -> bool {
    let p = parts.uri.path();
    parts.method == Method::POST
        && (p.ends_with("/v2/chat") || p.ends_with("/v1/embed") || p.ends_with("/v2/rerank"))
}

fn error(status: StatusCode, message: &str) -> Response<MockBody> {
    json_response(
        status,
        Bytes::from(json!({"id": "mock-error", "message": message}).to_string()),
    )
}

fn invalid(message: &str) -> Response<MockBody> {
    error(StatusCode::BAD_REQUEST, message)
}

fn unknown_field(req: &Map<String, Value>, allowed: &[&str]) -> Option<Response<MockBody>> {
    let k = req.keys().find(|k| !allowed.contains(&k.as_str()))?;
    Some(invalid(&format!(
        "invalid request: unknown field: parameter {k} is not a valid field"
    )))
}

fn out_of_range(req: &Map<String, Value>) -> Option<Response<MockBody>> {
    let ranges = [
        ("p", 0.01, 0.99),
        ("k", 0.0, 500.0),
        ("frequency_penalty", 0.0, 1.0),
        ("presence_penalty", 0.0, 1.0),
    ];
    for (k, lo, hi) in ranges {
        if let Some(v) = req.get(k).and_then(Value::as_f64) {
            if !(lo..=hi).contains(&v) {
                return Some(invalid(&format!(
                    "invalid request: {k} must be between {lo} and {hi}"
                )));
            }
        }
    }
    None
}

/// Answers a Cohere request.
pub(crate) fn respond(
    shared: &Arc<Shared>,
    parts: &http::request::Parts,
    body: &Bytes,
    abort_after: Option<usize>,
) -> Response<MockBody> {
    let auth = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if matches!(auth, None | Some("") | Some("bad")) {
        return error(StatusCode::UNAUTHORIZED, "invalid api token");
    }
    let req: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(_) => return invalid("invalid request: body must be a JSON object"),
    };
    let path = parts.uri.path();
    if path.ends_with("/v1/embed") {
        return embed(&req);
    }
    if path.ends_with("/v2/rerank") {
        return rerank(&req);
    }
    if let Some(r) = unknown_field(&req, &CHAT_FIELDS).or_else(|| out_of_range(&req)) {
        return r;
    }
    chat(shared, &req, abort_after)
}

fn embed(req: &Map<String, Value>) -> Response<MockBody> {
    let allowed = [
        "model",
        "texts",
        "images",
        "input_type",
        "embedding_types",
        "truncate",
    ];
    if let Some(r) = unknown_field(req, &allowed) {
        return r;
    }
    let Some(texts) = req.get("texts").and_then(Value::as_array) else {
        return invalid("invalid request: texts must be provided");
    };
    if req.get("input_type").and_then(Value::as_str).is_none() {
        return invalid("invalid request: input_type is required for embed v3 models");
    }
    let mut tokens = 0;
    let vectors: Vec<Value> = texts
        .iter()
        .map(|t| {
            let s = t.as_str().unwrap_or("");
            tokens += estimate_tokens(s.chars().count());
            let h = fnv1a(s.as_bytes());
            json!((0..4)
                .map(|k| ((h >> (k * 8)) & 0xff) as f64 / 255.0)
                .collect::<Vec<_>>())
        })
        .collect();
    let embeddings = if req.get("embedding_types").is_some() {
        json!({"float": vectors})
    } else {
        json!(vectors)
    };
    let v = json!({"id": "mock-embed", "embeddings": embeddings, "texts": texts,
        "meta": {"api_version": {"version": "1"}, "billed_units": {"input_tokens": tokens}},
        "response_type": "embeddings_by_type"});
    json_response(StatusCode::OK, Bytes::from(v.to_string()))
}

fn rerank(req: &Map<String, Value>) -> Response<MockBody> {
    let allowed = ["model", "query", "documents", "top_n", "max_tokens_per_doc"];
    if let Some(r) = unknown_field(req, &allowed) {
        return r;
    }
    let query = req.get("query").and_then(Value::as_str);
    let docs: Option<Vec<&str>> = req
        .get("documents")
        .and_then(Value::as_array)
        .and_then(|d| d.iter().map(Value::as_str).collect());
    let (Some(query), Some(docs)) = (query, docs) else {
        return invalid("invalid request: query and documents (strings) are required");
    };
    let mut scored: Vec<(usize, f64)> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| (i, relevance(query, d)))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    if let Some(n) = req.get("top_n").and_then(Value::as_u64) {
        scored.truncate(n as usize);
    }
    let results: Vec<Value> = scored
        .iter()
        .map(|(i, s)| json!({"index": i, "relevance_score": s}))
        .collect();
    let v = json!({"id": "mock-rerank", "results": results,
        "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}}});
    json_response(StatusCode::OK, Bytes::from(v.to_string()))
}

fn content_text(c: Option<&Value>) -> String {
    match c {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn chat(
    shared: &Arc<Shared>,
    req: &Map<String, Value>,
    abort_after: Option<usize>,
) -> Response<MockBody> {
    let Some(msgs) = req.get("messages").and_then(Value::as_array) else {
        return invalid("invalid request: messages must be provided");
    };
    let n = next_id(shared);
    let mut chars = 0;
    let mut user = String::new();
    let mut after_tool = false;
    for m in msgs {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        if !matches!(role, "system" | "user" | "assistant" | "tool") {
            return invalid(&format!("invalid request: unknown role {role}"));
        }
        let t = content_text(m.get("content"));
        chars += t.chars().count();
        after_tool = role == "tool";
        if role == "user" {
            user = t;
        }
    }
    let tools: Vec<&str> = req
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.pointer("/function/name")?.as_str())
        .collect();
    let choice = req.get("tool_choice").and_then(Value::as_str);
    let want_tools = !tools.is_empty()
        && !after_tool
        && choice != Some("NONE")
        && (choice == Some("REQUIRED") || user.contains("use tool"));
    let id = format!("mock-chat-{n}");
    let (finish, text, calls) = if want_tools {
        let count = if user.contains("two tools") { 2 } else { 1 };
        let calls: Vec<Value> = (0..count)
            .map(|i| {
                json!({"id": format!("{}_{n}_{i}", tools[i % tools.len()]), "type": "function",
                "function": {"name": tools[i % tools.len()], "arguments": "{\"q\":\"mock\"}"}})
            })
            .collect();
        ("TOOL_CALL", "I will use the tools.".to_owned(), calls)
    } else {
        let mut text = format!("mock reply to: {}", truncate_chars(&user, ECHO_MAX_CHARS));
        let mut finish = "COMPLETE";
        let stops = req.get("stop_sequences").and_then(Value::as_array);
        if let Some((at, _)) = stops
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter_map(|s| text.find(s).map(|at| (at, s)))
            .min()
        {
            text.truncate(at);
            finish = "STOP_SEQUENCE";
        }
        if let Some(max) = req.get("max_tokens").and_then(Value::as_u64) {
            let words: Vec<&str> = text.split_whitespace().collect();
            if words.len() as u64 > max {
                text = words[..max as usize].join(" ");
                finish = "MAX_TOKENS";
            }
        }
        (finish, text, Vec::new())
    };
    let input = estimate_tokens(chars);
    let output = text.split_whitespace().count() as u64 + 5 * calls.len() as u64;
    let usage = json!({"billed_units": {"input_tokens": input, "output_tokens": output},
        "tokens": {"input_tokens": input + 64, "output_tokens": output}});
    if req.get("stream") != Some(&Value::Bool(true)) {
        let mut message = json!({"role": "assistant"});
        if calls.is_empty() {
            message["content"] = json!([{"type": "text", "text": text}]);
        } else {
            message["tool_plan"] = json!(text);
            message["tool_calls"] = json!(calls);
        }
        let v = json!({"id": id, "finish_reason": finish, "message": message, "usage": usage});
        return json_response(StatusCode::OK, Bytes::from(v.to_string()));
    }
    let mut b = SseBuilder::new(1024 + text.len() * 4, 16);
    let ev = |b: &mut SseBuilder, v: Value| {
        let kind = v["type"].as_str().unwrap_or("").to_owned();
        b.begin_named(&kind).raw(&v.to_string());
        b.end();
    };
    ev(
        &mut b,
        json!({"id": id, "type": "message-start", "delta": {"message": {"role": "assistant",
        "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}}),
    );
    if calls.is_empty() {
        ev(
            &mut b,
            json!({"type": "content-start", "index": 0,
            "delta": {"message": {"content": {"type": "text", "text": ""}}}}),
        );
        for piece in split_pieces(&text, shared.stream_chunks) {
            ev(
                &mut b,
                json!({"type": "content-delta", "index": 0,
                "delta": {"message": {"content": {"text": piece}}}}),
            );
        }
        ev(&mut b, json!({"type": "content-end", "index": 0}));
    } else {
        ev(
            &mut b,
            json!({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": text}}}),
        );
        for (i, c) in calls.iter().enumerate() {
            let mut start = c.clone();
            start["function"]["arguments"] = json!("");
            ev(
                &mut b,
                json!({"type": "tool-call-start", "index": i,
                "delta": {"message": {"tool_calls": start}}}),
            );
            let args = c["function"]["arguments"].as_str().unwrap_or("");
            for piece in split_pieces(args, 2) {
                ev(
                    &mut b,
                    json!({"type": "tool-call-delta", "index": i,
                    "delta": {"message": {"tool_calls": {"function": {"arguments": piece}}}}}),
                );
            }
            ev(&mut b, json!({"type": "tool-call-end", "index": i}));
        }
    }
    ev(
        &mut b,
        json!({"type": "message-end", "delta": {"finish_reason": finish, "usage": usage}}),
    );
    sse(MockBody::Sse(b.into_body(
        Arc::clone(shared),
        shared.chunk_gap,
        abort_after,
    )))
}
