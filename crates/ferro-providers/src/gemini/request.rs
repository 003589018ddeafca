//! OpenAI chat request → Gemini `GenerateContentRequest` body. Pure: only the
//! fields `generateContent` accepts are written; OpenAI parameters Gemini cannot
//! express follow the [`UnsupportedPolicy`].
//!
//! Mapping: `messages` → `systemInstruction` + `contents` (see
//! [`super::messages`]); sampling fields → `generationConfig`; `response_format`
//! → `responseMimeType` / `responseSchema` (see [`super::schema`]);
//! `reasoning_effort` → `thinkingConfig`; `tools` → `functionDeclarations`;
//! `tool_choice` → `toolConfig.functionCallingConfig`.

use super::schema;
use crate::native::{ParamSupport, UnsupportedPolicy};
use crate::params;
use ferro_types::chat::ChatRequest;
use ferro_types::{ApiError, ErrorType};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use ParamSupport::{Forward, Translate, Unsupported};

/// How each OpenAI chat parameter reaches the Gemini wire (the Gemini and
/// Vertex AI row of the compatibility matrix, [`crate::params`]). Parameters
/// not listed are not OpenAI parameters and are never sent; the two Gemini
/// fields at the end are passed through under their native names.
pub const PARAMS: &[(&str, ParamSupport)] = &[
    ("model", Translate),
    ("messages", Translate),
    ("stream", Translate),
    ("stream_options", Translate),
    ("temperature", Translate),
    ("top_p", Translate),
    ("top_k", Translate),
    ("max_tokens", Translate),
    ("max_completion_tokens", Translate),
    ("stop", Translate),
    ("n", Translate),
    ("presence_penalty", Translate),
    ("frequency_penalty", Translate),
    ("seed", Translate),
    ("response_format", Translate),
    ("tools", Translate),
    ("tool_choice", Translate),
    ("reasoning_effort", Translate),
    ("logprobs", Unsupported),
    ("top_logprobs", Unsupported),
    ("logit_bias", Unsupported),
    ("user", Unsupported),
    ("parallel_tool_calls", Unsupported),
    ("audio", Unsupported),
    ("modalities", Unsupported),
    ("prediction", Unsupported),
    ("web_search_options", Unsupported),
    ("functions", Unsupported),
    ("function_call", Unsupported),
    ("store", Unsupported),
    ("metadata", Unsupported),
    ("service_tier", Unsupported),
    ("verbosity", Unsupported),
    ("safetySettings", Forward),
    ("cachedContent", Forward),
];

/// How the Gemini wire treats `param` (`GET /v1/capabilities`).
pub fn param_support(param: &str) -> ParamSupport {
    params::lookup(PARAMS, param).unwrap_or(Unsupported)
}

pub(crate) fn bad(msg: impl Into<std::borrow::Cow<'static, str>>) -> ApiError {
    ApiError::invalid_request(msg)
}

pub(crate) fn parse<'a, T: Deserialize<'a>>(raw: &'a RawValue, what: &str) -> Result<T, ApiError> {
    serde_json::from_str(raw.get()).map_err(|_| bad(format!("`{what}` has an invalid shape")))
}

fn translate_tools(
    raw: &RawValue,
    provider: &str,
    policy: UnsupportedPolicy,
) -> Result<Vec<Value>, ApiError> {
    let tools: Vec<Value> = parse(raw, "tools")?;
    let mut decls = Vec::with_capacity(tools.len());
    for t in &tools {
        if t.get("type").and_then(Value::as_str) != Some("function") {
            params::enforce(provider, "tools[].type", policy)?;
            continue;
        }
        let f = &t["function"];
        let name = f
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("tools[].function.name is required"))?;
        let mut d = Map::new();
        d.insert("name".into(), name.into());
        if let Some(desc) = f.get("description").and_then(Value::as_str) {
            d.insert("description".into(), desc.into());
        }
        if let Some(p) = f.get("parameters") {
            let s = schema::sanitize(p);
            if !schema::is_empty_object(&s) {
                d.insert("parameters".into(), s);
            }
        }
        decls.push(Value::Object(d));
    }
    if decls.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![json!({ "functionDeclarations": decls })])
}

fn translate_tool_choice(raw: &RawValue) -> Result<Value, ApiError> {
    let v: Value = parse(raw, "tool_choice")?;
    let cfg = match &v {
        Value::String(s) => match s.as_str() {
            "auto" => json!({"mode": "AUTO"}),
            "none" => json!({"mode": "NONE"}),
            "required" => json!({"mode": "ANY"}),
            _ => {
                return Err(bad(
                    "tool_choice must be auto, none, required or a function",
                ))
            }
        },
        Value::Object(o) => {
            let name = o
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(|| bad("tool_choice.function.name is required"))?;
            json!({"mode": "ANY", "allowedFunctionNames": [name]})
        }
        _ => return Err(bad("tool_choice has an invalid shape")),
    };
    Ok(json!({ "functionCallingConfig": cfg }))
}

fn response_format(raw: &RawValue, gc: &mut Map<String, Value>) -> Result<(), ApiError> {
    let v: Value = parse(raw, "response_format")?;
    match v.get("type").and_then(Value::as_str) {
        Some("text") => {}
        Some("json_object") => {
            gc.insert("responseMimeType".into(), "application/json".into());
        }
        Some("json_schema") => {
            gc.insert("responseMimeType".into(), "application/json".into());
            if let Some(s) = v.get("json_schema").and_then(|j| j.get("schema")) {
                gc.insert("responseSchema".into(), schema::sanitize(s));
            }
        }
        _ => {
            return Err(bad(
                "response_format.type must be text, json_object or json_schema",
            ))
        }
    }
    Ok(())
}

/// `reasoning_effort` → a thinking budget (tokens); thoughts are returned as
/// `reasoning_content` whenever thinking is on.
fn thinking(raw: &RawValue) -> Result<Value, ApiError> {
    let effort: String = parse(raw, "reasoning_effort")?;
    let budget = match effort.as_str() {
        "none" | "minimal" => 0,
        "low" => 1024,
        "medium" => 8192,
        "high" => 24576,
        _ => return Err(bad("reasoning_effort must be minimal, low, medium or high")),
    };
    Ok(if budget == 0 {
        json!({ "thinkingBudget": 0 })
    } else {
        json!({ "thinkingBudget": budget, "includeThoughts": true })
    })
}

/// The `generateContent` body for `req`; `provider` names the provider type
/// (`gemini`, `vertex-ai`) in policy messages.
pub fn chat_body(
    req: &ChatRequest<'_>,
    provider: &str,
    policy: UnsupportedPolicy,
) -> Result<Vec<u8>, ApiError> {
    let mut body = Map::new();
    let mut gc = Map::new();
    let mut max_tokens: Option<&RawValue> = None;
    let mut tool_config = None;
    for (key, raw) in req.obj.fields() {
        let key: &str = key;
        if raw.get() == "null" {
            continue;
        }
        match key {
            "model" | "stream" | "stream_options" => {}
            "messages" => {
                let (system, contents) = super::messages::translate(raw)?;
                if !system.is_empty() {
                    body.insert("systemInstruction".into(), json!({ "parts": system }));
                }
                body.insert("contents".into(), Value::Array(contents));
            }
            "temperature" | "top_p" | "presence_penalty" | "frequency_penalty" | "seed"
            | "top_k" => {
                let name = match key {
                    "temperature" => "temperature",
                    "top_p" => "topP",
                    "presence_penalty" => "presencePenalty",
                    "frequency_penalty" => "frequencyPenalty",
                    "seed" => "seed",
                    _ => "topK",
                };
                gc.insert(name.into(), parse::<Value>(raw, key)?);
            }
            "max_completion_tokens" => max_tokens = Some(raw),
            "max_tokens" => {
                max_tokens = max_tokens.or(Some(raw));
            }
            "n" => {
                gc.insert("candidateCount".into(), parse::<Value>(raw, key)?);
            }
            "stop" => {
                let stops: Vec<String> = match parse::<Value>(raw, key)? {
                    Value::String(s) => vec![s],
                    v => serde_json::from_value(v).map_err(|_| bad("stop has an invalid shape"))?,
                };
                if !stops.is_empty() {
                    gc.insert("stopSequences".into(), json!(stops));
                }
            }
            "response_format" => response_format(raw, &mut gc)?,
            "reasoning_effort" => {
                gc.insert("thinkingConfig".into(), thinking(raw)?);
            }
            "tools" => {
                let tools = translate_tools(raw, provider, policy)?;
                if !tools.is_empty() {
                    body.insert("tools".into(), Value::Array(tools));
                }
            }
            "tool_choice" => tool_config = Some(translate_tool_choice(raw)?),
            "safetySettings" | "cachedContent" => {
                body.insert(key.into(), parse::<Value>(raw, key)?);
            }
            _ => {
                let v: Value = parse(raw, key)?;
                params::check_unmapped(provider, PARAMS, key, &v, policy)?;
            }
        }
    }
    if let Some(mt) = max_tokens {
        gc.insert("maxOutputTokens".into(), parse::<Value>(mt, "max_tokens")?);
    }
    // Gemini refuses a function-calling config without declarations.
    if let Some(tc) = tool_config.filter(|_| body.contains_key("tools")) {
        body.insert("toolConfig".into(), tc);
    }
    if !gc.is_empty() {
        body.insert("generationConfig".into(), Value::Object(gc));
    }
    serde_json::to_vec(&Value::Object(body)).map_err(|e| {
        ApiError::new(
            500,
            ErrorType::ServerError,
            "internal_error",
            format!("could not encode the upstream request: {e}"),
        )
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn body(v: Value, policy: UnsupportedPolicy) -> Result<Value, ApiError> {
        let s = v.to_string();
        let r = ChatRequest::parse(s.as_bytes()).unwrap();
        chat_body(&r, "gemini", policy).map(|b| serde_json::from_slice(&b).unwrap())
    }

    #[test]
    fn policy_and_noops() {
        let req = json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
                         "logit_bias": {"1": 2}, "parallel_tool_calls": true, "n": 1});
        let e = body(req.clone(), UnsupportedPolicy::Reject).unwrap_err();
        assert_eq!(e.code, "unsupported_parameter");
        assert!(e.message.contains("logit_bias"));
        let b = body(req, UnsupportedPolicy::Drop).unwrap();
        assert_eq!(b["generationConfig"]["candidateCount"], 1);
        assert!(b.get("logit_bias").is_none());
    }

    #[test]
    fn tool_message_needs_a_matching_call() {
        let req = json!({"model": "m", "messages": [
            {"role": "user", "content": "x"},
            {"role": "tool", "tool_call_id": "nope", "content": "1"}]});
        assert!(body(req, UnsupportedPolicy::Warn).is_err());
    }

    #[test]
    fn max_completion_tokens_wins() {
        let req = json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
                         "max_completion_tokens": 5, "max_tokens": 9});
        let b = body(req, UnsupportedPolicy::Warn).unwrap();
        assert_eq!(b["generationConfig"]["maxOutputTokens"], 5);
    }
}
