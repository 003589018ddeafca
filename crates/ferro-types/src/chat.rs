//! Request views: parse only what routing and validation need, keep the body.
//!
//! Every view holds the request's top-level fields as raw JSON (see
//! [`JsonObject`]); nothing the gateway does not interpret is re-encoded.

use crate::error::ApiError;
use crate::json::{self, truncate, JsonObject};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// Roles accepted in chat messages.
pub const ROLES: [&str; 6] = [
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
];

/// Parses and validates a JSON body into its top-level object (strict JSON).
pub fn parse_object(body: &[u8]) -> Result<JsonObject<'_>, ApiError> {
    if body.is_empty() {
        return Err(ApiError::invalid_request("request body is empty"));
    }
    json::validate_strict(body)
        .map_err(|e| ApiError::invalid_request(format!("invalid JSON body: {e}")))?;
    JsonObject::parse(body).map_err(|e| ApiError::invalid_request(e.0))
}

/// Checks a model id: non-empty, printable, no whitespace, `?`, `#` or `..` segment.
pub fn validate_model(model: &str) -> Result<(), ApiError> {
    if model.is_empty() {
        return Err(ApiError::invalid_request("model is required"));
    }
    if model.len() > 256 {
        return Err(ApiError::invalid_request("model id is too long"));
    }
    let bad_char = model
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '?' || c == '#' || c == '\\');
    let bad_segment = model.split('/').any(|s| s == ".." || s == ".");
    if bad_char || bad_segment {
        return Err(ApiError::invalid_request(
            "model contains invalid characters",
        ));
    }
    Ok(())
}

fn read_model<'a>(obj: &JsonObject<'a>) -> Result<Cow<'a, str>, ApiError> {
    let raw = obj
        .get_non_null("model")
        .ok_or_else(|| ApiError::invalid_request("model is required"))?;
    let model: Cow<'a, str> = json::field(raw, "model").map_err(ApiError::invalid_request)?;
    validate_model(&model)?;
    Ok(model)
}

fn opt_bool(obj: &JsonObject<'_>, key: &'static str) -> Result<Option<bool>, ApiError> {
    match obj.get_non_null(key) {
        None => Ok(None),
        Some(raw) => match raw.get() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            _ => Err(ApiError::invalid_request(format!(
                "`{key}` must be a boolean"
            ))),
        },
    }
}

fn opt_f64(obj: &JsonObject<'_>, key: &'static str) -> Result<Option<f64>, ApiError> {
    match obj.get_non_null(key) {
        None => Ok(None),
        Some(raw) => serde_json::from_str::<f64>(raw.get())
            .map(Some)
            .map_err(|_| ApiError::invalid_request(format!("`{key}` must be a number"))),
    }
}

fn check_range(obj: &JsonObject<'_>, key: &'static str, lo: f64, hi: f64) -> Result<(), ApiError> {
    if let Some(v) = opt_f64(obj, key)? {
        if !(lo..=hi).contains(&v) {
            return Err(ApiError::invalid_request(format!(
                "{key} must be between {lo} and {hi}"
            )));
        }
    }
    Ok(())
}

fn check_int(obj: &JsonObject<'_>, key: &'static str, lo: u64, hi: u64) -> Result<(), ApiError> {
    if let Some(raw) = obj.get_non_null(key) {
        let ok = serde_json::from_str::<u64>(raw.get())
            .map(|v| (lo..=hi).contains(&v))
            .unwrap_or(false);
        if !ok {
            return Err(ApiError::invalid_request(format!(
                "{key} must be an integer between {lo} and {hi}"
            )));
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct MessageView<'a> {
    #[serde(borrow)]
    role: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

/// A validated `/v1/chat/completions` request.
#[derive(Debug)]
pub struct ChatRequest<'a> {
    pub obj: JsonObject<'a>,
    pub model: Cow<'a, str>,
    pub stream: bool,
    /// Whether the client itself asked for a usage chunk (`stream_options.include_usage`).
    pub client_wants_usage: bool,
}

impl<'a> ChatRequest<'a> {
    /// Strict-parses and validates a chat body (CONTRACT §3.2, §3.3).
    pub fn parse(body: &'a [u8]) -> Result<ChatRequest<'a>, ApiError> {
        let obj = parse_object(body)?;
        Self::from_object(obj)
    }

    pub fn from_object(obj: JsonObject<'a>) -> Result<ChatRequest<'a>, ApiError> {
        let model = read_model(&obj)?;
        let messages = obj
            .get_non_null("messages")
            .ok_or_else(|| ApiError::invalid_request("at least one message is required"))?;
        let msgs: Vec<MessageView<'_>> = serde_json::from_str(messages.get()).map_err(|_| {
            ApiError::invalid_request("messages must be an array of message objects")
        })?;
        if msgs.is_empty() {
            return Err(ApiError::invalid_request(
                "at least one message is required",
            ));
        }
        for (i, m) in msgs.iter().enumerate() {
            let role = m.role.as_deref().unwrap_or("");
            if !ROLES.contains(&role) {
                return Err(ApiError::invalid_request(format!(
                    "messages[{i}].role must be one of {}",
                    ROLES.join(", ")
                )));
            }
            let content_ok = match m.content.map(|c| c.get().as_bytes().first().copied()) {
                None | Some(Some(b'n')) => role == "assistant" || role == "function",
                Some(Some(b'"')) | Some(Some(b'[')) => true,
                _ => false,
            };
            if !content_ok {
                return Err(ApiError::invalid_request(format!(
                    "messages[{i}].content must be a string or an array of content parts"
                )));
            }
        }
        check_range(&obj, "temperature", 0.0, 2.0)?;
        check_range(&obj, "top_p", 0.0, 1.0)?;
        check_range(&obj, "presence_penalty", -2.0, 2.0)?;
        check_range(&obj, "frequency_penalty", -2.0, 2.0)?;
        check_int(&obj, "max_tokens", 1, i32::MAX as u64)?;
        check_int(&obj, "max_completion_tokens", 1, i32::MAX as u64)?;
        check_int(&obj, "n", 1, 128)?;
        if let Some(stop) = obj.get_non_null("stop") {
            let ok = serde_json::from_str::<String>(stop.get()).is_ok()
                || serde_json::from_str::<Vec<String>>(stop.get()).is_ok();
            if !ok {
                return Err(ApiError::invalid_request(
                    "stop must be a string or an array of strings",
                ));
            }
        }
        if let Some(tools) = obj.get_non_null("tools") {
            let tools: Vec<&RawValue> = serde_json::from_str(tools.get())
                .map_err(|_| ApiError::invalid_request("tools must be an array"))?;
            if tools.len() > 128 {
                return Err(ApiError::invalid_request("at most 128 tools are allowed"));
            }
        }
        let stream = opt_bool(&obj, "stream")?.unwrap_or(false);
        let client_wants_usage = match obj.get_non_null("stream_options") {
            None => false,
            Some(raw) => {
                let so: StreamOptions = serde_json::from_str(raw.get())
                    .map_err(|_| ApiError::invalid_request("stream_options must be an object"))?;
                so.include_usage.unwrap_or(false)
            }
        };
        Ok(ChatRequest {
            obj,
            model,
            stream,
            client_wants_usage,
        })
    }
}

/// Which non-chat surface a [`ModelRequest`] belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Embeddings,
    Images,
    Moderations,
}

/// A validated embeddings / images / moderations request.
#[derive(Debug)]
pub struct ModelRequest<'a> {
    pub obj: JsonObject<'a>,
    /// `None` only for moderations, where the gateway picks a default model.
    pub model: Option<Cow<'a, str>>,
}

impl<'a> ModelRequest<'a> {
    pub fn parse(body: &'a [u8], surface: Surface) -> Result<ModelRequest<'a>, ApiError> {
        let obj = parse_object(body).map_err(prefix_body)?;
        let model = match (surface, obj.get_non_null("model")) {
            (Surface::Moderations, None) => None,
            _ => Some(read_model(&obj).map_err(prefix_body)?),
        };
        let required = match surface {
            Surface::Embeddings | Surface::Moderations => "input",
            Surface::Images => "prompt",
        };
        if obj.get_non_null(required).is_none() {
            return Err(prefix_body(ApiError::invalid_request(format!(
                "{required} is required"
            ))));
        }
        if surface == Surface::Embeddings {
            if let Some(raw) = obj.get_non_null("encoding_format") {
                let f: String = json::field(raw, "encoding_format")
                    .map_err(|m| prefix_body(ApiError::invalid_request(m)))?;
                if f != "float" && f != "base64" {
                    return Err(prefix_body(ApiError::invalid_request(
                        "encoding_format must be \"float\" or \"base64\"",
                    )));
                }
            }
        }
        if surface == Surface::Images {
            check_int(&obj, "n", 1, 10).map_err(prefix_body)?;
        }
        Ok(ModelRequest { obj, model })
    }
}

fn prefix_body(mut e: ApiError) -> ApiError {
    if e.status == 400 && e.code == "invalid_request" {
        e.message = format!("invalid request body: {}", e.message).into();
    }
    e
}

/// A legacy `/v1/completions` request rewritten as a chat body.
#[derive(Debug)]
pub struct LegacyCompletion {
    pub model: String,
    pub prompt: String,
    pub echo: bool,
    /// The equivalent chat request body.
    pub chat_body: Vec<u8>,
}

/// Fields of a legacy completion that carry over to chat unchanged.
const LEGACY_CARRY: [&str; 10] = [
    "max_tokens",
    "temperature",
    "top_p",
    "n",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "user",
    "logit_bias",
];

impl LegacyCompletion {
    pub fn parse(body: &[u8]) -> Result<LegacyCompletion, ApiError> {
        let obj = parse_object(body).map_err(prefix_body)?;
        let model = read_model(&obj).map_err(prefix_body)?.into_owned();
        if opt_bool(&obj, "stream")?.unwrap_or(false) {
            return Err(ApiError::new(
                400,
                crate::ErrorType::InvalidRequestError,
                "streaming_not_supported",
                "streaming is not supported on /v1/completions; use /v1/chat/completions",
            ));
        }
        let raw = obj
            .get_non_null("prompt")
            .ok_or_else(|| prefix_body(ApiError::invalid_request("prompt is required")))?;
        let prompt: String =
            match serde_json::from_str::<String>(raw.get()) {
                Ok(p) => p,
                Err(_) => return Err(ApiError::new(
                    400,
                    crate::ErrorType::InvalidRequestError,
                    "unsupported_parameter",
                    "prompt must be a single string (batch and token prompts are not supported)",
                )),
            };
        let echo = opt_bool(&obj, "echo")?.unwrap_or(false);
        let mut out = Vec::with_capacity(prompt.len() + 128);
        out.extend_from_slice(b"{\"model\":");
        json::write_json_str(&mut out, &model);
        out.extend_from_slice(b",\"messages\":[{\"role\":\"user\",\"content\":");
        json::write_json_str(&mut out, &prompt);
        out.extend_from_slice(b"}]");
        for key in LEGACY_CARRY {
            if let Some(v) = obj.get_non_null(key) {
                out.push(b',');
                json::write_json_str(&mut out, key);
                out.push(b':');
                out.extend_from_slice(v.get().as_bytes());
            }
        }
        out.push(b'}');
        // Validate the chat view so the same rules (ranges, types) apply.
        ChatRequest::parse(&out)?;
        Ok(LegacyCompletion {
            model,
            prompt,
            echo,
            chat_body: out,
        })
    }
}

/// Short, safe rendition of a client-supplied value for messages.
pub fn excerpt(s: &str) -> &str {
    truncate(s, 64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn err(body: &str) -> String {
        ChatRequest::parse(body.as_bytes())
            .unwrap_err()
            .message
            .into_owned()
    }

    #[test]
    fn valid_chat() {
        let r = ChatRequest::parse(
            br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true,
                "stream_options":{"include_usage":true},"custom_field":{"a":1}}"#,
        )
        .unwrap();
        assert_eq!(r.model, "gpt-4o");
        assert!(r.stream && r.client_wants_usage);
        assert!(r.obj.contains("custom_field"));
    }

    #[test]
    fn validation_messages() {
        assert_eq!(
            err(r#"{"messages":[{"role":"user","content":"x"}]}"#),
            "model is required"
        );
        assert_eq!(
            err(r#"{"model":"m","messages":[]}"#),
            "at least one message is required"
        );
        assert!(
            err(r#"{"model":"m","messages":[{"role":"wizard","content":"x"}]}"#).contains("role")
        );
        assert!(
            err(r#"{"model":"m","messages":[{"role":"user","content":5}]}"#).contains("content")
        );
        assert!(
            err(r#"{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":3}"#)
                .contains("temperature")
        );
        assert!(
            err(r#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":0}"#)
                .contains("max_tokens")
        );
        assert!(
            err(r#"{"model":"m","messages":[{"role":"user","content":"x"}],"stream":"yes"}"#)
                .contains("stream")
        );
        assert!(
            err(r#"{"model":"a b","messages":[{"role":"user","content":"x"}]}"#).contains("model")
        );
        assert!(
            err(r#"{"model":"../x","messages":[{"role":"user","content":"x"}]}"#).contains("model")
        );
        assert!(
            err(r#"{"model":"m","messages":[{"role":"user","content":"x"}],"stop":5}"#)
                .contains("stop")
        );
        // assistant with tool calls may have null content
        assert!(ChatRequest::parse(
            br#"{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[]}]}"#
        )
        .is_ok());
    }

    #[test]
    fn legacy_completion_wraps_as_chat() {
        let l = LegacyCompletion::parse(
            br#"{"model":"m","prompt":"Say hi","max_tokens":5,"best_of":2}"#,
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&l.chat_body).unwrap();
        assert_eq!(v["messages"][0]["content"], "Say hi");
        assert_eq!(v["max_tokens"], 5);
        assert!(v.get("best_of").is_none());
        let e = LegacyCompletion::parse(br#"{"model":"m","prompt":["a","b"]}"#).unwrap_err();
        assert_eq!(e.code, "unsupported_parameter");
        let e =
            LegacyCompletion::parse(br#"{"model":"m","prompt":"a","stream":true}"#).unwrap_err();
        assert_eq!(e.code, "streaming_not_supported");
    }

    #[test]
    fn model_requests() {
        assert!(ModelRequest::parse(br#"{"model":"e","input":"x"}"#, Surface::Embeddings).is_ok());
        let e = ModelRequest::parse(br#"{"model":"e"}"#, Surface::Embeddings).unwrap_err();
        assert_eq!(&*e.message, "invalid request body: input is required");
        assert!(
            ModelRequest::parse(br#"{"input":"x"}"#, Surface::Moderations)
                .unwrap()
                .model
                .is_none()
        );
        assert!(ModelRequest::parse(
            br#"{"model":"e","input":"x","encoding_format":"int8"}"#,
            Surface::Embeddings
        )
        .is_err());
    }
}
