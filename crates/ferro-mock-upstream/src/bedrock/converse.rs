//! Converse / ConverseStream replies:
//! * text: `mock reply to: <last user text>` (cut at a matching stop sequence
//!   → `stop_sequence`, at `maxTokens` words → `max_tokens`);
//! * tools: `toolUse` blocks when `toolChoice` is `any` / `tool`, or when the
//!   last user text says "use tool" ("two tools": two calls); inputs fill the
//!   schema's properties with placeholders; a turn of tool results only is
//!   answered with text;
//! * `additionalModelRequestFields.thinking.type: enabled` → a leading
//!   `reasoningContent` block with a signature;
//! * usage: `inputTokens` from the text size, `outputTokens` from the reply;
//!   a request with a `cachePoint` also reports the cache constants (apart
//!   from `inputTokens`, as Bedrock does).
//!
//! Streams send messageStart, per block contentBlockStart (tools) /
//! contentBlockDelta (text split in pieces, tool input in two halves) /
//! contentBlockStop, messageStop and metadata, each event with a `p` padding
//! field like the real service.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Response, StatusCode};
use serde_json::{json, Map, Value};

use super::eventstream::{event, exception};
use super::{invalid, ptr, CACHE_READ_TOKENS, CACHE_WRITE_TOKENS};
use crate::body::{MockBody, SseBody};
use crate::openai::{json as json_response, next_id, split_pieces, ECHO_MAX_CHARS};
use crate::server::Shared;
use crate::util::{estimate_tokens, truncate_chars};

/// Top-level fields Converse accepts.
const FIELDS: [&str; 10] = [
    "messages",
    "system",
    "inferenceConfig",
    "toolConfig",
    "guardrailConfig",
    "additionalModelRequestFields",
    "additionalModelResponseFieldPaths",
    "promptVariables",
    "requestMetadata",
    "performanceConfig",
];

const BLOCKS: [&str; 7] = [
    "text",
    "image",
    "toolUse",
    "toolResult",
    "reasoningContent",
    "cachePoint",
    "document",
];

fn validate(req: &Map<String, Value>) -> Result<(), String> {
    if let Some(k) = req.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(format!(
            "Malformed input request: extraneous key [{k}] is not permitted, please reformat your input and try again."
        ));
    }
    let msgs = req
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or("A conversation must start with a user message.")?;
    let mut last = "";
    let mut tool_blocks = false;
    for (i, m) in msgs.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        if !matches!(role, "user" | "assistant") || (i == 0 && role != "user") || role == last {
            return Err("A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.".into());
        }
        last = role;
        for b in m
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(o) = b.as_object().filter(|o| o.len() == 1) else {
                return Err("each ContentBlock must have exactly one member".into());
            };
            let kind = o.keys().next().map(String::as_str).unwrap_or("");
            if !BLOCKS.contains(&kind) {
                return Err(format!("unknown ContentBlock member {kind}"));
            }
            if kind == "text" && o["text"].as_str().is_none_or(|t| t.trim().is_empty()) {
                return Err("The text field in the ContentBlock object is blank. Add text to the text field, and try again.".into());
            }
            tool_blocks |= kind == "toolUse" || kind == "toolResult";
        }
    }
    if tool_blocks && req.get("toolConfig").is_none() {
        return Err("The toolConfig field must be defined when using toolUse and toolResult content blocks.".into());
    }
    Ok(())
}

fn text_of(content: Option<&Value>) -> (String, bool) {
    let mut text = Vec::new();
    let mut tool_results = false;
    for b in content.and_then(Value::as_array).into_iter().flatten() {
        if let Some(t) = b.get("text").and_then(Value::as_str) {
            text.push(t.to_owned());
        }
        if let Some(r) = b.get("toolResult") {
            tool_results = true;
            for c in r
                .get("content")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(t) = c.get("text").and_then(Value::as_str) {
                    text.push(t.to_owned());
                }
            }
        }
    }
    (text.join("\n"), tool_results)
}

enum Block {
    Reasoning(String, String),
    Text(String),
    Tool {
        id: String,
        name: String,
        input: Value,
    },
}

fn placeholder(schema: Option<&Value>) -> Value {
    let mut o = Map::new();
    for (k, p) in schema
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let v = match p.get("type").and_then(Value::as_str) {
            Some("string") => json!(format!("mock-{k}")),
            Some("integer") => json!(1),
            Some("number") => json!(1.5),
            Some("boolean") => json!(true),
            _ => continue,
        };
        o.insert(k.clone(), v);
    }
    Value::Object(o)
}

struct Reply {
    blocks: Vec<Block>,
    stop: &'static str,
    input: u64,
    output: u64,
    cached: bool,
}

fn plan(shared: &Shared, req: &Map<String, Value>, body: &[u8]) -> Reply {
    let n = next_id(shared);
    let mut chars = 0;
    let (mut user, mut answering) = (String::new(), false);
    for m in req
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (t, results) = text_of(m.get("content"));
        chars += t.chars().count();
        if m.get("role").and_then(Value::as_str) == Some("user") {
            user = t;
            answering = results;
        }
    }
    for s in req
        .get("system")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        chars += s
            .get("text")
            .and_then(Value::as_str)
            .map_or(0, |t| t.chars().count());
    }
    let mut blocks = Vec::new();
    let thinking = ptr(req, "/additionalModelRequestFields/thinking/type");
    if thinking.and_then(Value::as_str) == Some("enabled") {
        blocks.push(Block::Reasoning(
            format!("Thinking about: {}", truncate_chars(&user, 40)),
            format!("mock-signature-{n}"),
        ));
    }
    let tools: Vec<(&str, Option<&Value>)> = ptr(req, "/toolConfig/tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| {
            let s = t.get("toolSpec")?;
            Some((s.get("name")?.as_str()?, s.pointer("/inputSchema/json")))
        })
        .collect();
    let choice = ptr(req, "/toolConfig/toolChoice");
    let count = if user.contains("two tools") { 2 } else { 1 };
    let calls: Vec<(&str, Option<&Value>)> = if tools.is_empty() || answering {
        Vec::new()
    } else if let Some(name) = choice
        .and_then(|c| c.pointer("/tool/name"))
        .and_then(Value::as_str)
    {
        tools
            .iter()
            .copied()
            .filter(|t| t.0 == name)
            .take(1)
            .collect()
    } else if choice.and_then(|c| c.get("any")).is_some() || user.contains("use tool") {
        (0..count).map(|i| tools[i % tools.len()]).collect()
    } else {
        Vec::new()
    };
    let max = ptr(req, "/inferenceConfig/maxTokens")
        .and_then(Value::as_u64)
        .unwrap_or(u64::MAX);
    let mut stop = "end_turn";
    if calls.is_empty() {
        let mut text = format!("mock reply to: {}", truncate_chars(&user, ECHO_MAX_CHARS));
        let hit = ptr(req, "/inferenceConfig/stopSequences")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter_map(|s| text.find(s).map(|at| (at, s)))
            .min();
        if let Some((at, _)) = hit {
            text.truncate(at);
            stop = "stop_sequence";
        }
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.len() as u64 > max {
            text = words[..max as usize].join(" ");
            stop = "max_tokens";
        }
        blocks.push(Block::Text(text));
    } else {
        for (i, (name, schema)) in calls.into_iter().enumerate() {
            blocks.push(Block::Tool {
                id: format!("tooluse_mock_{n}_{i}"),
                name: name.to_owned(),
                input: placeholder(schema),
            });
        }
        stop = "tool_use";
    }
    let output = blocks
        .iter()
        .map(|b| match b {
            Block::Reasoning(t, _) | Block::Text(t) => t.split_whitespace().count() as u64,
            Block::Tool { input, .. } => estimate_tokens(input.to_string().len()) + 5,
        })
        .sum();
    Reply {
        blocks,
        stop,
        input: estimate_tokens(chars),
        output,
        cached: body.windows(12).any(|w| w == b"\"cachePoint\""),
    }
}

fn usage(r: &Reply) -> Value {
    let (read, write) = if r.cached {
        (CACHE_READ_TOKENS, CACHE_WRITE_TOKENS)
    } else {
        (0, 0)
    };
    let mut u = json!({"inputTokens": r.input, "outputTokens": r.output,
        "totalTokens": r.input + r.output + read + write});
    if r.cached {
        u["cacheReadInputTokens"] = json!(read);
        u["cacheWriteInputTokens"] = json!(write);
    }
    u
}

/// Answers Converse (JSON) or ConverseStream (event stream).
pub(crate) fn respond(
    shared: &Arc<Shared>,
    model: &str,
    req: &Map<String, Value>,
    body: &Bytes,
    stream: bool,
    abort_after: Option<usize>,
) -> Response<MockBody> {
    if let Err(m) = validate(req) {
        return invalid(&m);
    }
    let r = plan(shared, req, body);
    if !stream {
        let content: Vec<Value> = r
            .blocks
            .iter()
            .map(|b| match b {
                Block::Reasoning(t, s) => {
                    json!({"reasoningContent": {"reasoningText": {"text": t, "signature": s}}})
                }
                Block::Text(t) => json!({"text": t}),
                Block::Tool { id, name, input } => {
                    json!({"toolUse": {"toolUseId": id, "name": name, "input": input}})
                }
            })
            .collect();
        let v = json!({
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": r.stop,
            "usage": usage(&r),
            "metrics": {"latencyMs": 12},
        });
        return json_response(StatusCode::OK, Bytes::from(v.to_string()));
    }
    let mut frames: Vec<Vec<u8>> = vec![event(
        "messageStart",
        &json!({"p": "abcd", "role": "assistant"}),
    )];
    for (i, b) in r.blocks.iter().enumerate() {
        let delta = |d: Value| {
            event(
                "contentBlockDelta",
                &json!({"contentBlockIndex": i, "delta": d, "p": "ab"}),
            )
        };
        match b {
            Block::Reasoning(t, s) => {
                frames.push(delta(json!({"reasoningContent": {"text": t}})));
                frames.push(delta(json!({"reasoningContent": {"signature": s}})));
            }
            Block::Text(t) => {
                for piece in split_pieces(t, shared.stream_chunks) {
                    if !piece.is_empty() {
                        frames.push(delta(json!({"text": piece})));
                    }
                }
            }
            Block::Tool { id, name, input } => {
                frames.push(event(
                    "contentBlockStart",
                    &json!({"contentBlockIndex": i,
                    "start": {"toolUse": {"toolUseId": id, "name": name}}}),
                ));
                let s = input.to_string();
                for piece in split_pieces(&s, 2) {
                    frames.push(delta(json!({"toolUse": {"input": piece}})));
                }
            }
        }
        frames.push(event("contentBlockStop", &json!({"contentBlockIndex": i})));
        if model.contains("stream-error") {
            frames.push(exception(
                "throttlingException",
                "Too many tokens, please wait before trying again.",
            ));
            break;
        }
    }
    if !model.contains("stream-error") {
        frames.push(event("messageStop", &json!({"stopReason": r.stop})));
        frames.push(event(
            "metadata",
            &json!({"usage": usage(&r), "metrics": {"latencyMs": 12}}),
        ));
    }
    let mut data = Vec::new();
    let mut ends = Vec::with_capacity(frames.len());
    for f in frames {
        data.extend(f);
        ends.push(data.len());
    }
    let body = SseBody::new(
        Arc::clone(shared),
        Bytes::from(data),
        ends,
        shared.chunk_gap,
        abort_after,
    );
    let mut resp = Response::new(MockBody::Sse(body));
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.amazon.eventstream"),
    );
    resp
}
