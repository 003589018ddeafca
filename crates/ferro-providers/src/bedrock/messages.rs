//! OpenAI chat messages → Converse `system` blocks and `messages`. Pure.
//!
//! * `system` / `developer` messages (wherever they are) → `system` text blocks;
//! * user text and images → `text` / `image` blocks (images must be data URLs:
//!   Converse takes bytes, and the gateway never fetches URLs for a client);
//! * assistant text, `tool_calls` → `toolUse` blocks (arguments parsed to the
//!   `input` object), `thinking_blocks` (or `reasoning_content` +
//!   `reasoning_signature`) → `reasoningContent` blocks in front;
//! * `tool` messages → `toolResult` blocks in a user turn;
//! * consecutive turns of one role are merged (Converse wants alternation);
//! * `cache_control` on a part or a system block → a `cachePoint` after it.

use ferro_types::json::truncate;
use ferro_types::ApiError;
use serde_json::{json, Map, Value};

/// The converted conversation.
#[derive(Debug, Default)]
pub struct Converted {
    pub system: Vec<Value>,
    pub messages: Vec<Value>,
    /// Whether any turn carries `toolUse` / `toolResult` blocks (Converse then
    /// requires a `toolConfig`).
    pub has_tool_blocks: bool,
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::invalid_request(msg.into())
}

fn cache_point() -> Value {
    json!({"cachePoint": {"type": "default"}})
}

fn has_cache_control(v: &Value) -> bool {
    v.get("cache_control").is_some_and(Value::is_object)
}

/// `data:image/png;base64,…` → an `image` block.
fn image_block(url: &str) -> Result<Value, ApiError> {
    let Some(rest) = url.strip_prefix("data:") else {
        return Err(bad(
            "bedrock accepts images as data URLs (data:image/png;base64,…) only",
        ));
    };
    let (meta, data) = rest
        .split_once(',')
        .ok_or_else(|| bad("invalid image data URL"))?;
    let mime = meta
        .strip_suffix(";base64")
        .ok_or_else(|| bad("image data URL must be base64"))?;
    let format = match mime {
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpeg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        other => {
            return Err(bad(format!(
                "image type `{}` is not supported by bedrock",
                truncate(other, 32)
            )))
        }
    };
    Ok(json!({"image": {"format": format, "source": {"bytes": data}}}))
}

/// Content (string or parts) of a user / system / assistant message → blocks.
fn content_blocks(content: Option<&Value>, allow_images: bool) -> Result<Vec<Value>, ApiError> {
    let mut out = Vec::new();
    match content {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            if !s.is_empty() {
                out.push(json!({"text": s}));
            }
        }
        Some(Value::Array(parts)) => {
            for p in parts {
                match p.get("type").and_then(Value::as_str).unwrap_or("text") {
                    "text" => {
                        let t = p.get("text").and_then(Value::as_str).unwrap_or("");
                        if !t.is_empty() {
                            out.push(json!({"text": t}));
                        }
                    }
                    "image_url" if allow_images => {
                        let url = p
                            .pointer("/image_url/url")
                            .or_else(|| p.get("image_url"))
                            .and_then(Value::as_str)
                            .ok_or_else(|| bad("image_url.url must be a string"))?;
                        out.push(image_block(url)?);
                    }
                    other => {
                        return Err(bad(format!(
                            "content part type `{}` is not supported by bedrock here",
                            truncate(other, 32)
                        )))
                    }
                }
                if has_cache_control(p) && !out.is_empty() {
                    out.push(cache_point());
                }
            }
        }
        Some(_) => return Err(bad("message content must be a string or an array")),
    }
    Ok(out)
}

/// Text of a tool message's content.
fn tool_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// Reasoning blocks an assistant message hands back.
fn reasoning_blocks(m: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(Value::Array(blocks)) = m.get("thinking_blocks") {
        for b in blocks {
            match b.get("type").and_then(Value::as_str) {
                Some("thinking") => {
                    let mut rt = Map::new();
                    rt.insert(
                        "text".into(),
                        b.get("thinking").cloned().unwrap_or(json!("")),
                    );
                    if let Some(s) = b.get("signature").and_then(Value::as_str) {
                        rt.insert("signature".into(), json!(s));
                    }
                    out.push(json!({"reasoningContent": {"reasoningText": rt}}));
                }
                Some("redacted_thinking") => {
                    if let Some(d) = b.get("data").and_then(Value::as_str) {
                        out.push(json!({"reasoningContent": {"redactedContent": d}}));
                    }
                }
                _ => {}
            }
        }
        return out;
    }
    if let (Some(t), Some(sig)) = (
        m.get("reasoning_content").and_then(Value::as_str),
        m.get("reasoning_signature").and_then(Value::as_str),
    ) {
        out.push(json!({"reasoningContent": {"reasoningText": {"text": t, "signature": sig}}}));
    }
    out
}

fn tool_use_blocks(m: &Value) -> Result<Vec<Value>, ApiError> {
    let Some(calls) = m.get("tool_calls").filter(|c| !c.is_null()) else {
        return Ok(Vec::new());
    };
    let calls = calls
        .as_array()
        .ok_or_else(|| bad("tool_calls must be an array"))?;
    let mut out = Vec::with_capacity(calls.len());
    for (i, c) in calls.iter().enumerate() {
        let id = c.get("id").and_then(Value::as_str).unwrap_or("");
        let name = c
            .pointer("/function/name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("tool_calls[{i}].function.name must be a string")))?;
        let args = c
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .unwrap_or("");
        let input: Value = if args.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str(args)
                .map_err(|_| bad(format!("tool_calls[{i}].function.arguments must be JSON")))?
        };
        out.push(json!({"toolUse": {"toolUseId": id, "name": name, "input": input}}));
    }
    Ok(out)
}

/// Appends a turn, merging it into the previous one when the role repeats.
fn push_turn(out: &mut Vec<Value>, role: &str, blocks: Vec<Value>) {
    if blocks.is_empty() {
        return;
    }
    if let Some(last) = out.last_mut() {
        if last.get("role").and_then(Value::as_str) == Some(role) {
            if let Some(Value::Array(c)) = last.get_mut("content") {
                c.extend(blocks);
                return;
            }
        }
    }
    out.push(json!({"role": role, "content": blocks}));
}

/// Converts the OpenAI `messages` array.
pub fn convert(msgs: &[Value]) -> Result<Converted, ApiError> {
    let mut c = Converted::default();
    for (i, m) in msgs.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        let content = m.get("content");
        match role {
            "system" | "developer" => {
                let blocks = content_blocks(content, false)?;
                c.system.extend(blocks);
            }
            "user" => push_turn(&mut c.messages, "user", content_blocks(content, true)?),
            "assistant" => {
                let mut blocks = reasoning_blocks(m);
                blocks.extend(content_blocks(content, false)?);
                let tools = tool_use_blocks(m)?;
                c.has_tool_blocks |= !tools.is_empty();
                blocks.extend(tools);
                push_turn(&mut c.messages, "assistant", blocks);
            }
            "tool" => {
                let id = m
                    .get("tool_call_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad(format!("messages[{i}].tool_call_id is required")))?;
                let text = tool_text(content);
                let result = if text.is_empty() {
                    json!([])
                } else {
                    json!([{"text": text}])
                };
                c.has_tool_blocks = true;
                push_turn(
                    &mut c.messages,
                    "user",
                    vec![json!({"toolResult": {"toolUseId": id, "content": result}})],
                );
            }
            _ => {
                return Err(bad(format!(
                    "messages[{i}].role `{}` is not supported by bedrock",
                    truncate(role, 32)
                )))
            }
        }
    }
    Ok(c)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn roles_merge_and_tools() {
        let msgs: Vec<Value> = serde_json::from_value(json!([
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "a"},
            {"role": "user", "content": [{"type": "text", "text": "b", "cache_control": {"type": "ephemeral"}}]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{\"x\":1}"}}]},
            {"role": "tool", "tool_call_id": "t1", "content": "42"},
            {"role": "tool", "tool_call_id": "t2", "content": ""}
        ]))
        .unwrap();
        let c = convert(&msgs).unwrap();
        assert_eq!(c.system, vec![json!({"text": "be brief"})]);
        assert_eq!(c.messages.len(), 3);
        assert_eq!(c.messages[0]["content"].as_array().unwrap().len(), 3);
        assert_eq!(c.messages[0]["content"][2], cache_point());
        assert_eq!(
            c.messages[1]["content"][0]["toolUse"]["input"],
            json!({"x": 1})
        );
        assert_eq!(c.messages[2]["content"].as_array().unwrap().len(), 2);
        assert!(c.has_tool_blocks);
    }

    #[test]
    fn images() {
        assert_eq!(
            image_block("data:image/png;base64,iVBO").unwrap(),
            json!({"image": {"format": "png", "source": {"bytes": "iVBO"}}})
        );
        assert!(image_block("https://example.com/a.png").is_err());
        assert!(image_block("data:image/bmp;base64,xx").is_err());
    }
}
