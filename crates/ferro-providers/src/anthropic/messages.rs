//! OpenAI `messages` → Anthropic `system` + `messages`.
//!
//! * `system` / `developer` messages become the top-level `system`: one string
//!   when every one was a string (joined by a blank line), else text blocks
//!   (so `cache_control` on parts survives).
//! * `assistant` `tool_calls` become `tool_use` blocks (arguments JSON text →
//!   `input` object); `thinking_blocks` (or `reasoning_content` +
//!   `reasoning_signature`) become the signed thinking blocks that lead the turn.
//! * `tool` messages become `tool_result` blocks in a user turn; consecutive
//!   turns of the same role are merged, so parallel tool results share one turn.
//! * images: `data:` URLs → base64 sources, `http(s)` URLs → url sources;
//!   PDF `file` parts given as data URLs → base64 document blocks.
//! * empty text is skipped (Anthropic refuses empty text blocks), and so is a
//!   message left without content.

use ferro_types::ApiError;
use serde_json::{json, Map, Value};

/// The translated conversation.
#[derive(Debug, Default)]
pub struct Converted {
    pub system: Option<Value>,
    pub messages: Vec<Value>,
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::invalid_request(msg.into())
}

/// Copies a client `cache_control` object onto a block.
fn keep_cache_control(src: &Value, block: &mut Value) {
    if let (Some(cc), Some(obj)) = (
        src.get("cache_control").filter(|c| c.is_object()),
        block.as_object_mut(),
    ) {
        obj.insert("cache_control".into(), cc.clone());
    }
}

fn text_block(text: &str, part: Option<&Value>) -> Value {
    let mut b = json!({"type": "text", "text": text});
    if let Some(p) = part {
        keep_cache_control(p, &mut b);
    }
    b
}

/// `data:<media>;base64,<data>` → (media type, data).
fn data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let media = meta.strip_suffix(";base64")?;
    Some((media, data))
}

fn image_block(part: &Value, at: &str) -> Result<Value, ApiError> {
    let iu = part.get("image_url");
    let url = iu
        .and_then(|u| u.get("url").or(Some(u)))
        .and_then(Value::as_str)
        .ok_or_else(|| bad(format!("{at}.image_url.url must be a string")))?;
    let source = if let Some((media, data)) = data_url(url) {
        json!({"type": "base64", "media_type": media, "data": data})
    } else if url.starts_with("https://") || url.starts_with("http://") {
        json!({"type": "url", "url": url})
    } else {
        return Err(bad(format!(
            "{at}.image_url.url must be an http(s) URL or a base64 data URL"
        )));
    };
    let mut b = json!({"type": "image", "source": source});
    keep_cache_control(part, &mut b);
    Ok(b)
}

fn file_block(part: &Value, at: &str) -> Result<Value, ApiError> {
    let data = part
        .pointer("/file/file_data")
        .and_then(Value::as_str)
        .and_then(data_url)
        .filter(|(media, _)| *media == "application/pdf")
        .ok_or_else(|| {
            bad(format!(
                "{at}: only PDF files given as base64 data URLs (file.file_data) are supported by anthropic"
            ))
        })?;
    let mut b = json!({"type": "document", "source": {"type": "base64", "media_type": data.0, "data": data.1}});
    keep_cache_control(part, &mut b);
    Ok(b)
}

/// Content (string or parts) → blocks. `media` allows images and files.
fn content_blocks(content: Option<&Value>, at: &str, media: bool) -> Result<Vec<Value>, ApiError> {
    match content {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) if s.is_empty() => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![text_block(s, None)]),
        Some(Value::Array(parts)) => {
            let mut out = Vec::with_capacity(parts.len());
            for (j, p) in parts.iter().enumerate() {
                let at = format!("{at}.content[{j}]");
                let kind = p.get("type").and_then(Value::as_str).unwrap_or("");
                match kind {
                    "text" | "refusal" => {
                        let key = if kind == "text" { "text" } else { "refusal" };
                        let t = p
                            .get(key)
                            .and_then(Value::as_str)
                            .ok_or_else(|| bad(format!("{at}.{key} must be a string")))?;
                        if !t.is_empty() {
                            out.push(text_block(t, Some(p)));
                        }
                    }
                    "image_url" if media => out.push(image_block(p, &at)?),
                    "file" if media => out.push(file_block(p, &at)?),
                    other => {
                        return Err(bad(format!(
                            "{at}: content part type `{}` is not supported by anthropic here",
                            ferro_types::json::truncate(other, 32)
                        )))
                    }
                }
            }
            Ok(out)
        }
        Some(_) => Err(bad(format!(
            "{at}.content must be a string or an array of content parts"
        ))),
    }
}

/// Signed thinking blocks an assistant message carries back.
fn thinking_blocks(m: &Value, at: &str) -> Result<Vec<Value>, ApiError> {
    let mut out = Vec::new();
    if let Some(blocks) = m.get("thinking_blocks").filter(|b| !b.is_null()) {
        let blocks = blocks
            .as_array()
            .ok_or_else(|| bad(format!("{at}.thinking_blocks must be an array")))?;
        for (k, b) in blocks.iter().enumerate() {
            let s = |key: &str| b.get(key).and_then(Value::as_str);
            match s("type") {
                Some("thinking") => {
                    let (Some(t), Some(sig)) = (s("thinking"), s("signature")) else {
                        return Err(bad(format!(
                            "{at}.thinking_blocks[{k}] needs `thinking` and `signature` strings"
                        )));
                    };
                    out.push(json!({"type": "thinking", "thinking": t, "signature": sig}));
                }
                Some("redacted_thinking") => {
                    let d = s("data").ok_or_else(|| {
                        bad(format!("{at}.thinking_blocks[{k}].data must be a string"))
                    })?;
                    out.push(json!({"type": "redacted_thinking", "data": d}));
                }
                _ => {
                    return Err(bad(format!(
                        "{at}.thinking_blocks[{k}].type must be `thinking` or `redacted_thinking`"
                    )))
                }
            }
        }
        return Ok(out);
    }
    // Simpler spelling: the reasoning text plus its signature. Unsigned
    // reasoning cannot be replayed (Anthropic refuses it) and is left out.
    if let (Some(t), Some(sig)) = (
        m.get("reasoning_content").and_then(Value::as_str),
        m.get("reasoning_signature").and_then(Value::as_str),
    ) {
        out.push(json!({"type": "thinking", "thinking": t, "signature": sig}));
    }
    Ok(out)
}

fn tool_use_blocks(m: &Value, at: &str) -> Result<Vec<Value>, ApiError> {
    let Some(calls) = m.get("tool_calls").filter(|c| !c.is_null()) else {
        return Ok(Vec::new());
    };
    let calls = calls
        .as_array()
        .ok_or_else(|| bad(format!("{at}.tool_calls must be an array")))?;
    let mut out = Vec::with_capacity(calls.len());
    for (k, c) in calls.iter().enumerate() {
        let at = format!("{at}.tool_calls[{k}]");
        let id = c
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("{at}.id must be a string")))?;
        let f = c
            .get("function")
            .ok_or_else(|| bad(format!("{at}.function is required")))?;
        let name = f
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("{at}.function.name must be a string")))?;
        let input = match f.get("arguments") {
            None | Some(Value::Null) => json!({}),
            Some(Value::String(s)) if s.trim().is_empty() => json!({}),
            Some(Value::String(s)) => serde_json::from_str::<Value>(s)
                .ok()
                .filter(Value::is_object)
                .ok_or_else(|| {
                    bad(format!(
                        "{at}.function.arguments must be a JSON object encoded as a string"
                    ))
                })?,
            Some(v @ Value::Object(_)) => v.clone(),
            Some(_) => {
                return Err(bad(format!(
                    "{at}.function.arguments must be a JSON object encoded as a string"
                )))
            }
        };
        let mut b = json!({"type": "tool_use", "id": id, "name": name, "input": input});
        keep_cache_control(c, &mut b);
        out.push(b);
    }
    Ok(out)
}

fn tool_result_block(m: &Value, at: &str) -> Result<Value, ApiError> {
    let id = m
        .get("tool_call_id")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(format!("{at}.tool_call_id must be a string")))?;
    let mut b = Map::new();
    b.insert("type".into(), json!("tool_result"));
    b.insert("tool_use_id".into(), json!(id));
    match m.get("content") {
        Some(Value::String(s)) if !s.is_empty() => {
            b.insert("content".into(), json!(s));
        }
        Some(c @ Value::Array(_)) => {
            let blocks = content_blocks(Some(c), at, true)?;
            if !blocks.is_empty() {
                b.insert("content".into(), Value::Array(blocks));
            }
        }
        _ => {}
    }
    let mut b = Value::Object(b);
    keep_cache_control(m, &mut b);
    Ok(b)
}

/// Appends blocks to the conversation, merging with a previous same-role turn.
fn push_turn(turns: &mut Vec<(&'static str, Vec<Value>)>, role: &'static str, blocks: Vec<Value>) {
    if blocks.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some((r, b)) if *r == role => b.extend(blocks),
        _ => turns.push((role, blocks)),
    }
}

/// A message-level `cache_control` marks the message's last block.
fn mark_last(m: &Value, blocks: &mut [Value]) {
    if let Some(last) = blocks.last_mut() {
        keep_cache_control(m, last);
    }
}

/// Converts the OpenAI `messages` array.
pub fn convert(messages: &[Value]) -> Result<Converted, ApiError> {
    let mut system: Vec<Value> = Vec::new();
    let mut system_all_strings = true;
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        let at = format!("messages[{i}]");
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        match role {
            "system" | "developer" => {
                let c = m.get("content");
                if !matches!(c, Some(Value::String(_))) || m.get("cache_control").is_some() {
                    system_all_strings = false;
                }
                let mut blocks = content_blocks(c, &at, false)?;
                mark_last(m, &mut blocks);
                system.extend(blocks);
            }
            "user" => {
                let mut blocks = content_blocks(m.get("content"), &at, true)?;
                mark_last(m, &mut blocks);
                push_turn(&mut turns, "user", blocks);
            }
            "assistant" => {
                let mut blocks = thinking_blocks(m, &at)?;
                blocks.extend(content_blocks(m.get("content"), &at, false)?);
                blocks.extend(tool_use_blocks(m, &at)?);
                mark_last(m, &mut blocks);
                push_turn(&mut turns, "assistant", blocks);
            }
            "tool" => {
                let b = tool_result_block(m, &at)?;
                push_turn(&mut turns, "user", vec![b]);
            }
            _ => {
                return Err(bad(format!(
                    "{at}.role `{}` is not supported by anthropic; use tool messages",
                    ferro_types::json::truncate(role, 32)
                )))
            }
        }
    }
    let system = if system.is_empty() {
        None
    } else if system_all_strings {
        let texts: Vec<&str> = system
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect();
        Some(Value::String(texts.join("\n\n")))
    } else {
        Some(Value::Array(system))
    };
    let messages = turns
        .into_iter()
        .map(|(role, blocks)| {
            let plain = blocks.len() == 1
                && blocks[0].get("type").and_then(Value::as_str) == Some("text")
                && blocks[0].get("cache_control").is_none();
            let content = match (plain, blocks.first().and_then(|b| b.get("text"))) {
                (true, Some(t)) => t.clone(),
                _ => Value::Array(blocks),
            };
            json!({"role": role, "content": content})
        })
        .collect();
    Ok(Converted { system, messages })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn conv(v: Value) -> Converted {
        convert(v.as_array().unwrap()).unwrap()
    }

    #[test]
    fn merges_tool_results_and_keeps_order() {
        let c = conv(json!([
            {"role": "system", "content": "a"},
            {"role": "developer", "content": "b"},
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{\"x\":1}"}},
                {"id": "t2", "type": "function", "function": {"name": "g", "arguments": ""}}]},
            {"role": "tool", "tool_call_id": "t1", "content": "r1"},
            {"role": "tool", "tool_call_id": "t2", "content": [{"type": "text", "text": "r2"}]},
            {"role": "user", "content": "more"}
        ]));
        assert_eq!(c.system, Some(json!("a\n\nb")));
        assert_eq!(c.messages.len(), 3);
        assert_eq!(c.messages[1]["content"][0]["input"], json!({"x": 1}));
        assert_eq!(c.messages[1]["content"][1]["input"], json!({}));
        let user = c.messages[2]["content"].as_array().unwrap();
        assert_eq!(user.len(), 3);
        assert_eq!(user[0]["tool_use_id"], "t1");
        assert_eq!(user[1]["content"][0]["text"], "r2");
        assert_eq!(user[2]["text"], "more");
    }

    #[test]
    fn refuses_what_cannot_be_expressed() {
        let e = |v: Value| convert(v.as_array().unwrap()).unwrap_err().message;
        assert!(e(
            json!([{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}])
        )
        .contains("input_audio"));
        assert!(e(json!([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}]}]))
            .contains("image_url"));
        assert!(e(json!([{"role": "assistant", "tool_calls": [
            {"id": "t", "type": "function", "function": {"name": "f", "arguments": "[1]"}}]}]))
        .contains("arguments"));
        assert!(e(json!([{"role": "function", "name": "f", "content": "x"}])).contains("function"));
    }
}
