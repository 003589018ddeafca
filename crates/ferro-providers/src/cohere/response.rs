//! Cohere v2 chat response → OpenAI `chat.completion`. Pure.
//!
//! `text` content blocks are concatenated into `content` (a turn that only
//! planned tool calls gets its `tool_plan` as content); `thinking` blocks
//! become `reasoning_content`; `tool_calls` keep their shape. Usage is what
//! Cohere bills (`billed_units`), else the raw `tokens`.

use crate::native::TranslateError;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Cohere `usage`: `{billed_units:{input_tokens,output_tokens}, tokens:{…}}`.
#[derive(Deserialize, Debug, Default, Clone, PartialEq)]
pub struct Usage {
    #[serde(default)]
    pub billed_units: Option<Counts>,
    #[serde(default)]
    pub tokens: Option<Counts>,
}

#[derive(Deserialize, Debug, Default, Clone, Copy, PartialEq)]
pub struct Counts {
    #[serde(default)]
    pub input_tokens: Option<f64>,
    #[serde(default)]
    pub output_tokens: Option<f64>,
}

/// The OpenAI `usage` object.
pub fn usage_json(u: &Usage) -> Value {
    let pick = |f: fn(&Counts) -> Option<f64>| {
        u.billed_units
            .as_ref()
            .and_then(f)
            .or_else(|| u.tokens.as_ref().and_then(f))
            .unwrap_or(0.0)
            .max(0.0) as u64
    };
    let prompt = pick(|c| c.input_tokens);
    let completion = pick(|c| c.output_tokens);
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    })
}

/// OpenAI `finish_reason` of a Cohere `finish_reason`.
pub fn finish_reason(f: Option<&str>) -> &'static str {
    match f {
        Some("MAX_TOKENS") => "length",
        Some("TOOL_CALL") => "tool_calls",
        _ => "stop",
    }
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Vec<Value>,
    #[serde(default)]
    tool_plan: Option<String>,
    #[serde(default)]
    tool_calls: Vec<Value>,
}

#[derive(Deserialize)]
struct Chat {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    message: Option<Message>,
    #[serde(default)]
    usage: Usage,
}

/// A Cohere tool call as an OpenAI one.
pub fn tool_call(c: &Value) -> Value {
    let s = |p: &str| c.pointer(p).and_then(Value::as_str).unwrap_or("");
    let args = match s("/function/arguments") {
        "" => "{}",
        a => a,
    };
    json!({
        "id": s("/id"),
        "type": "function",
        "function": {"name": s("/function/name"), "arguments": args},
    })
}

/// Translates a 2xx `/v2/chat` body into a `chat.completion` body.
pub fn translate(body: &[u8], model: &str) -> Result<Vec<u8>, TranslateError> {
    let c: Chat = serde_json::from_slice(body)
        .map_err(|e| TranslateError(format!("invalid Cohere chat response: {e}")))?;
    let m = c.message.unwrap_or(Message {
        content: Vec::new(),
        tool_plan: None,
        tool_calls: Vec::new(),
    });
    let mut text = String::new();
    let mut reasoning = String::new();
    for b in &m.content {
        match b.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(b.get("text").and_then(Value::as_str).unwrap_or("")),
            Some("thinking") => {
                reasoning.push_str(b.get("thinking").and_then(Value::as_str).unwrap_or(""));
            }
            _ => {}
        }
    }
    let calls: Vec<Value> = m.tool_calls.iter().map(tool_call).collect();
    if text.is_empty() && !calls.is_empty() {
        text = m.tool_plan.unwrap_or_default();
    }
    let mut msg = Map::new();
    msg.insert("role".into(), json!("assistant"));
    msg.insert(
        "content".into(),
        if text.is_empty() && !calls.is_empty() {
            Value::Null
        } else {
            Value::String(text)
        },
    );
    if !calls.is_empty() {
        msg.insert("tool_calls".into(), Value::Array(calls));
    }
    if !reasoning.is_empty() {
        msg.insert("reasoning_content".into(), Value::String(reasoning));
    }
    let out = json!({
        "id": c.id.unwrap_or_default(),
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": msg,
            "finish_reason": finish_reason(c.finish_reason.as_deref())}],
        "usage": usage_json(&c.usage),
    });
    serde_json::to_vec(&out).map_err(|e| TranslateError(e.to_string()))
}
