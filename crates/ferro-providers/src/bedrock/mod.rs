//! The Amazon Bedrock adapter (CONTRACT §7, §9): chat through the Converse
//! and ConverseStream APIs for every model family (Anthropic, Nova, Llama,
//! Mistral, Cohere, Titan, AI21, DeepSeek, OpenAI open-weight, …),
//! embeddings (Titan, Cohere) through InvokeModel, rerank through the
//! agent-runtime `Rerank` API.
//!
//! * [`request`] + [`messages`] — OpenAI body → Converse body;
//! * [`response`] — Converse JSON → `chat.completion`;
//! * [`stream`] over [`eventstream`] — the binary `application/vnd.amazon.eventstream`
//!   framing (prelude and message CRCs checked, capped buffer) → chunks;
//! * [`embed`] — Titan / Cohere embeddings; [`errors`] — error bodies;
//! * [`sigv4`] — AWS Signature Version 4, implemented here (HMAC-SHA256 over
//!   `sha2`; no AWS SDK), pure and pinned by AWS's published test vectors.
//!
//! Addressing: `{root}/model/{modelId}/converse` (`/converse-stream`,
//! `/invoke`) with the model id percent-encoded (`:` → `%3A`, ARNs' `/` →
//! `%2F`); the root is `https://bedrock-runtime.{region}.amazonaws.com`,
//! rerank goes to `https://bedrock-agent-runtime.{region}.amazonaws.com/rerank`.
//!
//! Settings (env, CONTRACT §7): `AWS_BEARER_TOKEN_BEDROCK` (a Bedrock API
//! key, sent as `Authorization: Bearer`) or `AWS_ACCESS_KEY_ID` +
//! `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`) for SigV4; the bearer token
//! wins when both are set. `AWS_REGION` (else `AWS_DEFAULT_REGION`, else
//! `us-east-1`). `BEDROCK_BASE_URL` replaces both runtime roots (tests, VPC
//! endpoints, proxies; a bare host is used as is). Named instances take
//! `region`, `aws_access_key_id`, `aws_secret_access_key`,
//! `aws_session_token`, `api_key` (bearer) and `base_url`. With `AWS_REGION`
//! alone (no credentials) Bedrock is not registered: instance-role and
//! profile credentials are not read.
//!
//! Signing needs the clock, so it happens in [`NativeAdapter::authorize`]
//! (just before sending, so a retry is signed afresh).

pub mod auth;
pub mod embed;
pub mod errors;
pub mod eventstream;
pub mod messages;
pub mod request;
pub mod rerank;
pub mod response;
pub mod sigv4;
pub mod stream;

use crate::instance::{InstanceSettings, ProviderInstance};
use crate::native::{
    ModelFacts, NativeAdapter, NativeRequest, ParamSupport, StreamTranslator, TranslateError,
    UnsupportedPolicy,
};
use crate::rerank::RerankRequest;
use crate::spec::ProviderSpec;
use crate::{params, Secret};
use bytes::Bytes;
use ferro_types::chat::ChatRequest;
use ferro_types::ApiError;
use futures_util::future::BoxFuture;
use http::{HeaderValue, Method};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Name of the tool that carries JSON-mode answers (shared with Anthropic).
pub const JSON_TOOL: &str = crate::anthropic::JSON_TOOL;

/// Region when none is configured.
pub const DEFAULT_REGION: &str = "us-east-1";

/// The SigV4 service name of both Bedrock runtimes.
pub const SERVICE: &str = "bedrock";

/// Model families, where the Converse wire differs by family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Anthropic,
    Nova,
    Titan,
    Llama,
    Mistral,
    Cohere,
    Ai21,
    DeepSeek,
    OpenAi,
    Other,
}

/// The foundation-model id of a model id: ARNs reduced to their last path
/// segment, cross-region inference-profile prefixes (`us.`, `eu.`, …) removed.
pub fn base_model(model: &str) -> &str {
    let m = model.rsplit('/').next().unwrap_or(model);
    match m.split_once('.') {
        Some((prefix, rest))
            if matches!(
                prefix,
                "us" | "eu" | "apac" | "global" | "us-gov" | "jp" | "au" | "ca"
            ) && rest.contains('.') =>
        {
            rest
        }
        _ => m,
    }
}

/// The family of a model id.
pub fn family(model: &str) -> Family {
    let m = base_model(model);
    let p = |s: &str| m.starts_with(s);
    if p("anthropic.") {
        Family::Anthropic
    } else if p("amazon.nova") {
        Family::Nova
    } else if p("amazon.titan") {
        Family::Titan
    } else if p("meta.") {
        Family::Llama
    } else if p("mistral.") {
        Family::Mistral
    } else if p("cohere.") {
        Family::Cohere
    } else if p("ai21.") {
        Family::Ai21
    } else if p("deepseek.") {
        Family::DeepSeek
    } else if p("openai.") {
        Family::OpenAi
    } else {
        Family::Other
    }
}

/// `/model/{id}` with the id checked and percent-encoded.
pub fn model_path(model: &str) -> Result<String, ApiError> {
    let ok = !model.is_empty()
        && model.len() <= 2048
        && model
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ':' | '/' | '@'))
        && !model.split('/').any(|s| s == ".." || s == ".");
    if !ok {
        return Err(ApiError::invalid_request(
            "model id has characters Bedrock cannot address",
        ));
    }
    Ok(format!("/model/{}", sigv4::uri_encode(model)))
}

fn valid_region(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 32
        && r.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn extra<'a>(inst: &'a ProviderInstance, key: &str) -> Option<&'a str> {
    inst.extra
        .get(key)
        .map(Secret::expose)
        .filter(|v| !v.is_empty())
}

/// The region of an instance.
pub fn region(inst: &ProviderInstance) -> &str {
    extra(inst, "region").unwrap_or(DEFAULT_REGION)
}

/// The default runtime root of a region.
pub fn default_root(region: &str) -> String {
    format!("https://bedrock-runtime.{region}.amazonaws.com")
}

/// Where the agent-runtime `Rerank` API lives for an instance.
pub fn agent_root(inst: &ProviderInstance) -> String {
    let r = region(inst);
    if inst.root == default_root(r) {
        format!("https://bedrock-agent-runtime.{r}.amazonaws.com")
    } else {
        inst.root.clone()
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A process-unique completion id (Converse answers carry none).
pub fn next_id() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    format!(
        "chatcmpl-bedrock-{:x}{:04x}",
        now(),
        SEQ.fetch_add(1, Ordering::Relaxed) & 0xffff
    )
}

fn json_request(url: String, accept: &'static str, body: Vec<u8>) -> NativeRequest {
    NativeRequest {
        method: Method::POST,
        url,
        headers: vec![
            (
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (http::header::ACCEPT, HeaderValue::from_static(accept)),
        ],
        body: Bytes::from(body),
    }
}

/// The Bedrock adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bedrock;

impl NativeAdapter for Bedrock {
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
            base_url: get("BEDROCK_BASE_URL"),
            api_key: get("AWS_BEARER_TOKEN_BEDROCK").map(Secret::new),
            ..Default::default()
        };
        if let Some(r) = get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")) {
            s.extra.insert("region".into(), r);
        }
        let keys = (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY"));
        if let (Some(id), Some(secret)) = keys {
            s.extra.insert("aws_access_key_id".into(), id);
            s.extra.insert("aws_secret_access_key".into(), secret);
            s.extra_secrets.push("aws_access_key_id".into());
            s.extra_secrets.push("aws_secret_access_key".into());
            if let Some(t) = get("AWS_SESSION_TOKEN") {
                s.extra.insert("aws_session_token".into(), t);
                s.extra_secrets.push("aws_session_token".into());
            }
        } else if s.api_key.is_none() {
            return None;
        }
        Some(s)
    }

    fn root(&self, _spec: &ProviderSpec, s: &InstanceSettings) -> Result<String, String> {
        let region = s
            .extra
            .get("region")
            .map(String::as_str)
            .unwrap_or(DEFAULT_REGION);
        if !valid_region(region) {
            return Err("bedrock region must be lower-case letters, digits and -".into());
        }
        let bearer = s.api_key.as_ref().is_some_and(|k| !k.is_empty());
        let keys = ["aws_access_key_id", "aws_secret_access_key"]
            .iter()
            .all(|k| s.extra.get(*k).is_some_and(|v| !v.is_empty()));
        if !bearer && !keys {
            return Err(
                "bedrock needs AWS_BEARER_TOKEN_BEDROCK or AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY"
                    .into(),
            );
        }
        crate::base_url::resolve_root(s.base_url.as_deref().unwrap_or(""), &default_root(region))
    }

    fn chat_request(
        &self,
        inst: &ProviderInstance,
        req: &ChatRequest<'_>,
        model: &str,
        facts: ModelFacts,
        policy: UnsupportedPolicy,
    ) -> Result<NativeRequest, ApiError> {
        let path = model_path(model)?;
        let body = request::build_body(req, model, facts, policy)?;
        Ok(if req.stream {
            json_request(
                format!("{}{path}/converse-stream", inst.root),
                "application/vnd.amazon.eventstream",
                body,
            )
        } else {
            json_request(
                format!("{}{path}/converse", inst.root),
                "application/json",
                body,
            )
        })
    }

    fn chat_response(&self, body: &[u8], model: &str) -> Result<Vec<u8>, TranslateError> {
        response::translate(body, model, &next_id())
    }

    fn stream(&self, model: &str) -> Box<dyn StreamTranslator> {
        Box::new(stream::ConverseStream::new(model, &next_id()))
    }

    fn embed_request(
        &self,
        inst: &ProviderInstance,
        body: &[u8],
        model: &str,
    ) -> Result<NativeRequest, ApiError> {
        let fam = embed::embed_family(model).ok_or_else(|| {
            ApiError::invalid_request(
                "bedrock embeddings are served for amazon.titan-embed-* and cohere.embed-* models",
            )
        })?;
        let input = embed::read_input(body)?;
        let path = model_path(model)?;
        Ok(json_request(
            format!("{}{path}/invoke", inst.root),
            "application/json",
            embed::invoke_body(fam, &input)?,
        ))
    }

    fn embed_response(&self, body: &[u8], model: &str) -> Result<Vec<u8>, TranslateError> {
        self.embed_response_for(b"", body, model)
    }

    fn embed_response_for(
        &self,
        request: &[u8],
        body: &[u8],
        model: &str,
    ) -> Result<Vec<u8>, TranslateError> {
        let fam = embed::embed_family(model)
            .ok_or_else(|| TranslateError("not an embedding model".into()))?;
        let input = embed::read_input(request).ok();
        embed::translate(fam, input.as_ref(), body, model)
    }

    fn rerank_request(
        &self,
        inst: &ProviderInstance,
        req: &RerankRequest,
        model: &str,
    ) -> Result<NativeRequest, ApiError> {
        model_path(model)?;
        let body = serde_json::to_vec(&rerank::rerank_body(req, model, region(inst)))
            .map_err(|_| ApiError::internal("could not build the upstream request"))?;
        Ok(json_request(
            format!("{}/rerank", agent_root(inst)),
            "application/json",
            body,
        ))
    }

    fn rerank_response(&self, req: &RerankRequest, body: &[u8]) -> Result<Vec<u8>, TranslateError> {
        rerank::translate(req, body)
    }

    fn authorize<'a>(
        &'a self,
        _http: &'a reqwest::Client,
        inst: &'a ProviderInstance,
        req: &'a mut NativeRequest,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { auth::sign(inst, req, now()) })
    }

    fn error_body(&self, status: u16, body: &[u8]) -> Option<Vec<u8>> {
        errors::error_body(status, body)
    }

    fn map_status(&self, status: u16) -> u16 {
        errors::map_status(status)
    }

    fn param_support(&self, param: &str) -> ParamSupport {
        params::lookup(params::BEDROCK, param).unwrap_or(ParamSupport::Unsupported)
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
        crate::spec::find("bedrock").unwrap()
    }

    #[test]
    fn env_settings_roots_and_credentials() {
        let e = env(&[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_REGION", "eu-west-1"),
        ]);
        let s = Bedrock.settings_from_env(spec(), &e).unwrap();
        assert_eq!(
            Bedrock.root(spec(), &s).unwrap(),
            "https://bedrock-runtime.eu-west-1.amazonaws.com"
        );
        let inst = ProviderInstance::build(spec(), s).unwrap();
        assert!(
            inst.headers.is_empty(),
            "SigV4 instances carry no static auth"
        );
        assert_eq!(
            agent_root(&inst),
            "https://bedrock-agent-runtime.eu-west-1.amazonaws.com"
        );
        assert!(format!("{:?}", inst.secrets).contains("REDACTED"));
        assert_eq!(inst.secrets.len(), 2);

        let e = env(&[
            ("AWS_BEARER_TOKEN_BEDROCK", "bedrock-api-key"),
            ("BEDROCK_BASE_URL", "http://127.0.0.1:9"),
        ]);
        let s = Bedrock.settings_from_env(spec(), &e).unwrap();
        let inst = ProviderInstance::build(spec(), s).unwrap();
        assert_eq!(inst.root, "http://127.0.0.1:9");
        assert_eq!(agent_root(&inst), "http://127.0.0.1:9");
        assert_eq!(
            inst.headers[0].1.to_str().unwrap(),
            "Bearer bedrock-api-key"
        );
        // AWS_REGION alone registers nothing; a bad region is refused.
        assert!(Bedrock
            .settings_from_env(spec(), &env(&[("AWS_REGION", "us-east-1")]))
            .is_none());
        let e = env(&[("AWS_BEARER_TOKEN_BEDROCK", "k"), ("AWS_REGION", "us/../x")]);
        let s = Bedrock.settings_from_env(spec(), &e).unwrap();
        assert!(Bedrock.root(spec(), &s).is_err());
    }

    #[test]
    fn addressing_and_families() {
        assert_eq!(
            model_path("anthropic.claude-3-5-haiku-20241022-v1:0").unwrap(),
            "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0"
        );
        assert_eq!(
            model_path("arn:aws:bedrock:us-east-1:123:inference-profile/us.meta.llama3-1-8b-instruct-v1:0")
                .unwrap(),
            "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123%3Ainference-profile%2Fus.meta.llama3-1-8b-instruct-v1%3A0"
        );
        assert!(model_path("a/../b").is_err());
        assert!(model_path("a?b").is_err());
        assert_eq!(
            family("us.anthropic.claude-3-7-sonnet-20250219-v1:0"),
            Family::Anthropic
        );
        assert_eq!(family("amazon.nova-pro-v1:0"), Family::Nova);
        assert_eq!(family("meta.llama3-1-70b-instruct-v1:0"), Family::Llama);
        assert_eq!(family("openai.gpt-oss-120b-1:0"), Family::OpenAi);
        assert_eq!(family("x"), Family::Other);
    }
}
