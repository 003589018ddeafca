//! The Gemini adapter (`generateContent`, `streamGenerateContent?alt=sse`,
//! `embedContent`, `batchEmbedContents` under `{root}/models/{model}`, CONTRACT
//! §9). The API key travels in `x-goog-api-key`, set by the instance.
//!
//! It owns the pure translation of the Gemini wire, which Vertex AI reuses:
//! * [`request`] (+ [`messages`], [`schema`]) — OpenAI chat body →
//!   `GenerateContentRequest`;
//! * [`response`] — `GenerateContentResponse` → `chat.completion`;
//! * [`stream`] — SSE frames → `chat.completion.chunk` payloads;
//! * [`embed`] — embeddings both ways (usage estimated: Gemini reports none);
//! * [`error_body`] — Google error bodies → the OpenAI envelope.
//!
//! Wire decisions a client can rely on: tool-call ids are `call_` + 24 hex of a
//! hash of (response id, candidate, call ordinal, name), identical streamed or
//! not; thought parts come back as `reasoning_content`; `completion_tokens`
//! includes thoughts (also reported as `reasoning_tokens`); cached prompt
//! tokens are `prompt_tokens_details.cached_tokens` and `cache_read_tokens`;
//! an invalid API key (Gemini's 400 `API_KEY_INVALID`) is reported as 401.

pub mod embed;
pub mod messages;
pub mod request;
pub mod response;
pub mod schema;
pub mod stream;

use crate::instance::ProviderInstance;
use crate::native::{
    ModelFacts, NativeAdapter, NativeRequest, ParamSupport, StreamTranslator, TranslateError,
    UnsupportedPolicy,
};
use bytes::Bytes;
use ferro_types::chat::ChatRequest;
use ferro_types::error::envelope_json;
use ferro_types::ApiError;
use http::Method;
use serde::Deserialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The Gemini API adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gemini;

/// Seconds since the epoch, for `created`.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A process-unique completion id suffix for answers without a `responseId`.
pub(crate) fn fallback_id() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    format!("gemini{:x}{:x}", now(), SEQ.fetch_add(1, Ordering::Relaxed))
}

/// The resource path of a model: `models/{id}` unless the id already names a
/// resource (`models/…`, `tunedModels/…`). Refuses ids that could escape the path.
pub fn model_path(model: &str) -> Result<String, ApiError> {
    let ok = !model.is_empty()
        && model
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '@' | '/'))
        && !model
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..");
    if !ok {
        return Err(ApiError::invalid_request(
            "model id has characters this provider cannot address",
        ));
    }
    if model.starts_with("models/") || model.starts_with("tunedModels/") {
        Ok(model.to_owned())
    } else {
        Ok(format!("models/{model}"))
    }
}

/// `{base}/{path}:generateContent`, or the SSE stream method.
pub(crate) fn generate_url(base: &str, path: &str, stream: bool) -> String {
    if stream {
        format!("{base}/{path}:streamGenerateContent?alt=sse")
    } else {
        format!("{base}/{path}:generateContent")
    }
}

#[derive(Deserialize)]
struct GoogleError {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    details: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct GoogleEnvelope {
    error: GoogleError,
}

fn parse_error(body: &[u8]) -> Option<GoogleError> {
    // Some endpoints wrap the envelope in an array.
    let v = match serde_json::from_slice::<serde_json::Value>(body).ok()? {
        serde_json::Value::Array(items) => items.into_iter().next()?,
        v => v,
    };
    if !v.get("error").is_some_and(serde_json::Value::is_object) {
        return None;
    }
    serde_json::from_value::<GoogleEnvelope>(v)
        .ok()
        .map(|e| e.error)
}

fn openai_type(status: &str) -> &'static str {
    match status {
        "UNAUTHENTICATED" => "authentication_error",
        "PERMISSION_DENIED" => "permission_error",
        "NOT_FOUND" => "not_found_error",
        "RESOURCE_EXHAUSTED" => "rate_limit_error",
        "DEADLINE_EXCEEDED" => "timeout_error",
        "INTERNAL" | "UNAVAILABLE" | "UNKNOWN" | "DATA_LOSS" => "server_error",
        _ => "invalid_request_error",
    }
}

/// Google `{"error":{"code","message","status"}}` → the OpenAI envelope
/// (`type` from the status, `code` its lower-case name).
pub fn error_body(body: &[u8]) -> Option<Vec<u8>> {
    let e = parse_error(body)?;
    let status = e.status.as_deref().unwrap_or("UNKNOWN");
    let message = e
        .message
        .as_deref()
        .unwrap_or("the upstream provider failed");
    Some(envelope_json(
        openai_type(status),
        &status.to_ascii_lowercase(),
        ferro_types::json::truncate(message, 1024),
    ))
}

/// A 400 whose details say the API key is invalid is a credentials failure.
pub fn error_status(status: u16, body: &[u8]) -> u16 {
    if status != 400 {
        return status;
    }
    let invalid_key = parse_error(body).is_some_and(|e| {
        e.details
            .iter()
            .any(|d| d.get("reason").and_then(serde_json::Value::as_str) == Some("API_KEY_INVALID"))
    });
    if invalid_key {
        401
    } else {
        status
    }
}

/// The OpenAI embeddings body of a native embeddings answer (Gemini wire).
pub(crate) fn embed_answer(
    request: Option<&[u8]>,
    body: &[u8],
    model: &str,
) -> Result<Vec<u8>, TranslateError> {
    let input = request.and_then(|r| embed::read_input(r).ok());
    embed::translate(input.as_ref(), body, model)
}

impl NativeAdapter for Gemini {
    fn chat_request(
        &self,
        inst: &ProviderInstance,
        req: &ChatRequest<'_>,
        model: &str,
        _facts: ModelFacts,
        policy: UnsupportedPolicy,
    ) -> Result<NativeRequest, ApiError> {
        let body = request::chat_body(req, "gemini", policy)?;
        Ok(NativeRequest {
            method: Method::POST,
            url: generate_url(&inst.root, &model_path(model)?, req.stream),
            headers: Vec::new(),
            body: Bytes::from(body),
        })
    }

    fn chat_response(&self, body: &[u8], model: &str) -> Result<Vec<u8>, TranslateError> {
        response::translate(body, model, now(), &fallback_id())
    }

    fn stream(&self, model: &str) -> Box<dyn StreamTranslator> {
        Box::new(stream::GeminiStream::new(model, now(), &fallback_id()))
    }

    fn embed_request(
        &self,
        inst: &ProviderInstance,
        body: &[u8],
        model: &str,
    ) -> Result<NativeRequest, ApiError> {
        let input = embed::read_input(body)?;
        let path = model_path(model)?;
        let (body, method) = embed::gemini_body(&input, &path);
        Ok(NativeRequest {
            method: Method::POST,
            url: format!("{}/{path}:{method}", inst.root),
            headers: Vec::new(),
            body: Bytes::from(body),
        })
    }

    fn embed_response(&self, body: &[u8], model: &str) -> Result<Vec<u8>, TranslateError> {
        embed_answer(None, body, model)
    }

    fn embed_response_for(
        &self,
        request: &[u8],
        body: &[u8],
        model: &str,
    ) -> Result<Vec<u8>, TranslateError> {
        embed_answer(Some(request), body, model)
    }

    fn error_body(&self, _status: u16, body: &[u8]) -> Option<Vec<u8>> {
        error_body(body)
    }

    fn error_status(&self, status: u16, body: &[u8]) -> u16 {
        error_status(status, body)
    }

    fn param_support(&self, param: &str) -> ParamSupport {
        request::param_support(param)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn model_paths() {
        assert_eq!(
            model_path("gemini-2.0-flash").unwrap(),
            "models/gemini-2.0-flash"
        );
        assert_eq!(model_path("tunedModels/x").unwrap(), "tunedModels/x");
        assert!(model_path("a/../b").is_err());
        assert!(model_path("a:b").is_err());
    }

    #[test]
    fn invalid_key_is_401() {
        let b = br#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}"#;
        assert_eq!(error_status(400, b), 401);
        assert_eq!(
            error_status(
                400,
                br#"{"error":{"code":400,"message":"x","status":"INVALID_ARGUMENT"}}"#
            ),
            400
        );
        let env: serde_json::Value = serde_json::from_slice(&error_body(b).unwrap()).unwrap();
        assert_eq!(env["error"]["code"], "invalid_argument");
        assert_eq!(env["error"]["type"], "invalid_request_error");
    }
}
