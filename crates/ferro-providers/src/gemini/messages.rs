//! OpenAI chat `messages` → Gemini `systemInstruction` + `contents`. Pure.
//!
//! System and developer messages become `systemInstruction` parts; user →
//! `user`, assistant → `model`; assistant `tool_calls` → `functionCall` parts;
//! tool (and legacy function) messages → `functionResponse` parts named through
//! the matching tool-call id. Consecutive turns of one role are merged, which
//! also puts parallel function responses in one turn as Gemini wants. Media:
//! data URLs → `inlineData`; http, https and gs URLs → `fileData`.

use super::request::{bad, parse};
use ferro_types::ApiError;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

#[derive(Deserialize)]
struct MessageIn {
    role: String,
    #[serde(default)]
    content: Option<Value>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCallIn>>,
    #[serde(default)]
    tool_call_id: Option<String>,
}

#[derive(Deserialize)]
struct ToolCallIn {
    id: String,
    function: FunctionIn,
}

#[derive(Deserialize)]
struct FunctionIn {
    name: String,
    #[serde(default)]
    arguments: Option<String>,
}

/// `contents` under construction: consecutive turns of one role are merged,
/// which also puts parallel function responses in one turn as Gemini wants.
#[derive(Default)]
struct Contents(Vec<Value>);

impl Contents {
    fn push(&mut self, role: &str, parts: Vec<Value>) {
        if parts.is_empty() {
            return;
        }
        if let Some(last) = self.0.last_mut() {
            if last["role"] == role {
                if let Some(p) = last["parts"].as_array_mut() {
                    p.extend(parts);
                    return;
                }
            }
        }
        self.0.push(json!({"role": role, "parts": parts}));
    }
}

/// Text of a content value (string or array of text parts), for system and tool turns.
fn plain_text(content: Option<&Value>) -> String {
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

/// MIME type from a URL's file extension, when it is a common media type.
fn guess_mime(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let ext = path.rsplit('.').next()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "pdf" => "application/pdf",
        "mp3" => "audio/mp3",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        _ => return None,
    })
}

/// A media reference → an `inlineData` or `fileData` part.
fn media_part(url: &str) -> Result<Value, ApiError> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest
            .split_once(',')
            .ok_or_else(|| bad("image data URL is malformed"))?;
        let mime = meta
            .strip_suffix(";base64")
            .ok_or_else(|| bad("image data URLs must be base64-encoded"))?;
        let mime = if mime.is_empty() {
            "application/octet-stream"
        } else {
            mime
        };
        return Ok(json!({"inlineData": {"mimeType": mime, "data": data}}));
    }
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if !(lower.starts_with("http://")
        || lower.starts_with("https://")
        || lower.starts_with("gs://"))
    {
        return Err(bad("image_url must be a data URL or an http(s) URL"));
    }
    let mut fd = Map::new();
    if let Some(m) = guess_mime(url) {
        fd.insert("mimeType".into(), m.into());
    }
    fd.insert("fileUri".into(), url.into());
    Ok(json!({ "fileData": fd }))
}

/// User content → Gemini parts.
fn user_parts(content: Option<&Value>) -> Result<Vec<Value>, ApiError> {
    let mut out = Vec::new();
    match content {
        Some(Value::String(s)) if !s.is_empty() => out.push(json!({"text": s})),
        Some(Value::Array(parts)) => {
            for p in parts {
                match p.get("type").and_then(Value::as_str).unwrap_or("") {
                    "text" => {
                        if let Some(t) = p.get("text").and_then(Value::as_str) {
                            if !t.is_empty() {
                                out.push(json!({"text": t}));
                            }
                        }
                    }
                    "image_url" => {
                        let iu = &p["image_url"];
                        let url = iu
                            .get("url")
                            .and_then(Value::as_str)
                            .or_else(|| iu.as_str())
                            .ok_or_else(|| bad("image_url part needs a url"))?;
                        out.push(media_part(url)?);
                    }
                    "input_audio" => {
                        let a = &p["input_audio"];
                        let data = a
                            .get("data")
                            .and_then(Value::as_str)
                            .ok_or_else(|| bad("input_audio part needs data"))?;
                        let fmt = a.get("format").and_then(Value::as_str).unwrap_or("wav");
                        out.push(json!({"inlineData": {"mimeType": format!("audio/{fmt}"), "data": data}}));
                    }
                    "file" => {
                        let data = p["file"]
                            .get("file_data")
                            .and_then(Value::as_str)
                            .ok_or_else(|| bad("file parts need file_data (a data URL)"))?;
                        out.push(media_part(data)?);
                    }
                    other => {
                        return Err(bad(format!(
                            "content part type `{}` is not supported by the Gemini API",
                            ferro_types::chat::excerpt(other)
                        )))
                    }
                }
            }
        }
        _ => {}
    }
    Ok(out)
}

/// A tool result → the `response` object of a `functionResponse` (an object
/// result is sent as is, anything else as `{"content": text}`).
fn tool_response(content: Option<&Value>) -> Value {
    let text = plain_text(content);
    match serde_json::from_str::<Value>(&text) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({ "content": text }),
    }
}

/// `(systemInstruction parts, contents)` of a `messages` array.
pub(crate) fn translate(raw: &RawValue) -> Result<(Vec<Value>, Vec<Value>), ApiError> {
    let msgs: Vec<MessageIn> = parse(raw, "messages")?;
    let mut names: HashMap<String, String> = HashMap::new();
    let mut system = Vec::new();
    let mut contents = Contents::default();
    for m in &msgs {
        match m.role.as_str() {
            "system" | "developer" => {
                let t = plain_text(m.content.as_ref());
                if !t.is_empty() {
                    system.push(json!({ "text": t }));
                }
            }
            "user" => contents.push("user", user_parts(m.content.as_ref())?),
            "assistant" => {
                let mut parts = Vec::new();
                let t = plain_text(m.content.as_ref());
                if !t.is_empty() {
                    parts.push(json!({ "text": t }));
                }
                for tc in m.tool_calls.iter().flatten() {
                    names.insert(tc.id.clone(), tc.function.name.clone());
                    let args = tc.function.arguments.as_deref().unwrap_or("");
                    let args: Value = if args.trim().is_empty() {
                        json!({})
                    } else {
                        serde_json::from_str(args).map_err(|_| {
                            bad("assistant tool_calls arguments must be a JSON object")
                        })?
                    };
                    if !args.is_object() {
                        return Err(bad("assistant tool_calls arguments must be a JSON object"));
                    }
                    parts.push(json!({"functionCall": {"name": tc.function.name, "args": args}}));
                }
                contents.push("model", parts);
            }
            "tool" | "function" => {
                let name = m
                    .tool_call_id
                    .as_ref()
                    .and_then(|id| names.get(id).cloned())
                    .or_else(|| m.name.clone())
                    .ok_or_else(|| {
                        bad("tool message does not match any earlier assistant tool call")
                    })?;
                let part = json!({"functionResponse": {
                    "name": name,
                    "response": tool_response(m.content.as_ref()),
                }});
                contents.push("user", vec![part]);
            }
            other => {
                return Err(bad(format!(
                    "role `{}` is not supported",
                    ferro_types::chat::excerpt(other)
                )))
            }
        }
    }
    Ok((system, contents.0))
}
