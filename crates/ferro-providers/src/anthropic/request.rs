//! OpenAI chat request → Messages API body. Pure: no I/O, no clock.
//!
//! The body is built field by field from the client's top-level fields, so
//! nothing the Messages API does not accept can slip through: unknown fields
//! are dropped, OpenAI parameters Anthropic lacks follow the policy (a value
//! equal to OpenAI's default, such as `n: 1` or `logprobs: false`, is not a use).

use super::{messages, support, JSON_TOOL};
use crate::native::{ModelFacts, ParamSupport, UnsupportedPolicy};
use ferro_types::chat::ChatRequest;
use ferro_types::json::truncate;
use ferro_types::{ApiError, ErrorType};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

/// `max_tokens` when neither the client nor the catalog gives one.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// Smallest thinking budget Anthropic accepts.
pub const MIN_THINKING_BUDGET: u64 = 1024;

/// Thinking budget per `reasoning_effort`.
pub fn effort_budget(effort: &str) -> Result<Option<u64>, ApiError> {
    match effort {
        "none" | "minimal" => Ok(None),
        "low" => Ok(Some(1024)),
        "medium" => Ok(Some(2048)),
        "high" => Ok(Some(4096)),
        _ => Err(bad(
            "reasoning_effort must be one of none, minimal, low, medium, high",
        )),
    }
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::invalid_request(msg.into())
}

fn parse<T: serde::de::DeserializeOwned>(raw: &RawValue, key: &str) -> Result<T, ApiError> {
    serde_json::from_str(raw.get()).map_err(|_| bad(format!("invalid value for `{key}`")))
}

/// An unsupported parameter whose value is OpenAI's default does nothing.
fn inert(key: &str, v: &Value) -> bool {
    match key {
        "n" => v.as_u64() == Some(1),
        "logprobs" | "store" => v == &Value::Bool(false),
        "presence_penalty" | "frequency_penalty" | "top_logprobs" => v.as_f64() == Some(0.0),
        "logit_bias" | "metadata" => v.as_object().is_some_and(Map::is_empty),
        "modalities" => v == &json!(["text"]),
        _ => false,
    }
}

fn unsupported(key: &str, policy: UnsupportedPolicy) -> Result<(), ApiError> {
    match policy {
        UnsupportedPolicy::Reject => Err(ApiError::new(
            400,
            ErrorType::InvalidRequestError,
            "unsupported_parameter",
            format!(
                "parameter `{}` is not supported by provider anthropic",
                truncate(key, 64)
            ),
        )),
        UnsupportedPolicy::Warn => {
            tracing::warn!(
                param = truncate(key, 64),
                "parameter not supported by provider anthropic; dropped"
            );
            Ok(())
        }
        UnsupportedPolicy::Drop => Ok(()),
    }
}

/// Client tools → Anthropic tools.
fn convert_tools(raw: &RawValue) -> Result<Vec<Value>, ApiError> {
    let tools: Vec<Value> = parse(raw, "tools")?;
    let mut out = Vec::with_capacity(tools.len() + 1);
    for (i, t) in tools.iter().enumerate() {
        let kind = t.get("type").and_then(Value::as_str).unwrap_or("function");
        if kind != "function" {
            return Err(bad(format!(
                "tools[{i}].type `{}` is not supported by anthropic",
                truncate(kind, 32)
            )));
        }
        let f = t
            .get("function")
            .ok_or_else(|| bad(format!("tools[{i}].function is required")))?;
        let name = f
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("tools[{i}].function.name must be a string")))?;
        let mut tool = Map::new();
        tool.insert("name".into(), json!(name));
        if let Some(d) = f.get("description").and_then(Value::as_str) {
            tool.insert("description".into(), json!(d));
        }
        let schema = match f.get("parameters") {
            Some(p @ Value::Object(_)) => p.clone(),
            _ => json!({"type": "object", "properties": {}}),
        };
        tool.insert("input_schema".into(), schema);
        if let Some(cc) = t.get("cache_control").filter(|c| c.is_object()) {
            tool.insert("cache_control".into(), cc.clone());
        }
        out.push(Value::Object(tool));
    }
    Ok(out)
}

/// The client's `tool_choice`, as an Anthropic choice without parallelism.
fn convert_tool_choice(raw: &RawValue) -> Result<Value, ApiError> {
    let v: Value = parse(raw, "tool_choice")?;
    match &v {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(json!({"type": "auto"})),
            "none" => Ok(json!({"type": "none"})),
            "required" => Ok(json!({"type": "any"})),
            _ => Err(bad(
                "tool_choice must be auto, none, required or a function",
            )),
        },
        Value::Object(_) => v
            .pointer("/function/name")
            .and_then(Value::as_str)
            .map(|n| json!({"type": "tool", "name": n}))
            .ok_or_else(|| bad("tool_choice.function.name must be a string")),
        _ => Err(bad(
            "tool_choice must be auto, none, required or a function",
        )),
    }
}

/// `response_format` → the JSON tool (None for `text`).
fn json_tool(raw: &RawValue) -> Result<Option<Value>, ApiError> {
    let v: Value = parse(raw, "response_format")?;
    let kind = v.get("type").and_then(Value::as_str).unwrap_or("");
    let (schema, description) = match kind {
        "text" => return Ok(None),
        "json_object" => (json!({"type": "object"}), None),
        "json_schema" => {
            let js = v
                .get("json_schema")
                .ok_or_else(|| bad("response_format.json_schema is required"))?;
            let schema = js
                .get("schema")
                .filter(|s| s.is_object())
                .cloned()
                .unwrap_or_else(|| json!({"type": "object"}));
            let d = js.get("description").and_then(Value::as_str);
            (schema, d.map(str::to_owned))
        }
        _ => {
            return Err(bad(
                "response_format.type must be text, json_object or json_schema",
            ))
        }
    };
    let description = description.unwrap_or_else(|| {
        "Give your final answer by calling this tool; its input is the answer, a JSON value matching the schema.".to_owned()
    });
    Ok(Some(json!({
        "name": JSON_TOOL,
        "description": description,
        "input_schema": schema,
    })))
}

/// What the top-level fields asked for, before assembly.
#[derive(Default)]
struct Params {
    max_tokens: Option<u64>,
    max_completion_tokens: Option<u64>,
    tools: Vec<Value>,
    tool_choice: Option<Value>,
    parallel: Option<bool>,
    json_tool: Option<Value>,
    effort: Option<u64>,
    thinking: Option<Value>,
}

/// Builds the Messages API body for `req`, sent for `model`.
pub fn build_body(
    req: &ChatRequest<'_>,
    model: &str,
    facts: ModelFacts,
    policy: UnsupportedPolicy,
) -> Result<Vec<u8>, ApiError> {
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    let mut p = Params::default();
    let mut system = None;
    for (key, raw) in req.obj.fields() {
        let key = key.as_ref();
        if raw.get() == "null" {
            continue;
        }
        match key {
            "model" | "stream_options" => {}
            "messages" => {
                let msgs: Vec<Value> = parse(raw, "messages")?;
                let c = messages::convert(&msgs)?;
                system = c.system;
                body.insert("messages".into(), Value::Array(c.messages));
            }
            "stream" => {
                if req.stream {
                    body.insert("stream".into(), json!(true));
                }
            }
            "max_tokens" => p.max_tokens = Some(parse(raw, key)?),
            "max_completion_tokens" => p.max_completion_tokens = Some(parse(raw, key)?),
            "stop" => {
                let v: Value = parse(raw, key)?;
                let stops: Vec<Value> = match v {
                    Value::String(s) => vec![Value::String(s)],
                    Value::Array(a) => a,
                    _ => return Err(bad("stop must be a string or an array of strings")),
                };
                let stops: Vec<Value> = stops
                    .into_iter()
                    .filter(|s| s.as_str().is_some_and(|s| !s.is_empty()))
                    .collect();
                if !stops.is_empty() {
                    body.insert("stop_sequences".into(), Value::Array(stops));
                }
            }
            "temperature" => {
                // OpenAI allows 0..2, Anthropic 0..1: clamp rather than fail.
                let t: f64 = parse(raw, key)?;
                let v: Value = if t > 1.0 {
                    json!(1.0)
                } else {
                    parse(raw, key)?
                };
                body.insert("temperature".into(), v);
            }
            "top_p" => {
                let v: f64 = parse(raw, key)?;
                body.insert("top_p".into(), json!(v));
            }
            "top_k" => {
                let v: u64 = parse(raw, key)?;
                body.insert("top_k".into(), json!(v));
            }
            "user" => {
                let u: String = parse(raw, key)?;
                body.insert("metadata".into(), json!({"user_id": u}));
            }
            "service_tier" => {
                let s: String = parse(raw, key)?;
                match s.as_str() {
                    "auto" => {
                        body.insert("service_tier".into(), json!("auto"));
                    }
                    "default" => {
                        body.insert("service_tier".into(), json!("standard_only"));
                    }
                    _ => unsupported(key, policy)?,
                }
            }
            "tools" => p.tools = convert_tools(raw)?,
            "tool_choice" => p.tool_choice = Some(convert_tool_choice(raw)?),
            "parallel_tool_calls" => p.parallel = Some(parse(raw, key)?),
            "response_format" => p.json_tool = json_tool(raw)?,
            "reasoning_effort" => {
                let e: String = parse(raw, key)?;
                p.effort = effort_budget(&e)?;
            }
            "thinking" => {
                let v: Value = parse(raw, key)?;
                if !v.is_object() {
                    return Err(bad("thinking must be an object"));
                }
                p.thinking = Some(v);
            }
            _ => {
                if support(key) == Some(ParamSupport::Unsupported) {
                    let v: Value = parse(raw, key)?;
                    if !inert(key, &v) {
                        unsupported(key, policy)?;
                    }
                }
                // Anything else is not an OpenAI parameter: never sent.
            }
        }
    }

    let client_max = p.max_completion_tokens.or(p.max_tokens);
    let mut max_tokens = client_max
        .or(facts.max_output_tokens)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    let thinking = match (p.thinking, p.effort) {
        (Some(t), _) => Some(t),
        (None, Some(budget)) => {
            let budget = if budget < max_tokens {
                budget
            } else {
                (max_tokens / 2).max(MIN_THINKING_BUDGET)
            };
            if budget >= max_tokens {
                return Err(bad(format!(
                    "reasoning_effort needs max_tokens above {MIN_THINKING_BUDGET} on anthropic"
                )));
            }
            Some(json!({"type": "enabled", "budget_tokens": budget}))
        }
        (None, None) => None,
    };
    let thinking_on = thinking
        .as_ref()
        .is_some_and(|t| t.get("type").and_then(Value::as_str) == Some("enabled"));
    if let Some(t) = thinking {
        body.insert("thinking".into(), t);
    }
    max_tokens = max_tokens.max(1);
    body.insert("max_tokens".into(), json!(max_tokens));

    let mut tools = p.tools;
    let mut choice = p.tool_choice;
    if let Some(jt) = p.json_tool {
        let user_none = choice.as_ref().and_then(|c| c.get("type")) == Some(&json!("none"));
        if user_none {
            tools.clear();
        }
        let named = choice.as_ref().and_then(|c| c.get("type")) == Some(&json!("tool"));
        choice = Some(if thinking_on {
            // Anthropic refuses forced tool use with thinking: ask in words.
            let hint = format!("Give your final answer by calling the `{JSON_TOOL}` tool.");
            system = Some(match system {
                None => Value::String(hint),
                Some(Value::String(s)) => Value::String(format!("{s}\n\n{hint}")),
                Some(Value::Array(mut blocks)) => {
                    blocks.push(json!({"type": "text", "text": hint}));
                    Value::Array(blocks)
                }
                Some(other) => other,
            });
            json!({"type": "auto"})
        } else if named {
            choice.unwrap_or_else(|| json!({"type": "any"}))
        } else if tools.is_empty() {
            json!({"type": "tool", "name": JSON_TOOL})
        } else {
            json!({"type": "any"})
        });
        tools.push(jt);
    }
    if !tools.is_empty() {
        let mut c = choice.unwrap_or_else(|| json!({"type": "auto"}));
        let kind = c.get("type").and_then(Value::as_str).unwrap_or("");
        if p.parallel == Some(false) && kind != "none" {
            if let Some(o) = c.as_object_mut() {
                o.insert("disable_parallel_tool_use".into(), json!(true));
            }
        }
        body.insert("tools".into(), Value::Array(tools));
        body.insert("tool_choice".into(), c);
    }
    if let Some(s) = system {
        body.insert("system".into(), s);
    }
    let empty = body
        .get("messages")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    if empty {
        return Err(bad(
            "anthropic needs at least one user or assistant message with content",
        ));
    }
    serde_json::to_vec(&Value::Object(body))
        .map_err(|_| bad("the request could not be encoded for anthropic"))
}
