//! `POST …/v1/messages`: a deterministic Anthropic Messages API, for testing
//! the gateway's native translation end to end.
//!
//! Like the real API it refuses requests without `x-api-key` (401
//! `authentication_error`) or `anthropic-version` (400), unknown top-level
//! fields (400 `invalid_request_error`, `<field>: Extra inputs are not
//! permitted`) and a missing `max_tokens`. Answers:
//! * text: `mock reply to: <last user text>` (truncated at a matching stop
//!   sequence → `stop_sequence`; at `max_tokens` words → `max_tokens`);
//! * tools: `tool_use` blocks when `tool_choice` forces one (`tool`: that tool,
//!   `any`: the first), or when the last user text says "use tool" — two blocks
//!   if it says "two tools". Inputs fill the schema's properties with
//!   placeholder values. Streamed tool blocks are started together and their
//!   `input_json_delta`s interleaved, the hardest case for a translator;
//! * `thinking` enabled: a leading thinking block with a signature;
//! * usage: `input_tokens` from the text size, `output_tokens` from the reply;
//!   a request with `cache_control` anywhere also reports
//!   [`CACHE_WRITE_TOKENS`] and [`CACHE_READ_TOKENS`].
//!
//! Streams use the real event shapes (`event:` + `data:` lines): message_start,
//! ping, content_block_start / _delta / _stop, message_delta, message_stop.
//! Faults apply as on every other path.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use serde_json::{json, Map, Value};

use crate::body::{MockBody, SseBuilder};
use crate::openai::{json as json_response, next_id, split_pieces, sse, ECHO_MAX_CHARS};
use crate::server::Shared;
use crate::util::{estimate_tokens, truncate_chars};

/// Top-level fields the Messages API accepts (everything else is a 400).
pub const ALLOWED_FIELDS: [&str; 14] = [
    "model",
    "messages",
    "system",
    "max_tokens",
    "metadata",
    "stop_sequences",
    "stream",
    "temperature",
    "top_p",
    "top_k",
    "tools",
    "tool_choice",
    "thinking",
    "service_tier",
];

/// Cache-write tokens reported when the request uses `cache_control`.
pub const CACHE_WRITE_TOKENS: u64 = 500;
/// Cache-read tokens reported when the request uses `cache_control`.
pub const CACHE_READ_TOKENS: u64 = 2000;

/// Whether this request is for the Messages API.
pub(crate) fn handles(parts: &http::request::Parts) -> bool {
    parts.method == Method::POST && parts.uri.path().ends_with("/v1/messages")
}

/// Anthropic's error body.
pub(crate) fn error_body(kind: &str, message: &str) -> Bytes {
    let v = json!({"type": "error", "error": {"type": kind, "message": message}});
    Bytes::from(v.to_string())
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response<MockBody> {
    json_response(status, error_body(kind, message))
}

fn invalid(message: &str) -> Response<MockBody> {
    error(StatusCode::BAD_REQUEST, "invalid_request_error", message)
}

enum Block {
    Thinking {
        text: String,
        signature: String,
    },
    Text(String),
    Tool {
        id: String,
        name: String,
        input: String,
    },
}

struct Reply {
    id: String,
    model: String,
    blocks: Vec<Block>,
    stop_reason: &'static str,
    stop_sequence: Option<String>,
    input: u64,
    output: u64,
    cache_write: u64,
    cache_read: u64,
}

/// Text of a message `content` (string, or its text blocks); tool results count too.
fn text_of(content: Option<&Value>, with_tool_results: bool) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(blocks)) => {
            let mut out = Vec::new();
            for b in blocks {
                match b.get("type").and_then(Value::as_str) {
                    Some("text") => out.push(b["text"].as_str().unwrap_or("").to_owned()),
                    Some("tool_result") if with_tool_results => {
                        out.push(text_of(b.get("content"), false));
                    }
                    _ => {}
                }
            }
            out.join("\n")
        }
        _ => String::new(),
    }
}

/// Placeholder input for a tool: one value per schema property.
fn tool_input(schema: Option<&Value>) -> String {
    let mut input = Map::new();
    if let Some(props) = schema
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
    {
        for (k, p) in props {
            let v = match p.get("type").and_then(Value::as_str) {
                Some("string") => json!(format!("mock-{k}")),
                Some("integer") => json!(1),
                Some("number") => json!(1.5),
                Some("boolean") => json!(true),
                _ => continue,
            };
            input.insert(k.clone(), v);
        }
    }
    Value::Object(input).to_string()
}

/// Which tools to call: (name, schema) pairs.
fn tool_calls<'a>(req: &'a Map<String, Value>, user: &str) -> Vec<(&'a str, Option<&'a Value>)> {
    let tools: Vec<(&str, Option<&Value>)> = req
        .get("tools")
        .and_then(Value::as_array)
        .map(|t| {
            t.iter()
                .filter_map(|t| Some((t.get("name")?.as_str()?, t.get("input_schema"))))
                .collect()
        })
        .unwrap_or_default();
    if tools.is_empty() {
        return Vec::new();
    }
    let choice = req.get("tool_choice");
    let kind = choice.and_then(|c| c.get("type")).and_then(Value::as_str);
    let count = if user.contains("two tools") { 2 } else { 1 };
    let take = |n: usize| (0..n).map(|i| tools[i % tools.len()]).collect();
    match kind {
        Some("none") => Vec::new(),
        Some("tool") => {
            let name = choice.and_then(|c| c.get("name")).and_then(Value::as_str);
            tools
                .iter()
                .copied()
                .filter(|t| Some(t.0) == name)
                .take(1)
                .collect()
        }
        Some("any") => take(count),
        _ if user.contains("use tool") => take(count),
        _ => Vec::new(),
    }
}

fn plan(shared: &Shared, req: &Map<String, Value>, body: &Bytes, max_tokens: u64) -> Reply {
    let n = next_id(shared);
    let messages = req.get("messages").and_then(Value::as_array);
    let mut chars = text_of(req.get("system"), false).chars().count();
    let mut user = String::new();
    let mut answering_tools = false;
    for m in messages.into_iter().flatten() {
        let t = text_of(m.get("content"), true);
        chars += t.chars().count();
        if m.get("role").and_then(Value::as_str) == Some("user") {
            let own = text_of(m.get("content"), false);
            // A turn of tool results only: answer them, do not call again.
            answering_tools = own.is_empty() && !t.is_empty();
            user = if answering_tools { t } else { own };
        } else {
            answering_tools = false;
        }
    }
    let mut blocks = Vec::new();
    if req
        .get("thinking")
        .and_then(|t| t.get("type"))
        .and_then(Value::as_str)
        == Some("enabled")
    {
        blocks.push(Block::Thinking {
            text: format!("Thinking about: {}", truncate_chars(&user, 40)),
            signature: format!("mock-signature-{n}"),
        });
    }
    let calls = if answering_tools {
        Vec::new()
    } else {
        tool_calls(req, &user)
    };
    let mut stop_reason = "end_turn";
    let mut stop_sequence = None;
    if calls.is_empty() {
        let mut text = format!("mock reply to: {}", truncate_chars(&user, ECHO_MAX_CHARS));
        let stops = req.get("stop_sequences").and_then(Value::as_array);
        let hit = stops
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|s| !s.is_empty())
            .filter_map(|s| text.find(s).map(|at| (at, s)))
            .min();
        if let Some((at, s)) = hit {
            text.truncate(at);
            stop_reason = "stop_sequence";
            stop_sequence = Some(s.to_owned());
        }
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.len() as u64 > max_tokens {
            text = words[..max_tokens as usize].join(" ");
            stop_reason = "max_tokens";
            stop_sequence = None;
        }
        blocks.push(Block::Text(text));
    } else {
        let forced = matches!(
            req.get("tool_choice")
                .and_then(|t| t.get("type"))
                .and_then(Value::as_str),
            Some("any" | "tool")
        );
        if !forced {
            blocks.push(Block::Text("Let me use a tool.".to_owned()));
        }
        for (i, (name, schema)) in calls.into_iter().enumerate() {
            blocks.push(Block::Tool {
                id: format!("toolu_mock_{n}_{i}"),
                name: name.to_owned(),
                input: tool_input(schema),
            });
        }
        stop_reason = "tool_use";
    }
    let output = blocks
        .iter()
        .map(|b| match b {
            Block::Thinking { text, .. } | Block::Text(text) => {
                text.split_whitespace().count() as u64
            }
            Block::Tool { input, .. } => estimate_tokens(input.len()) + 5,
        })
        .sum::<u64>()
        .min(max_tokens);
    let cached = mentions_cache_control(body);
    Reply {
        id: format!("msg_mock_{n}"),
        model: req
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("claude-mock")
            .to_owned(),
        blocks,
        stop_reason,
        stop_sequence,
        input: estimate_tokens(chars),
        output,
        cache_write: if cached { CACHE_WRITE_TOKENS } else { 0 },
        cache_read: if cached { CACHE_READ_TOKENS } else { 0 },
    }
}

fn mentions_cache_control(body: &[u8]) -> bool {
    body.windows(b"\"cache_control\"".len())
        .any(|w| w == b"\"cache_control\"")
}

/// Answers a Messages API request.
pub(crate) fn respond(
    shared: &Arc<Shared>,
    parts: &http::request::Parts,
    body: &Bytes,
    abort_after: Option<usize>,
) -> Response<MockBody> {
    let header = |n: &str| {
        parts
            .headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.trim().is_empty())
    };
    if header("x-api-key").is_none() {
        return error(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "x-api-key header is required",
        );
    }
    if header("anthropic-version").is_none() {
        return invalid("anthropic-version: header is required");
    }
    let req: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(_) => return invalid("There was an error parsing the body of your request."),
    };
    if let Some(k) = req.keys().find(|k| !ALLOWED_FIELDS.contains(&k.as_str())) {
        return invalid(&format!("{k}: Extra inputs are not permitted"));
    }
    for field in ["model", "messages", "max_tokens"] {
        if !req.contains_key(field) {
            return invalid(&format!("{field}: Field required"));
        }
    }
    let Some(max_tokens) = req
        .get("max_tokens")
        .and_then(Value::as_u64)
        .filter(|m| *m > 0)
    else {
        return invalid("max_tokens: Input should be a valid positive integer");
    };
    if !req.get("messages").is_some_and(Value::is_array) {
        return invalid("messages: Input should be a valid list");
    }
    let reply = plan(shared, &req, body, max_tokens);
    if req.get("stream").and_then(Value::as_bool) == Some(true) {
        let sse_body = stream(&reply, shared.stream_chunks);
        return sse(MockBody::Sse(sse_body.into_body(
            Arc::clone(shared),
            shared.chunk_gap,
            abort_after,
        )));
    }
    json_response(
        StatusCode::OK,
        Bytes::from(message_json(&reply).to_string()),
    )
}

fn usage(r: &Reply, output: u64) -> Value {
    json!({
        "input_tokens": r.input,
        "cache_creation_input_tokens": r.cache_write,
        "cache_read_input_tokens": r.cache_read,
        "output_tokens": output,
        "service_tier": "standard",
    })
}

fn message_json(r: &Reply) -> Value {
    let content: Vec<Value> = r
        .blocks
        .iter()
        .map(|b| match b {
            Block::Thinking { text, signature } => {
                json!({"type": "thinking", "thinking": text, "signature": signature})
            }
            Block::Text(t) => json!({"type": "text", "text": t}),
            Block::Tool { id, name, input } => {
                let input: Value = serde_json::from_str(input).unwrap_or_else(|_| json!({}));
                json!({"type": "tool_use", "id": id, "name": name, "input": input})
            }
        })
        .collect();
    json!({
        "id": r.id,
        "type": "message",
        "role": "assistant",
        "model": r.model,
        "content": content,
        "stop_reason": r.stop_reason,
        "stop_sequence": r.stop_sequence,
        "usage": usage(r, r.output),
    })
}

fn event(sse: &mut SseBuilder, name: &str, data: &Value) {
    sse.begin_named(name).raw(&data.to_string());
    sse.end();
}

fn block_delta(sse: &mut SseBuilder, index: usize, delta: Value) {
    let data = json!({"type": "content_block_delta", "index": index, "delta": delta});
    event(sse, "content_block_delta", &data);
}

fn block_edge(sse: &mut SseBuilder, index: usize, start: Option<Value>) {
    let (name, data) = match start {
        Some(cb) => (
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": cb}),
        ),
        None => (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ),
    };
    event(sse, name, &data);
}

fn stream(r: &Reply, chunks: usize) -> SseBuilder {
    let mut sse = SseBuilder::new(
        1024 + r.blocks.len() * 512,
        8 + r.blocks.len() * (chunks + 3),
    );
    let mut start = message_json(r);
    start["content"] = json!([]);
    start["stop_reason"] = Value::Null;
    start["stop_sequence"] = Value::Null;
    start["usage"] = usage(r, 1);
    event(
        &mut sse,
        "message_start",
        &json!({"type": "message_start", "message": start}),
    );
    event(&mut sse, "ping", &json!({"type": "ping"}));
    let mut tools: Vec<(usize, Vec<&str>)> = Vec::new();
    for (i, b) in r.blocks.iter().enumerate() {
        match b {
            Block::Thinking { text, signature } => {
                block_edge(
                    &mut sse,
                    i,
                    Some(json!({"type": "thinking", "thinking": "", "signature": ""})),
                );
                for p in split_pieces(text, chunks) {
                    block_delta(
                        &mut sse,
                        i,
                        json!({"type": "thinking_delta", "thinking": p}),
                    );
                }
                block_delta(
                    &mut sse,
                    i,
                    json!({"type": "signature_delta", "signature": signature}),
                );
                block_edge(&mut sse, i, None);
            }
            Block::Text(t) => {
                block_edge(&mut sse, i, Some(json!({"type": "text", "text": ""})));
                for p in split_pieces(t, chunks)
                    .into_iter()
                    .filter(|p| !p.is_empty())
                {
                    block_delta(&mut sse, i, json!({"type": "text_delta", "text": p}));
                }
                block_edge(&mut sse, i, None);
            }
            Block::Tool { id, name, input } => {
                let cb = json!({"type": "tool_use", "id": id, "name": name, "input": {}});
                block_edge(&mut sse, i, Some(cb));
                block_delta(
                    &mut sse,
                    i,
                    json!({"type": "input_json_delta", "partial_json": ""}),
                );
                tools.push((i, split_pieces(input, 3)));
            }
        }
    }
    // Tool inputs stream interleaved, then their blocks stop.
    for round in 0..3 {
        for (i, pieces) in &tools {
            if let Some(p) = pieces.get(round).filter(|p| !p.is_empty()) {
                block_delta(
                    &mut sse,
                    *i,
                    json!({"type": "input_json_delta", "partial_json": p}),
                );
            }
        }
    }
    for (i, _) in &tools {
        block_edge(&mut sse, *i, None);
    }
    let delta = json!({
        "type": "message_delta",
        "delta": {"stop_reason": r.stop_reason, "stop_sequence": r.stop_sequence},
        "usage": {"output_tokens": r.output},
    });
    event(&mut sse, "message_delta", &delta);
    event(&mut sse, "message_stop", &json!({"type": "message_stop"}));
    sse
}
