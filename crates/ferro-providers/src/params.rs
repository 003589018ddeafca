//! The compatibility matrix (CONTRACT §9: "per-parameter support is one
//! declarative matrix, default `forward`"): for each provider type, how each
//! OpenAI chat parameter reaches it. It drives both
//! `compatibility.on_unsupported_param` (translating adapters call
//! [`enforce`] for every parameter their row marks `unsupported`) and
//! `GET /v1/capabilities` (which publishes [`profile`] per configured provider).
//!
//! Rows are exceptions to a default: OpenAI-wire providers forward their
//! body verbatim, so every parameter is `forward` for them; a translating
//! provider's row lists every OpenAI parameter (absent = not an OpenAI
//! parameter, never sent). The Anthropic row is that adapter's own table
//! ([`crate::anthropic::PARAMS`]); Gemini and Vertex AI answer through their
//! adapters' `param_support`.

use crate::native::{self, ParamSupport, UnsupportedPolicy};
use ferro_types::json::truncate;
use ferro_types::{ApiError, ErrorType};
use serde_json::{json, Map, Value};

use ParamSupport::{Forward, Translate, Unsupported};

/// The OpenAI chat parameters `GET /v1/capabilities` reports on. `stream` and
/// `stream_options` are left out: the gateway resolves them above providers.
pub const CHAT_PARAMS: &[&str] = &[
    "temperature",
    "top_p",
    "n",
    "seed",
    "max_tokens",
    "max_completion_tokens",
    "presence_penalty",
    "frequency_penalty",
    "stop",
    "tools",
    "tool_choice",
    "response_format",
    "logprobs",
    "top_logprobs",
    "parallel_tool_calls",
    "user",
    "logit_bias",
    "reasoning_effort",
];

/// Bedrock Converse (every model family; family limits are the upstream's).
pub const BEDROCK: &[(&str, ParamSupport)] = &[
    ("model", Translate),
    ("messages", Translate),
    ("stream", Translate),
    ("stream_options", Translate),
    ("max_tokens", Translate),
    ("max_completion_tokens", Translate),
    ("temperature", Translate),
    ("top_p", Translate),
    ("stop", Translate),
    ("tools", Translate),
    ("tool_choice", Translate),
    ("response_format", Translate),
    ("reasoning_effort", Translate),
    ("top_k", Translate),
    ("n", Unsupported),
    ("seed", Unsupported),
    ("presence_penalty", Unsupported),
    ("frequency_penalty", Unsupported),
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
];

/// Cohere v2 chat.
pub const COHERE: &[(&str, ParamSupport)] = &[
    ("model", Forward),
    ("messages", Translate),
    ("stream", Forward),
    ("stream_options", Translate),
    ("max_tokens", Forward),
    ("max_completion_tokens", Translate),
    ("temperature", Forward),
    ("top_p", Translate),
    ("top_k", Translate),
    ("seed", Forward),
    ("presence_penalty", Translate),
    ("frequency_penalty", Translate),
    ("stop", Translate),
    ("tools", Translate),
    ("tool_choice", Translate),
    ("response_format", Translate),
    ("reasoning_effort", Translate),
    ("n", Unsupported),
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
];

/// The declared row of a translating provider, if it has one here.
pub fn row(provider_id: &str) -> Option<&'static [(&'static str, ParamSupport)]> {
    match provider_id {
        "anthropic" => Some(crate::anthropic::PARAMS),
        "bedrock" => Some(BEDROCK),
        "cohere" => Some(COHERE),
        _ => None,
    }
}

/// Support of `param` in a declared row (`None`: not an OpenAI parameter).
pub fn lookup(row: &[(&str, ParamSupport)], param: &str) -> Option<ParamSupport> {
    row.iter().find(|(p, _)| *p == param).map(|(_, s)| *s)
}

/// How provider type `provider_id` treats `param`: its row, else its native
/// adapter, else `forward` (OpenAI wire, mock).
pub fn support(provider_id: &str, param: &str) -> ParamSupport {
    if let Some(r) = row(provider_id) {
        return lookup(r, param).unwrap_or(Unsupported);
    }
    match native::adapter(provider_id) {
        Some(a) => a.param_support(param),
        None => Forward,
    }
}

/// The capability profile of a provider type over [`CHAT_PARAMS`].
pub fn profile(provider_id: &str) -> Map<String, Value> {
    CHAT_PARAMS
        .iter()
        .map(|p| ((*p).to_owned(), json!(support(provider_id, p).as_str())))
        .collect()
}

/// Image `response_format` values a provider's image surface can produce,
/// for providers restricted to some (absent = unconstrained).
pub const IMAGE_RESPONSE_FORMATS: &[(&str, &[&str])] = &[
    ("bedrock", &["b64_json"]),
    ("gemini", &["b64_json"]),
    ("hugging-face", &["b64_json"]),
    ("replicate", &["url"]),
    ("vertex-ai", &["b64_json"]),
];

/// The restricted image formats of a provider type, if any.
pub fn image_response_formats(provider_id: &str) -> Option<&'static [&'static str]> {
    IMAGE_RESPONSE_FORMATS
        .iter()
        .find(|(p, _)| *p == provider_id)
        .map(|(_, f)| *f)
}

/// An unsupported parameter whose value is OpenAI's default does nothing, so
/// it is not a use (`n: 1`, `logprobs: false`, `parallel_tool_calls: true`…).
pub fn inert(param: &str, v: &Value) -> bool {
    match param {
        "n" => v.as_u64() == Some(1),
        "logprobs" | "store" => v == &Value::Bool(false),
        "parallel_tool_calls" => v == &Value::Bool(true),
        "presence_penalty" | "frequency_penalty" | "top_logprobs" => v.as_f64() == Some(0.0),
        "logit_bias" | "metadata" => v.as_object().is_some_and(Map::is_empty),
        "modalities" => v == &json!(["text"]),
        "service_tier" => v.as_str() == Some("auto"),
        _ => v.is_null(),
    }
}

/// Applies `compatibility.on_unsupported_param` to one parameter `provider_id`
/// cannot express: warn (log, drop), drop, or reject (400 `unsupported_parameter`).
pub fn enforce(provider_id: &str, param: &str, policy: UnsupportedPolicy) -> Result<(), ApiError> {
    match policy {
        UnsupportedPolicy::Reject => Err(ApiError::new(
            400,
            ErrorType::InvalidRequestError,
            "unsupported_parameter",
            format!(
                "parameter `{}` is not supported by provider {provider_id}",
                truncate(param, 64)
            ),
        )),
        UnsupportedPolicy::Warn => {
            tracing::warn!(
                provider = provider_id,
                param = truncate(param, 64),
                "parameter not supported by the provider; dropped"
            );
            Ok(())
        }
        UnsupportedPolicy::Drop => Ok(()),
    }
}

/// For a top-level field a translator does not map: applies the policy when
/// the row marks it `unsupported` and its value is not inert; anything else
/// (not an OpenAI parameter) is silently never sent.
pub fn check_unmapped(
    provider_id: &str,
    row: &[(&str, ParamSupport)],
    param: &str,
    value: &Value,
    policy: UnsupportedPolicy,
) -> Result<(), ApiError> {
    if lookup(row, param) == Some(Unsupported) && !inert(param, value) {
        enforce(provider_id, param, policy)?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rows_cover_every_reported_param() {
        for id in ["anthropic", "bedrock", "cohere"] {
            let r = row(id).unwrap();
            for p in CHAT_PARAMS {
                assert!(lookup(r, p).is_some(), "{id} row lacks {p}");
            }
        }
    }

    #[test]
    fn openai_wire_forwards_everything() {
        let p = profile("groq");
        assert_eq!(p.len(), CHAT_PARAMS.len());
        assert!(p.values().all(|v| v == "forward"));
        assert_eq!(support("bedrock", "logit_bias"), Unsupported);
        assert_eq!(support("cohere", "seed"), Forward);
        assert_eq!(support("bedrock", "not_openai"), Unsupported);
    }

    #[test]
    fn policy() {
        assert!(enforce("cohere", "n", UnsupportedPolicy::Warn).is_ok());
        assert!(enforce("cohere", "n", UnsupportedPolicy::Drop).is_ok());
        let e = enforce("cohere", "n", UnsupportedPolicy::Reject).unwrap_err();
        assert_eq!((e.status, e.code.as_ref()), (400, "unsupported_parameter"));
        assert!(inert("n", &json!(1)) && !inert("n", &json!(2)));
        assert!(inert("parallel_tool_calls", &json!(true)));
        let r = check_unmapped(
            "bedrock",
            BEDROCK,
            "seed",
            &json!(7),
            UnsupportedPolicy::Reject,
        );
        assert!(r.is_err());
        let r = check_unmapped(
            "bedrock",
            BEDROCK,
            "x_vendor",
            &json!(7),
            UnsupportedPolicy::Reject,
        );
        assert!(r.is_ok());
        assert_eq!(image_response_formats("bedrock"), Some(&["b64_json"][..]));
        assert_eq!(image_response_formats("openai"), None);
    }
}
