//! The Vertex AI adapter (CONTRACT §7, §9): Gemini models through
//! `{root}/publishers/google/models/{m}:generateContent` (and
//! `:streamGenerateContent?alt=sse`), Claude models (`claude-*`) through
//! `{root}/publishers/anthropic/models/{m}:rawPredict` / `:streamRawPredict`,
//! embeddings through `{root}/publishers/google/models/{m}:predict`, where the
//! root is `{base}/projects/{project}/locations/{region}`.
//!
//! It owns Vertex addressing, settings and credentials only; translation is the
//! Gemini module's ([`crate::gemini`]) and the Anthropic module's
//! ([`crate::anthropic`], with `anthropic_version: vertex-2023-10-16` in the
//! body instead of a `model` field). Credentials: `VERTEX_AI_API_KEY`
//! (`x-goog-api-key`, set by the instance) or a service account
//! (`VERTEX_AI_SERVICE_ACCOUNT_JSON`, else a service-account file named by
//! `GOOGLE_APPLICATION_CREDENTIALS`) whose OAuth token [`auth`] obtains and
//! caches; [`NativeAdapter::authorize`] adds it as a Bearer header.
//!
//! Instance settings (`extra`): `project_id`, `region`, `service_account_json`
//! (inline JSON or a file path), `token_url` (env `VERTEX_AI_TOKEN_URL`).
//! `VERTEX_AI_BASE_URL` replaces `https://{region}-aiplatform.googleapis.com/v1`
//! (tests; a bare host gets `/v1`).

pub mod auth;
mod embed;

use crate::anthropic;
use crate::gemini;
use crate::instance::{InstanceSettings, ProviderInstance};
use crate::native::{
    ModelFacts, NativeAdapter, NativeRequest, ParamSupport, StreamTranslator, TranslateError,
    UnsupportedPolicy,
};
use crate::spec::ProviderSpec;
use crate::Secret;
use bytes::Bytes;
use ferro_types::chat::ChatRequest;
use ferro_types::{ApiError, ErrorType};
use futures_util::future::BoxFuture;
use http::{HeaderValue, Method};

/// The `anthropic_version` Claude-on-Vertex bodies carry.
pub const ANTHROPIC_VERSION: &str = "vertex-2023-10-16";

/// The Vertex AI adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Vertex;

/// Claude models are served by Anthropic's publisher on Vertex.
pub fn is_anthropic(model: &str) -> bool {
    model.starts_with("claude-")
}

fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// `{publisher}/models/{model}` with the model id checked for path safety.
fn model_ref(model: &str) -> Result<String, ApiError> {
    let ok = !model.is_empty()
        && model
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '@'));
    if !ok {
        return Err(ApiError::invalid_request(
            "model id has characters Vertex AI cannot address",
        ));
    }
    let publisher = if is_anthropic(model) {
        "anthropic"
    } else {
        "google"
    };
    Ok(format!("publishers/{publisher}/models/{model}"))
}

fn extra<'a>(inst: &'a ProviderInstance, key: &str) -> Option<&'a str> {
    inst.extra
        .get(key)
        .map(Secret::expose)
        .filter(|v| !v.is_empty())
}

/// The Claude-on-Vertex body: the Anthropic Messages body without `model`,
/// with `anthropic_version`.
fn anthropic_body(
    req: &ChatRequest<'_>,
    model: &str,
    facts: ModelFacts,
    policy: UnsupportedPolicy,
) -> Result<Vec<u8>, ApiError> {
    let body = anthropic::request::build_body(req, model, facts, policy)?;
    let mut v: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&body).map_err(|_| {
            ApiError::new(
                500,
                ErrorType::ServerError,
                "internal_error",
                "could not build the upstream request",
            )
        })?;
    v.remove("model");
    v.insert("anthropic_version".into(), ANTHROPIC_VERSION.into());
    serde_json::to_vec(&v).map_err(|_| {
        ApiError::new(
            500,
            ErrorType::ServerError,
            "internal_error",
            "could not build the upstream request",
        )
    })
}

fn is_anthropic_error(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(|t| t == "error"))
        .unwrap_or(false)
}

impl NativeAdapter for Vertex {
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
        let mut s = InstanceSettings {
            name: spec.id.to_owned(),
            base_url: get("VERTEX_AI_BASE_URL"),
            ..Default::default()
        };
        s.extra
            .insert("project_id".into(), get("VERTEX_AI_PROJECT_ID")?);
        s.extra.insert("region".into(), get("VERTEX_AI_REGION")?);
        if let Some(k) = get(spec.key_env) {
            s.api_key = Some(Secret::new(k));
        } else if let Some(sa) =
            get("VERTEX_AI_SERVICE_ACCOUNT_JSON").or_else(|| get("GOOGLE_APPLICATION_CREDENTIALS"))
        {
            s.extra.insert("service_account_json".into(), sa);
            s.extra_secrets.push("service_account_json".into());
        }
        if let Some(t) = get("VERTEX_AI_TOKEN_URL") {
            s.extra.insert("token_url".into(), t);
        }
        Some(s)
    }

    fn root(&self, _spec: &ProviderSpec, s: &InstanceSettings) -> Result<String, String> {
        let project = s.extra.get("project_id").map(String::as_str).unwrap_or("");
        let region = s.extra.get("region").map(String::as_str).unwrap_or("");
        if !valid_id(project) {
            return Err("vertex-ai needs a project id (lower-case letters, digits, -)".into());
        }
        if !valid_id(region) {
            return Err("vertex-ai needs a region (lower-case letters, digits, -)".into());
        }
        let has_key = s.api_key.as_ref().is_some_and(|k| !k.is_empty());
        match s.extra.get("service_account_json") {
            Some(sa) if !has_key => {
                auth::load(sa)?;
            }
            None if !has_key => {
                return Err(
                    "vertex-ai needs VERTEX_AI_API_KEY or VERTEX_AI_SERVICE_ACCOUNT_JSON (a service-account key)"
                        .into(),
                )
            }
            _ => {}
        }
        if let Some(t) = s.extra.get("token_url") {
            crate::base_url::validate_endpoint(t).map_err(|e| format!("token_url: {e}"))?;
        }
        let default = if region == "global" {
            "https://aiplatform.googleapis.com/v1".to_owned()
        } else {
            format!("https://{region}-aiplatform.googleapis.com/v1")
        };
        let base = crate::base_url::resolve_root(s.base_url.as_deref().unwrap_or(""), &default)?;
        Ok(format!("{base}/projects/{project}/locations/{region}"))
    }

    fn chat_request(
        &self,
        inst: &ProviderInstance,
        req: &ChatRequest<'_>,
        model: &str,
        facts: ModelFacts,
        policy: UnsupportedPolicy,
    ) -> Result<NativeRequest, ApiError> {
        let path = model_ref(model)?;
        let (url, body) = if is_anthropic(model) {
            let method = if req.stream {
                "streamRawPredict"
            } else {
                "rawPredict"
            };
            (
                format!("{}/{path}:{method}", inst.root),
                anthropic_body(req, model, facts, policy)?,
            )
        } else {
            (
                gemini::generate_url(&inst.root, &path, req.stream),
                gemini::request::chat_body(req, "vertex-ai", policy)?,
            )
        };
        Ok(NativeRequest {
            method: Method::POST,
            url,
            headers: Vec::new(),
            body: Bytes::from(body),
        })
    }

    fn chat_response(&self, body: &[u8], model: &str) -> Result<Vec<u8>, TranslateError> {
        if is_anthropic(model) {
            anthropic::response::translate(body, model)
        } else {
            gemini::response::translate(body, model, gemini::now(), &gemini::fallback_id())
        }
    }

    fn stream(&self, model: &str) -> Box<dyn StreamTranslator> {
        if is_anthropic(model) {
            Box::new(anthropic::stream::MessagesStream::new(model))
        } else {
            Box::new(gemini::stream::GeminiStream::new(
                model,
                gemini::now(),
                &gemini::fallback_id(),
            ))
        }
    }

    fn embed_request(
        &self,
        inst: &ProviderInstance,
        body: &[u8],
        model: &str,
    ) -> Result<NativeRequest, ApiError> {
        let input = gemini::embed::read_input(body)?;
        let path = model_ref(model)?;
        Ok(NativeRequest {
            method: Method::POST,
            url: format!("{}/{path}:predict", inst.root),
            headers: Vec::new(),
            body: Bytes::from(embed::predict_body(&input)),
        })
    }

    fn embed_response(&self, body: &[u8], model: &str) -> Result<Vec<u8>, TranslateError> {
        embed::translate(None, body, model)
    }

    fn embed_response_for(
        &self,
        request: &[u8],
        body: &[u8],
        model: &str,
    ) -> Result<Vec<u8>, TranslateError> {
        let input = gemini::embed::read_input(request).ok();
        embed::translate(input.as_ref(), body, model)
    }

    fn authorize<'a>(
        &'a self,
        http: &'a reqwest::Client,
        inst: &'a ProviderInstance,
        req: &'a mut NativeRequest,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            if inst
                .headers
                .iter()
                .any(|(k, _)| k.as_str() == "x-goog-api-key")
            {
                return Ok(());
            }
            let Some(cred) = extra(inst, "service_account_json") else {
                return Err("vertex-ai has no credentials".into());
            };
            let token = auth::access_token(http, cred, extra(inst, "token_url")).await?;
            let mut v = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| "the token endpoint returned an unusable token".to_owned())?;
            v.set_sensitive(true);
            req.headers.push((http::header::AUTHORIZATION, v));
            Ok(())
        })
    }

    fn error_body(&self, status: u16, body: &[u8]) -> Option<Vec<u8>> {
        if is_anthropic_error(body) {
            anthropic::errors::error_body(status, body)
        } else {
            gemini::error_body(body)
        }
    }

    fn error_status(&self, status: u16, body: &[u8]) -> u16 {
        gemini::error_status(status, body)
    }

    fn map_status(&self, status: u16) -> u16 {
        anthropic::errors::map_status(status)
    }

    fn param_support(&self, param: &str) -> ParamSupport {
        gemini::request::param_support(param)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    fn spec() -> &'static ProviderSpec {
        crate::spec::find("vertex-ai").unwrap()
    }

    #[test]
    fn env_settings_and_roots() {
        let e = env(&[
            ("VERTEX_AI_PROJECT_ID", "my-proj"),
            ("VERTEX_AI_REGION", "us-central1"),
            ("VERTEX_AI_API_KEY", "k"),
        ]);
        let s = Vertex.settings_from_env(spec(), &e).unwrap();
        assert_eq!(
            Vertex.root(spec(), &s).unwrap(),
            "https://us-central1-aiplatform.googleapis.com/v1/projects/my-proj/locations/us-central1"
        );
        let inst = ProviderInstance::build(spec(), s).unwrap();
        assert_eq!(inst.headers[0].0.as_str(), "x-goog-api-key");

        let e = env(&[
            ("VERTEX_AI_PROJECT_ID", "p"),
            ("VERTEX_AI_REGION", "global"),
            ("VERTEX_AI_API_KEY", "k"),
            ("VERTEX_AI_BASE_URL", "http://127.0.0.1:9"),
        ]);
        let s = Vertex.settings_from_env(spec(), &e).unwrap();
        assert_eq!(
            Vertex.root(spec(), &s).unwrap(),
            "http://127.0.0.1:9/v1/projects/p/locations/global"
        );
        // Region and project are required; credentials too.
        assert!(Vertex
            .settings_from_env(spec(), &env(&[("VERTEX_AI_PROJECT_ID", "p")]))
            .is_none());
        let s = Vertex
            .settings_from_env(
                spec(),
                &env(&[("VERTEX_AI_PROJECT_ID", "p"), ("VERTEX_AI_REGION", "r")]),
            )
            .unwrap();
        assert!(Vertex.root(spec(), &s).is_err());
        let s = Vertex
            .settings_from_env(
                spec(),
                &env(&[
                    ("VERTEX_AI_PROJECT_ID", "p"),
                    ("VERTEX_AI_REGION", "r"),
                    ("VERTEX_AI_SERVICE_ACCOUNT_JSON", "{not json"),
                ]),
            )
            .unwrap();
        assert!(Vertex.root(spec(), &s).is_err());
        let bad = env(&[
            ("VERTEX_AI_PROJECT_ID", "p/../x"),
            ("VERTEX_AI_REGION", "r"),
            ("VERTEX_AI_API_KEY", "k"),
        ]);
        let s = Vertex.settings_from_env(spec(), &bad).unwrap();
        assert!(Vertex.root(spec(), &s).is_err());
    }

    #[test]
    fn model_addressing() {
        assert_eq!(
            model_ref("gemini-2.0-flash").unwrap(),
            "publishers/google/models/gemini-2.0-flash"
        );
        assert_eq!(
            model_ref("claude-3-5-sonnet-v2@20241022").unwrap(),
            "publishers/anthropic/models/claude-3-5-sonnet-v2@20241022"
        );
        assert!(model_ref("a/b").is_err());
    }
}
