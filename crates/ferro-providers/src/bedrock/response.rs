//! Converse response → OpenAI `chat.completion`. Pure (the id is an argument:
//! Converse answers carry none).
//!
//! `text` blocks are concatenated into `content`; `toolUse` blocks become
//! `tool_calls` (input → arguments JSON text), except the JSON-mode tool whose
//! input becomes `content`; `reasoningContent` becomes `reasoning_content`
//! and `thinking_blocks` (signatures kept for the next turn). Usage:
//! `prompt_tokens` = `inputTokens` + cache read + cache write (Converse
//! reports them apart), with the cache parts named for pricing.

use super::JSON_TOOL;
use crate::native::TranslateError;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

/// Converse `usage` (also the stream's `metadata.usage`).
#[derive(Deserialize, Debug, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub cache_read_input_tokens: u64,
    #[serde(default)]
    pub cache_write_input_tokens: u64,
}

/// The OpenAI `usage` object of a Converse usage.
pub fn usage_json(u: &Usage) -> Value {
    let read = u.cache_read_input_tokens;
    let write = u.cache_write_input_tokens;
    let prompt = u.input_tokens + read + write;
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": u.output_tokens,
        "total_tokens": prompt + u.output_tokens,
        "prompt_tokens_details": {"cached_tokens": read},
        "cache_read_tokens": read,
        "cache_write_tokens": write,
    })
}

/// OpenAI `finish_reason` of a Converse `stopReason`.
pub fn finish_reason(stop: Option<&str>, client_tool_calls: bool) -> &'static str {
    match stop {
        Some("max_tokens") | Some("model_context_window_exceeded") => "length",
        Some("tool_use") if client_tool_calls => "tool_calls",
        Some("guardrail_intervened") | Some("content_filtered") => "content_filter",
        _ => "stop",
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolUse<'a> {
    #[serde(default)]
    tool_use_id: String,
    #[serde(default)]
    name: String,
    #[serde(default, borrow)]
    input: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Block<'a> {
    #[serde(default)]
    text: Option<String>,
    #[serde(default, borrow)]
    tool_use: Option<ToolUse<'a>>,
    #[serde(default)]
    reasoning_content: Option<Value>,
}

#[derive(Deserialize)]
struct Msg<'a> {
    #[serde(default, borrow)]
    content: Vec<Block<'a>>,
}

#[derive(Deserialize)]
struct Output<'a> {
    #[serde(default, borrow)]
    message: Option<Msg<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Converse<'a> {
    #[serde(default, borrow)]
    output: Option<Output<'a>>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Usage,
}

/// Tool input raw text as `arguments` (`{}` when absent or null).
pub fn raw_arguments(input: Option<&RawValue>) -> String {
    match input.map(RawValue::get) {
        None | Some("null") => "{}".to_owned(),
        Some(s) => s.to_owned(),
    }
}

/// A `reasoningContent` block as an OpenAI `thinking_blocks` entry and its text.
pub fn thinking_block(rc: &Value) -> Option<(Value, String)> {
    if let Some(rt) = rc.get("reasoningText") {
        let text = rt.get("text").and_then(Value::as_str).unwrap_or("");
        let sig = rt.get("signature").and_then(Value::as_str).unwrap_or("");
        return Some((
            json!({"type": "thinking", "thinking": text, "signature": sig}),
            text.to_owned(),
        ));
    }
    rc.get("redactedContent").and_then(Value::as_str).map(|d| {
        (
            json!({"type": "redacted_thinking", "data": d}),
            String::new(),
        )
    })
}

/// Translates a 2xx Converse body into a `chat.completion` body with `id`.
pub fn translate(body: &[u8], model: &str, id: &str) -> Result<Vec<u8>, TranslateError> {
    let c: Converse = serde_json::from_slice(body)
        .map_err(|e| TranslateError(format!("invalid Converse response: {e}")))?;
    let blocks = c
        .output
        .and_then(|o| o.message)
        .map(|m| m.content)
        .unwrap_or_default();
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut thinking = Vec::new();
    let mut tool_calls = Vec::new();
    for b in &blocks {
        if let Some(t) = &b.text {
            text.push_str(t);
        }
        if let Some(tu) = &b.tool_use {
            if tu.name == JSON_TOOL {
                text.push_str(&raw_arguments(tu.input));
            } else {
                tool_calls.push(json!({
                    "id": tu.tool_use_id,
                    "type": "function",
                    "function": {"name": tu.name, "arguments": raw_arguments(tu.input)},
                }));
            }
        }
        if let Some((block, t)) = b.reasoning_content.as_ref().and_then(thinking_block) {
            reasoning.push_str(&t);
            thinking.push(block);
        }
    }
    let mut msg = Map::new();
    msg.insert("role".into(), json!("assistant"));
    let content = if text.is_empty() && !tool_calls.is_empty() {
        Value::Null
    } else {
        Value::String(text)
    };
    msg.insert("content".into(), content);
    let finish = finish_reason(c.stop_reason.as_deref(), !tool_calls.is_empty());
    if !tool_calls.is_empty() {
        msg.insert("tool_calls".into(), Value::Array(tool_calls));
    }
    if !thinking.is_empty() {
        msg.insert("reasoning_content".into(), Value::String(reasoning));
        msg.insert("thinking_blocks".into(), Value::Array(thinking));
    }
    let out = json!({
        "id": id,
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": msg, "finish_reason": finish}],
        "usage": usage_json(&c.usage),
    });
    serde_json::to_vec(&out).map_err(|e| TranslateError(e.to_string()))
}
