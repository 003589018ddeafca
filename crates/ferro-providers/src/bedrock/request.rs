//! OpenAI chat request → Converse / ConverseStream body. Pure.
//!
//! Built field by field, so only what Converse accepts is sent:
//! `max_tokens` / `max_completion_tokens`, `temperature`, `top_p`, `stop` →
//! `inferenceConfig`; `tools` / `tool_choice` → `toolConfig` (`required` →
//! `any`, a named function → `tool`, `none` → no tools unless the history
//! holds tool blocks, which Converse then needs declared); `response_format`
//! → a forced JSON tool (as the Anthropic adapter does); `reasoning_effort` /
//! `thinking` / `top_k` → `additionalModelRequestFields` for the families that
//! take them. Converse's own top-level fields (`guardrailConfig`,
//! `additionalModelRequestFields`, `performanceConfig`, `requestMetadata`,
//! `promptVariables`, `additionalModelResponseFieldPaths`) pass through; a
//! client `additionalModelRequestFields` wins key by key over the gateway's.
//! Other OpenAI parameters follow the matrix ([`crate::params::BEDROCK`]).

use super::{family, messages, Family, JSON_TOOL};
use crate::native::{ModelFacts, UnsupportedPolicy};
use crate::params;
use ferro_types::chat::ChatRequest;
use ferro_types::ApiError;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

/// `maxTokens` when thinking needs one and neither client nor catalog gives it.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// Converse top-level fields a client may send as they are.
const NATIVE_FIELDS: [&str; 6] = [
    "additionalModelRequestFields",
    "additionalModelResponseFieldPaths",
    "guardrailConfig",
    "performanceConfig",
    "promptVariables",
    "requestMetadata",
];

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::invalid_request(msg.into())
}

fn parse<T: serde::de::DeserializeOwned>(raw: &RawValue, key: &str) -> Result<T, ApiError> {
    serde_json::from_str(raw.get()).map_err(|_| bad(format!("invalid value for `{key}`")))
}

fn tool_spec(t: &Value, i: usize) -> Result<Vec<Value>, ApiError> {
    let kind = t.get("type").and_then(Value::as_str).unwrap_or("function");
    if kind != "function" {
        return Err(bad(format!("tools[{i}].type must be function for bedrock")));
    }
    let f = t
        .get("function")
        .ok_or_else(|| bad(format!("tools[{i}].function is required")))?;
    let name = f
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(format!("tools[{i}].function.name must be a string")))?;
    let mut spec = Map::new();
    spec.insert("name".into(), json!(name));
    if let Some(d) = f.get("description").and_then(Value::as_str) {
        spec.insert("description".into(), json!(d));
    }
    let schema = match f.get("parameters") {
        Some(p @ Value::Object(_)) => p.clone(),
        _ => json!({"type": "object", "properties": {}}),
    };
    spec.insert("inputSchema".into(), json!({"json": schema}));
    let mut out = vec![json!({"toolSpec": spec})];
    if t.get("cache_control").is_some_and(Value::is_object) {
        out.push(json!({"cachePoint": {"type": "default"}}));
    }
    Ok(out)
}

/// What `tool_choice` asked for.
#[derive(Debug, Clone, PartialEq)]
enum Choice {
    Auto,
    None,
    Any,
    Tool(String),
}

fn tool_choice(raw: &RawValue) -> Result<Choice, ApiError> {
    let v: Value = parse(raw, "tool_choice")?;
    match &v {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(Choice::Auto),
            "none" => Ok(Choice::None),
            "required" => Ok(Choice::Any),
            _ => Err(bad(
                "tool_choice must be auto, none, required or a function",
            )),
        },
        Value::Object(_) => v
            .pointer("/function/name")
            .and_then(Value::as_str)
            .map(|n| Choice::Tool(n.to_owned()))
            .ok_or_else(|| bad("tool_choice.function.name must be a string")),
        _ => Err(bad(
            "tool_choice must be auto, none, required or a function",
        )),
    }
}

fn choice_json(c: &Choice) -> Option<Value> {
    match c {
        Choice::Auto => Some(json!({"auto": {}})),
        Choice::Any => Some(json!({"any": {}})),
        Choice::Tool(n) => Some(json!({"tool": {"name": n}})),
        Choice::None => None,
    }
}

/// `response_format` → the JSON tool's spec (None for `text`).
fn json_tool(raw: &RawValue) -> Result<Option<Value>, ApiError> {
    let v: Value = parse(raw, "response_format")?;
    let schema = match v.get("type").and_then(Value::as_str).unwrap_or("") {
        "text" => return Ok(None),
        "json_object" => json!({"type": "object"}),
        "json_schema" => v
            .pointer("/json_schema/schema")
            .filter(|s| s.is_object())
            .cloned()
            .unwrap_or_else(|| json!({"type": "object"})),
        _ => {
            return Err(bad(
                "response_format.type must be text, json_object or json_schema",
            ))
        }
    };
    Ok(Some(json!({"toolSpec": {
        "name": JSON_TOOL,
        "description": "Give your final answer by calling this tool; its input is the answer, a JSON value matching the schema.",
        "inputSchema": {"json": schema},
    }})))
}

fn effort_budget(effort: &str) -> Result<Option<u64>, ApiError> {
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

#[derive(Default)]
struct Params {
    max_tokens: Option<u64>,
    tools: Vec<Value>,
    choice: Option<Choice>,
    json_tool: Option<Value>,
    budget: Option<u64>,
    thinking: Option<Value>,
    extra: Map<String, Value>,
}

/// Builds the Converse body of `req` for `model`.
pub fn build_body(
    req: &ChatRequest<'_>,
    model: &str,
    facts: ModelFacts,
    policy: UnsupportedPolicy,
) -> Result<Vec<u8>, ApiError> {
    let fam = family(model);
    let mut body = Map::new();
    let mut inference = Map::new();
    let mut p = Params::default();
    let mut conv = messages::Converted::default();
    let mut client_extra: Option<Map<String, Value>> = None;
    for (key, raw) in req.obj.fields() {
        let key = key.as_ref();
        if raw.get() == "null" {
            continue;
        }
        match key {
            "model" | "stream" | "stream_options" => {}
            "messages" => {
                let msgs: Vec<Value> = parse(raw, key)?;
                conv = messages::convert(&msgs)?;
            }
            "max_tokens" | "max_completion_tokens" => {
                let n: u64 = parse(raw, key)?;
                if key == "max_completion_tokens" || p.max_tokens.is_none() {
                    p.max_tokens = Some(n);
                }
            }
            "temperature" => {
                let t: f64 = parse(raw, key)?;
                // Bedrock's families take 0..1 where OpenAI allows 0..2 (the
                // open-weight OpenAI models excepted): clamp, do not fail.
                let t = if matches!(fam, Family::OpenAi | Family::Other) {
                    t
                } else {
                    t.min(1.0)
                };
                inference.insert("temperature".into(), json!(t));
            }
            "top_p" => {
                let v: f64 = parse(raw, key)?;
                inference.insert("topP".into(), json!(v));
            }
            "stop" => {
                let stops: Vec<String> = match parse::<Value>(raw, key)? {
                    Value::String(s) => vec![s],
                    v => serde_json::from_value(v)
                        .map_err(|_| bad("stop must be a string or an array of strings"))?,
                };
                let stops: Vec<String> = stops.into_iter().filter(|s| !s.is_empty()).collect();
                if !stops.is_empty() {
                    inference.insert("stopSequences".into(), json!(stops));
                }
            }
            "tools" => {
                let tools: Vec<Value> = parse(raw, key)?;
                for (i, t) in tools.iter().enumerate() {
                    p.tools.extend(tool_spec(t, i)?);
                }
            }
            "tool_choice" => p.choice = Some(tool_choice(raw)?),
            "response_format" => p.json_tool = json_tool(raw)?,
            "reasoning_effort" => {
                let e: String = parse(raw, key)?;
                match fam {
                    Family::Anthropic => p.budget = effort_budget(&e)?,
                    Family::OpenAi => {
                        p.extra.insert("reasoning_effort".into(), json!(e));
                    }
                    _ => params::enforce("bedrock", key, policy)?,
                }
            }
            "thinking" if fam == Family::Anthropic => {
                let v: Value = parse(raw, key)?;
                if !v.is_object() {
                    return Err(bad("thinking must be an object"));
                }
                p.thinking = Some(v);
            }
            "top_k" => {
                let k: u64 = parse(raw, key)?;
                match fam {
                    Family::Anthropic => {
                        p.extra.insert("top_k".into(), json!(k));
                    }
                    Family::Nova => {
                        p.extra.insert("inferenceConfig".into(), json!({"topK": k}));
                    }
                    _ => {}
                }
            }
            "additionalModelRequestFields" => {
                let v: Value = parse(raw, key)?;
                match v {
                    Value::Object(o) => client_extra = Some(o),
                    _ => return Err(bad("additionalModelRequestFields must be an object")),
                }
            }
            k if NATIVE_FIELDS.contains(&k) => {
                let v: Value = parse(raw, key)?;
                body.insert(k.to_owned(), v);
            }
            _ => {
                let v: Value = parse(raw, key)?;
                params::check_unmapped("bedrock", params::BEDROCK, key, &v, policy)?;
            }
        }
    }

    // Extended thinking (Claude): a budget below maxTokens.
    let thinking = match (p.thinking.take(), p.budget) {
        (Some(t), _) => Some(t),
        (None, Some(budget)) => {
            let max = p
                .max_tokens
                .or(facts.max_output_tokens)
                .unwrap_or(DEFAULT_MAX_TOKENS);
            let budget = if budget < max {
                budget
            } else {
                (max / 2).max(1024)
            };
            if budget >= max {
                return Err(bad(
                    "reasoning_effort needs max_tokens above 1024 on this bedrock model",
                ));
            }
            p.max_tokens = Some(max);
            Some(json!({"type": "enabled", "budget_tokens": budget}))
        }
        (None, None) => None,
    };
    let thinking_on = thinking
        .as_ref()
        .is_some_and(|t| t.get("type").and_then(Value::as_str) == Some("enabled"));
    if let Some(t) = thinking {
        p.extra.insert("thinking".into(), t);
    }
    if let Some(m) = p.max_tokens {
        inference.insert("maxTokens".into(), json!(m.max(1)));
    }

    // Tools, the JSON tool and the choice.
    let mut tools = p.tools;
    let mut choice = p.choice.clone();
    if let Some(jt) = p.json_tool {
        if choice == Some(Choice::None) {
            tools.clear();
        }
        choice = Some(if thinking_on {
            conv.system.push(json!({"text": format!(
                "Give your final answer by calling the `{JSON_TOOL}` tool."
            )}));
            Choice::Auto
        } else if matches!(choice, Some(Choice::Tool(_))) {
            choice.unwrap_or(Choice::Any)
        } else if tools.is_empty() {
            Choice::Tool(JSON_TOOL.to_owned())
        } else {
            Choice::Any
        });
        tools.push(jt);
    }
    if choice == Some(Choice::None) && !conv.has_tool_blocks {
        tools.clear();
    }
    if !tools.is_empty() {
        let mut tc = Map::new();
        tc.insert("tools".into(), Value::Array(tools));
        if let Some(c) = choice.as_ref().and_then(choice_json) {
            tc.insert("toolChoice".into(), c);
        }
        body.insert("toolConfig".into(), Value::Object(tc));
    }

    if conv.messages.is_empty() {
        return Err(bad(
            "bedrock needs at least one user or assistant message with content",
        ));
    }
    body.insert("messages".into(), Value::Array(conv.messages));
    if !conv.system.is_empty() {
        body.insert("system".into(), Value::Array(conv.system));
    }
    if !inference.is_empty() {
        body.insert("inferenceConfig".into(), Value::Object(inference));
    }
    let mut extra = p.extra;
    if let Some(c) = client_extra {
        extra.extend(c);
    }
    if !extra.is_empty() {
        body.insert("additionalModelRequestFields".into(), Value::Object(extra));
    }
    serde_json::to_vec(&Value::Object(body))
        .map_err(|_| bad("the request could not be encoded for bedrock"))
}
