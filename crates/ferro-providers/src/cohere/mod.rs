//! The Cohere v2 adapter (CONTRACT §7, §9): chat and stream through
//! `POST {host}/v2/chat`, embeddings through `/v1/embed`, rerank through
//! `/v2/rerank`. `COHERE_BASE_URL` is a host (a trailing `/v1` or `/v2` is
//! dropped); auth is `Authorization: Bearer <COHERE_API_KEY>`.
//!
//! * [`request`] — OpenAI body → `/v2/chat` body (only fields Cohere takes);
//! * [`response`] / [`stream`] — answers back as `chat.completion` /
//!   `chat.completion.chunk` (SSE events `message-start`, `content-delta`,
//!   `tool-plan-delta`, `tool-call-start`, `tool-call-delta`, `message-end`);
//! * [`embed`] — embeddings; rerank is the Cohere contract itself
//!   ([`crate::rerank`]), `return_documents` filled in from the request since
//!   v2 no longer echoes documents.
//!
//! Errors are `{"message": "…"}` (with an `id` on v1 routes) → the OpenAI
//! envelope.

pub mod embed;
pub mod request;
pub mod response;
pub mod stream;

use crate::instance::{InstanceSettings, ProviderInstance};
use crate::native::{
    ModelFacts, NativeAdapter, NativeRequest, ParamSupport, StreamTranslator, TranslateError,
    UnsupportedPolicy,
};
use crate::params;
use crate::rerank::{self, RerankRequest};
use crate::spec::ProviderSpec;
use bytes::Bytes;
use ferro_types::chat::ChatRequest;
use ferro_types::ApiError;
use http::Method;
use serde_json::{json, Value};

/// The Cohere adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cohere;

fn post(url: String, body: Vec<u8>) -> NativeRequest {
    NativeRequest {
        method: Method::POST,
        url,
        headers: Vec::new(),
        body: Bytes::from(body),
    }
}

/// Native error body → the OpenAI envelope (`None`: not a Cohere error).
pub fn error_body(status: u16, body: &[u8]) -> Option<Vec<u8>> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let message = v.get("message").and_then(Value::as_str)?;
    let (t, code) = match status {
        400 | 422 => ("invalid_request_error", "invalid_request"),
        401 | 498 => ("authentication_error", "invalid_api_key"),
        402 => ("insufficient_quota", "payment_required"),
        403 => ("permission_error", "forbidden"),
        404 => ("not_found_error", "not_found"),
        429 => ("rate_limit_error", "rate_limit_exceeded"),
        s if s >= 500 => ("server_error", "upstream_error"),
        _ => ("invalid_request_error", "invalid_request"),
    };
    serde_json::to_vec(&json!({"error": {"message": message, "type": t, "code": code}})).ok()
}

impl NativeAdapter for Cohere {
    fn settings_from_env(
        &self,
        spec: &'static ProviderSpec,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Option<InstanceSettings> {
        let get = |k: &str| {
            env(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Some(InstanceSettings {
            name: spec.id.to_owned(),
            api_key: Some(crate::Secret::new(get(spec.key_env)?)),
            base_url: get("COHERE_BASE_URL"),
            ..Default::default()
        })
    }

    fn root(&self, spec: &ProviderSpec, s: &InstanceSettings) -> Result<String, String> {
        let root =
            crate::base_url::resolve_root(s.base_url.as_deref().unwrap_or(""), spec.default_root)?;
        Ok(root
            .strip_suffix("/v1")
            .or_else(|| root.strip_suffix("/v2"))
            .unwrap_or(&root)
            .to_owned())
    }

    fn chat_request(
        &self,
        inst: &ProviderInstance,
        req: &ChatRequest<'_>,
        model: &str,
        _facts: ModelFacts,
        policy: UnsupportedPolicy,
    ) -> Result<NativeRequest, ApiError> {
        let body = request::build_body(req, model, policy)?;
        Ok(post(format!("{}/v2/chat", inst.root), body))
    }

    fn chat_response(&self, body: &[u8], model: &str) -> Result<Vec<u8>, TranslateError> {
        response::translate(body, model)
    }

    fn stream(&self, model: &str) -> Box<dyn StreamTranslator> {
        Box::new(stream::CohereStream::new(model))
    }

    fn embed_request(
        &self,
        inst: &ProviderInstance,
        body: &[u8],
        model: &str,
    ) -> Result<NativeRequest, ApiError> {
        Ok(post(
            format!("{}/v1/embed", inst.root),
            embed::request_body(body, model)?,
        ))
    }

    fn embed_response(&self, body: &[u8], model: &str) -> Result<Vec<u8>, TranslateError> {
        embed::translate(body, model)
    }

    fn rerank_request(
        &self,
        inst: &ProviderInstance,
        req: &RerankRequest,
        model: &str,
    ) -> Result<NativeRequest, ApiError> {
        let body = serde_json::to_vec(&rerank::cohere_body(req, model, false))
            .map_err(|_| ApiError::internal("could not build the upstream request"))?;
        Ok(post(format!("{}/v2/rerank", inst.root), body))
    }

    fn rerank_response(&self, req: &RerankRequest, body: &[u8]) -> Result<Vec<u8>, TranslateError> {
        rerank::from_cohere_shape(req, body)
    }

    fn error_body(&self, status: u16, body: &[u8]) -> Option<Vec<u8>> {
        error_body(status, body)
    }

    fn map_status(&self, status: u16) -> u16 {
        // 498: Cohere's "invalid API token".
        if status == 498 {
            401
        } else {
            status
        }
    }

    fn param_support(&self, param: &str) -> ParamSupport {
        params::lookup(params::COHERE, param).unwrap_or(ParamSupport::Unsupported)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn spec() -> &'static ProviderSpec {
        crate::spec::find("cohere").unwrap()
    }

    #[test]
    fn host_style_base_url() {
        let s = |b: Option<&str>| InstanceSettings {
            api_key: Some(crate::Secret::new("k")),
            base_url: b.map(str::to_owned),
            ..Default::default()
        };
        assert_eq!(
            Cohere.root(spec(), &s(None)).unwrap(),
            "https://api.cohere.com"
        );
        assert_eq!(
            Cohere
                .root(spec(), &s(Some("http://127.0.0.1:9/")))
                .unwrap(),
            "http://127.0.0.1:9"
        );
        assert_eq!(
            Cohere
                .root(spec(), &s(Some("https://api.cohere.com/v2")))
                .unwrap(),
            "https://api.cohere.com"
        );
        assert!(Cohere.root(spec(), &s(Some("ftp://x"))).is_err());
        let inst = ProviderInstance::build(spec(), s(Some("http://h:1"))).unwrap();
        assert_eq!(inst.headers[0].1.to_str().unwrap(), "Bearer k");
    }

    #[test]
    fn errors() {
        let b = error_body(401, br#"{"id":"x","message":"invalid api token"}"#).unwrap();
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["error"]["message"], "invalid api token");
        assert_eq!(v["error"]["type"], "authentication_error");
        assert!(error_body(500, b"oops").is_none());
        assert_eq!(Cohere.map_status(498), 401);
    }
}
