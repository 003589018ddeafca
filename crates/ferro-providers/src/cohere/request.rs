//! OpenAI chat request → Cohere v2 `/v2/chat` body. Pure.
//!
//! Built field by field: `max_tokens` / `max_completion_tokens` →
//! `max_tokens`; `stop` → `stop_sequences`; `top_p` → `p` and `top_k` → `k`
//! (clamped to Cohere's ranges), penalties clamped to 0..1; `tools` keep
//! OpenAI's shape (a `strict` function turns on `strict_tools`);
//! `tool_choice` `required` / `none` → `REQUIRED` / `NONE`, a named function
//! → `REQUIRED` with only that tool offered; `response_format` →
//! `{type: json_object, json_schema?}`; `reasoning_effort` → `thinking`.
//! Cohere's own top-level fields (`documents`, `citation_options`,
//! `safety_mode`, `strict_tools`, `priority`) pass through. Other OpenAI
//! parameters follow the matrix ([`crate::params::COHERE`]).
//!
//! Messages: system / developer → `system`; user text and `image_url` parts
//! kept; assistant `tool_calls` kept, their text becomes `tool_plan`; `tool`
//! messages keep `tool_call_id` and their text.

use crate::native::UnsupportedPolicy;
use crate::params;
use ferro_types::chat::ChatRequest;
use ferro_types::json::truncate;
use ferro_types::ApiError;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

const NATIVE_FIELDS: [&str; 5] = [
    "documents",
    "citation_options",
    "safety_mode",
    "strict_tools",
    "priority",
];

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::invalid_request(msg.into())
}

fn parse<T: serde::de::DeserializeOwned>(raw: &RawValue, key: &str) -> Result<T, ApiError> {
    serde_json::from_str(raw.get()).map_err(|_| bad(format!("invalid value for `{key}`")))
}

/// Text of OpenAI content (string, or the text of its parts).
fn text_of(content: Option<&Value>) -> String {
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

/// User content: a string, or text / image_url parts.
fn user_content(content: Option<&Value>, i: usize) -> Result<Value, ApiError> {
    match content {
        Some(Value::Array(parts)) => {
            let mut out = Vec::with_capacity(parts.len());
            for p in parts {
                match p.get("type").and_then(Value::as_str).unwrap_or("text") {
                    "text" => out.push(json!({"type": "text",
                        "text": p.get("text").and_then(Value::as_str).unwrap_or("")})),
                    "image_url" => {
                        let url = p
                            .pointer("/image_url/url")
                            .or_else(|| p.get("image_url"))
                            .and_then(Value::as_str)
                            .ok_or_else(|| {
                                bad(format!("messages[{i}]: image_url.url must be a string"))
                            })?;
                        let mut img = json!({"url": url});
                        if let Some(d) = p.pointer("/image_url/detail").and_then(Value::as_str) {
                            img["detail"] = json!(d);
                        }
                        out.push(json!({"type": "image_url", "image_url": img}));
                    }
                    other => {
                        return Err(bad(format!(
                            "messages[{i}]: content part `{}` is not supported by cohere",
                            truncate(other, 32)
                        )))
                    }
                }
            }
            Ok(Value::Array(out))
        }
        other => Ok(json!(text_of(other))),
    }
}

fn tool_calls(m: &Value, i: usize) -> Result<Option<Vec<Value>>, ApiError> {
    let Some(calls) = m.get("tool_calls").filter(|c| !c.is_null()) else {
        return Ok(None);
    };
    let calls = calls
        .as_array()
        .ok_or_else(|| bad(format!("messages[{i}].tool_calls must be an array")))?;
    let mut out = Vec::with_capacity(calls.len());
    for c in calls {
        let name = c
            .pointer("/function/name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("messages[{i}]: tool call without a function name")))?;
        let args = c
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .unwrap_or("{}");
        out.push(json!({
            "id": c.get("id").and_then(Value::as_str).unwrap_or(""),
            "type": "function",
            "function": {"name": name, "arguments": if args.is_empty() { "{}" } else { args }},
        }));
    }
    Ok((!out.is_empty()).then_some(out))
}

/// Converts the OpenAI `messages` array.
pub fn convert_messages(msgs: &[Value]) -> Result<Vec<Value>, ApiError> {
    let mut out = Vec::with_capacity(msgs.len());
    for (i, m) in msgs.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        let content = m.get("content");
        match role {
            "system" | "developer" => {
                out.push(json!({"role": "system", "content": text_of(content)}));
            }
            "user" => out.push(json!({"role": "user", "content": user_content(content, i)?})),
            "assistant" => {
                let text = text_of(content);
                let mut a = Map::new();
                a.insert("role".into(), json!("assistant"));
                match tool_calls(m, i)? {
                    Some(calls) => {
                        if !text.is_empty() {
                            a.insert("tool_plan".into(), json!(text));
                        }
                        a.insert("tool_calls".into(), Value::Array(calls));
                    }
                    None => {
                        a.insert("content".into(), json!(text));
                    }
                }
                out.push(Value::Object(a));
            }
            "tool" => {
                let id = m
                    .get("tool_call_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad(format!("messages[{i}].tool_call_id is required")))?;
                out.push(json!({"role": "tool", "tool_call_id": id, "content": text_of(content)}));
            }
            _ => {
                return Err(bad(format!(
                    "messages[{i}].role `{}` is not supported by cohere",
                    truncate(role, 32)
                )))
            }
        }
    }
    Ok(out)
}

/// OpenAI tools → Cohere tools (same shape, `strict` lifted to `strict_tools`).
fn convert_tools(raw: &RawValue) -> Result<(Vec<Value>, bool), ApiError> {
    let tools: Vec<Value> = parse(raw, "tools")?;
    let mut strict = false;
    let mut out = Vec::with_capacity(tools.len());
    for (i, t) in tools.iter().enumerate() {
        if t.get("type").and_then(Value::as_str).unwrap_or("function") != "function" {
            return Err(bad(format!("tools[{i}].type must be function for cohere")));
        }
        let f = t
            .get("function")
            .ok_or_else(|| bad(format!("tools[{i}].function is required")))?;
        let name = f
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("tools[{i}].function.name must be a string")))?;
        strict |= f.get("strict") == Some(&Value::Bool(true));
        let mut func = Map::new();
        func.insert("name".into(), json!(name));
        if let Some(d) = f.get("description").and_then(Value::as_str) {
            func.insert("description".into(), json!(d));
        }
        let params = match f.get("parameters") {
            Some(p @ Value::Object(_)) => p.clone(),
            _ => json!({"type": "object", "properties": {}}),
        };
        func.insert("parameters".into(), params);
        out.push(json!({"type": "function", "function": func}));
    }
    Ok((out, strict))
}

fn response_format(raw: &RawValue) -> Result<Option<Value>, ApiError> {
    let v: Value = parse(raw, "response_format")?;
    match v.get("type").and_then(Value::as_str).unwrap_or("") {
        "text" => Ok(None),
        "json_object" => Ok(Some(json!({"type": "json_object"}))),
        "json_schema" => {
            let mut rf = json!({"type": "json_object"});
            if let Some(s) = v.pointer("/json_schema/schema").filter(|s| s.is_object()) {
                rf["json_schema"] = s.clone();
            }
            Ok(Some(rf))
        }
        _ => Err(bad(
            "response_format.type must be text, json_object or json_schema",
        )),
    }
}

fn thinking(effort: &str) -> Result<Value, ApiError> {
    Ok(match effort {
        "none" | "minimal" => json!({"type": "disabled"}),
        "low" => json!({"type": "enabled", "token_budget": 1024}),
        "medium" => json!({"type": "enabled", "token_budget": 2048}),
        "high" => json!({"type": "enabled", "token_budget": 4096}),
        _ => {
            return Err(bad(
                "reasoning_effort must be one of none, minimal, low, medium, high",
            ))
        }
    })
}

/// Builds the `/v2/chat` body for `req`, sent for `model`.
pub fn build_body(
    req: &ChatRequest<'_>,
    model: &str,
    policy: UnsupportedPolicy,
) -> Result<Vec<u8>, ApiError> {
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    let mut tools: Option<Vec<Value>> = None;
    let mut named: Option<String> = None;
    let mut max_tokens: Option<u64> = None;
    for (key, raw) in req.obj.fields() {
        let key = key.as_ref();
        if raw.get() == "null" {
            continue;
        }
        match key {
            "model" | "stream_options" => {}
            "messages" => {
                let msgs: Vec<Value> = parse(raw, key)?;
                body.insert("messages".into(), Value::Array(convert_messages(&msgs)?));
            }
            "stream" => {
                if req.stream {
                    body.insert("stream".into(), json!(true));
                }
            }
            "max_tokens" | "max_completion_tokens" => {
                let n: u64 = parse(raw, key)?;
                if key == "max_completion_tokens" || max_tokens.is_none() {
                    max_tokens = Some(n);
                }
            }
            "temperature" | "seed" => {
                let v: Value = parse(raw, key)?;
                body.insert(key.into(), v);
            }
            "presence_penalty" | "frequency_penalty" => {
                let v: f64 = parse(raw, key)?;
                body.insert(key.into(), json!(v.clamp(0.0, 1.0)));
            }
            "top_p" => {
                let v: f64 = parse(raw, key)?;
                body.insert("p".into(), json!(v.clamp(0.01, 0.99)));
            }
            "top_k" => {
                let v: u64 = parse(raw, key)?;
                body.insert("k".into(), json!(v.min(500)));
            }
            "stop" => {
                let stops: Vec<String> = match parse::<Value>(raw, key)? {
                    Value::String(s) => vec![s],
                    v => serde_json::from_value(v)
                        .map_err(|_| bad("stop must be a string or an array of strings"))?,
                };
                let stops: Vec<String> = stops.into_iter().filter(|s| !s.is_empty()).collect();
                if !stops.is_empty() {
                    body.insert("stop_sequences".into(), json!(stops));
                }
            }
            "tools" => {
                let (t, strict) = convert_tools(raw)?;
                if strict {
                    body.insert("strict_tools".into(), json!(true));
                }
                tools = Some(t);
            }
            "tool_choice" => match parse::<Value>(raw, key)? {
                Value::String(s) => match s.as_str() {
                    "auto" => {}
                    "none" => {
                        body.insert("tool_choice".into(), json!("NONE"));
                    }
                    "required" => {
                        body.insert("tool_choice".into(), json!("REQUIRED"));
                    }
                    _ => {
                        return Err(bad(
                            "tool_choice must be auto, none, required or a function",
                        ))
                    }
                },
                v => {
                    let n = v
                        .pointer("/function/name")
                        .and_then(Value::as_str)
                        .ok_or_else(|| bad("tool_choice.function.name must be a string"))?;
                    named = Some(n.to_owned());
                    body.insert("tool_choice".into(), json!("REQUIRED"));
                }
            },
            "response_format" => {
                if let Some(rf) = response_format(raw)? {
                    body.insert("response_format".into(), rf);
                }
            }
            "reasoning_effort" => {
                let e: String = parse(raw, key)?;
                body.insert("thinking".into(), thinking(&e)?);
            }
            k if NATIVE_FIELDS.contains(&k) => {
                let v: Value = parse(raw, key)?;
                body.insert(k.to_owned(), v);
            }
            _ => {
                let v: Value = parse(raw, key)?;
                params::check_unmapped("cohere", params::COHERE, key, &v, policy)?;
            }
        }
    }
    if let Some(m) = max_tokens {
        body.insert("max_tokens".into(), json!(m));
    }
    if let Some(mut t) = tools {
        if let Some(n) = &named {
            t.retain(|x| x.pointer("/function/name").and_then(Value::as_str) == Some(n));
            if t.is_empty() {
                return Err(bad("tool_choice names a function that is not in tools"));
            }
        }
        body.insert("tools".into(), Value::Array(t));
    } else if named.is_some() {
        return Err(bad("tool_choice names a function but no tools were given"));
    }
    serde_json::to_vec(&Value::Object(body))
        .map_err(|_| bad("the request could not be encoded for cohere"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn assistant_text_with_tools_is_the_plan() {
        let msgs: Vec<Value> = serde_json::from_value(json!([
            {"role": "developer", "content": [{"type": "text", "text": "sys"}]},
            {"role": "assistant", "content": "let me look", "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}}]},
            {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "ok"}]}
        ]))
        .unwrap();
        let out = convert_messages(&msgs).unwrap();
        assert_eq!(out[0], json!({"role": "system", "content": "sys"}));
        assert_eq!(out[1]["tool_plan"], "let me look");
        assert_eq!(out[1]["tool_calls"][0]["function"]["arguments"], "{}");
        assert!(out[1].get("content").is_none());
        assert_eq!(
            out[2],
            json!({"role": "tool", "tool_call_id": "c1", "content": "ok"})
        );
        let bad_role: Vec<Value> =
            serde_json::from_value(json!([{"role": "function", "content": "x"}])).unwrap();
        assert!(convert_messages(&bad_role).is_err());
    }
}
