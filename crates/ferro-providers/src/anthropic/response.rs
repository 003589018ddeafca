//! Messages API response → OpenAI `chat.completion`. Pure: no I/O, no clock.
//!
//! Text blocks are concatenated into `content`; `tool_use` blocks become
//! `tool_calls` (input object → arguments JSON text), except the JSON-mode tool
//! whose input becomes `content`; thinking text becomes `reasoning_content` and
//! the signed blocks `thinking_blocks`. Usage is normalised by [`usage_json`].

use super::JSON_TOOL;
use crate::native::TranslateError;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

/// Anthropic `usage` (message, `message_start` and `message_delta` shapes).
#[derive(Deserialize, Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: Option<u64>,
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
}

impl Usage {
    /// Fields present in `later` replace ours (a `message_delta` carries the
    /// final, cumulative counts).
    pub fn update(&mut self, later: &Usage) {
        let pick = |a: &mut Option<u64>, b: Option<u64>| {
            if b.is_some() {
                *a = b;
            }
        };
        pick(&mut self.input_tokens, later.input_tokens);
        pick(&mut self.output_tokens, later.output_tokens);
        pick(
            &mut self.cache_creation_input_tokens,
            later.cache_creation_input_tokens,
        );
        pick(
            &mut self.cache_read_input_tokens,
            later.cache_read_input_tokens,
        );
    }
}

/// The OpenAI `usage` object: `prompt_tokens` counts every input token
/// (uncached + cache read + cache write), with the cache parts named so the
/// gateway prices them at their own rates.
pub fn usage_json(u: &Usage) -> Value {
    let read = u.cache_read_input_tokens.unwrap_or(0);
    let write = u.cache_creation_input_tokens.unwrap_or(0);
    let prompt = u.input_tokens.unwrap_or(0) + read + write;
    let completion = u.output_tokens.unwrap_or(0);
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": read},
        "cache_read_tokens": read,
        "cache_write_tokens": write,
    })
}

/// OpenAI `finish_reason` for an Anthropic `stop_reason`. A `tool_use` stop
/// that called no client tool (only the JSON-mode tool) is a plain stop.
pub fn finish_reason(stop_reason: Option<&str>, client_tool_calls: bool) -> &'static str {
    match stop_reason {
        Some("max_tokens") | Some("model_context_window_exceeded") => "length",
        Some("tool_use") if client_tool_calls => "tool_calls",
        Some("refusal") => "content_filter",
        _ => "stop",
    }
}

/// One content block. A plain struct (not a tagged enum) so a tool's `input`
/// stays raw text: arguments keep the model's own key order and spelling.
#[derive(Deserialize)]
struct Block<'a> {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default, borrow)]
    input: Option<&'a RawValue>,
    #[serde(default)]
    thinking: Option<String>,
    #[serde(default)]
    signature: Option<String>,
    #[serde(default)]
    data: Option<String>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(default)]
    id: Option<String>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default, borrow)]
    content: Vec<Block<'a>>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Usage,
}

/// Tool input as OpenAI `arguments` text.
pub fn arguments(input: &Value) -> String {
    match input {
        Value::Null => "{}".to_owned(),
        v => v.to_string(),
    }
}

/// Raw tool input as `arguments` text (`{}` when absent or null).
fn raw_arguments(input: Option<&RawValue>) -> String {
    match input.map(RawValue::get) {
        None | Some("null") => "{}".to_owned(),
        Some(s) => s.to_owned(),
    }
}

/// Translates a 2xx Messages body into a `chat.completion` body.
pub fn translate(body: &[u8], model: &str) -> Result<Vec<u8>, TranslateError> {
    let m: Message = serde_json::from_slice(body)
        .map_err(|e| TranslateError(format!("invalid Messages response: {e}")))?;
    if m.kind.as_deref() == Some("error") {
        return Err(TranslateError("upstream answered with an error".into()));
    }
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut thinking_blocks = Vec::new();
    let mut tool_calls = Vec::new();
    for b in &m.content {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        match b.kind.as_str() {
            "text" => text.push_str(b.text.as_deref().unwrap_or("")),
            "tool_use" if b.name.as_deref() == Some(JSON_TOOL) => {
                text.push_str(&raw_arguments(b.input));
            }
            "tool_use" => tool_calls.push(json!({
                "id": s(&b.id),
                "type": "function",
                "function": {"name": s(&b.name), "arguments": raw_arguments(b.input)},
            })),
            "thinking" => {
                let t = s(&b.thinking);
                reasoning.push_str(&t);
                thinking_blocks
                    .push(json!({"type": "thinking", "thinking": t, "signature": s(&b.signature)}));
            }
            "redacted_thinking" => {
                thinking_blocks.push(json!({"type": "redacted_thinking", "data": s(&b.data)}));
            }
            _ => {}
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
    let finish = finish_reason(m.stop_reason.as_deref(), !tool_calls.is_empty());
    if !tool_calls.is_empty() {
        msg.insert("tool_calls".into(), Value::Array(tool_calls));
    }
    if !thinking_blocks.is_empty() {
        msg.insert("reasoning_content".into(), Value::String(reasoning));
        msg.insert("thinking_blocks".into(), Value::Array(thinking_blocks));
    }
    let out = json!({
        "id": m.id.unwrap_or_default(),
        "object": "chat.completion",
        "created": 0,
        "model": m.model.as_deref().unwrap_or(model),
        "choices": [{"index": 0, "message": msg, "finish_reason": finish}],
        "usage": usage_json(&m.usage),
    });
    serde_json::to_vec(&out).map_err(|e| TranslateError(e.to_string()))
}
