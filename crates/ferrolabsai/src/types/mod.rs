//! Typed request and response bodies.
//!
//! Responses keep every field they do not model in `extra` (a
//! `#[serde(flatten)]` map), so nothing a newer gateway adds is lost and a
//! response re-serialises to what was received. Request structs have an
//! `extra` map too: its entries are sent verbatim as top-level fields (the
//! gateway forwards unknown fields to OpenAI-wire upstreams).
//!
//! Ferro's extras (`trace_id`, `provider`, `gateway_overhead_ms`,
//! `usage.cost_usd`) are [`Untrusted`] values; `usage.cache_hit` is a plain
//! `Option<bool>`.

pub mod admin;
pub mod chat;
mod chat_response;
pub mod inference;
mod inference_more;
pub mod models;

use crate::untrusted::{self, de, Untrusted};
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};

/// A JSON object: the `extra` fields of requests and responses.
pub type JsonMap = serde_json::Map<String, serde_json::Value>;

/// Token usage, with Ferro's `cost_usd` and `cache_hit` extras.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens (includes cached tokens).
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Completion tokens (includes reasoning tokens).
    #[serde(default)]
    pub completion_tokens: u64,
    /// Total tokens.
    #[serde(default)]
    pub total_tokens: u64,
    /// Reasoning tokens (gateway extra; omitted when zero).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
    /// Tokens read from the provider's prompt cache (gateway extra).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_tokens: Option<u64>,
    /// Tokens written to the provider's prompt cache (gateway extra).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_tokens: Option<u64>,
    /// Cost of the request in USD as the gateway computed it; `None` when the
    /// model is unpriced (unpriced is not free) or the value was invalid.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de::cost_usd"
    )]
    pub cost_usd: Option<Untrusted<f64>>,
    /// Whether the gateway served this from its response cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_hit: Option<bool>,
    /// Other fields (`prompt_tokens_details`, …).
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// The answer to a `DELETE` of an object (`{id, object, deleted}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Deleted {
    /// The deleted object's id.
    #[serde(default)]
    pub id: String,
    /// The object type.
    #[serde(default)]
    pub object: String,
    /// Whether it was deleted.
    #[serde(default)]
    pub deleted: bool,
    /// Other fields.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// Response bodies that carry the gateway's per-request extras. When the body
/// lacks one (or it fails validation), the response header is used:
/// `x-request-id` → `trace_id`, `x-gateway-provider` → `provider`,
/// `x-gateway-overhead-ms` → `gateway_overhead_ms` (CONTRACT §2.2).
pub(crate) trait GatewayExtras {
    fn fill_from_headers(&mut self, headers: &HeaderMap);
}

fn header<'h>(h: &'h HeaderMap, name: &str) -> Option<&'h str> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The stream/response-level trace id and provider from headers.
pub(crate) fn header_ids(h: &HeaderMap) -> (Option<Untrusted<String>>, Option<Untrusted<String>>) {
    (
        header(h, "x-request-id").and_then(|v| untrusted::trace_id_from("trace_id", v)),
        header(h, "x-gateway-provider").and_then(untrusted::provider_from),
    )
}

pub(crate) fn fill_extras(
    trace_id: &mut Option<Untrusted<String>>,
    provider: &mut Option<Untrusted<String>>,
    overhead: &mut Option<Untrusted<f64>>,
    h: &HeaderMap,
) {
    if trace_id.is_none() || provider.is_none() {
        let (t, p) = header_ids(h);
        if trace_id.is_none() {
            *trace_id = t;
        }
        if provider.is_none() {
            *provider = p;
        }
    }
    if overhead.is_none() {
        *overhead = header(h, "x-gateway-overhead-ms").and_then(|v| match v.parse::<f64>() {
            Ok(ms) => untrusted::check_amount("gateway_overhead_ms", ms),
            Err(_) => untrusted::check_amount("gateway_overhead_ms", f64::NAN),
        });
    }
}

/// Implements [`GatewayExtras`] for types with the three extras fields.
macro_rules! gateway_extras {
    ($($t:ty),* $(,)?) => {$(
        impl $crate::types::GatewayExtras for $t {
            fn fill_from_headers(&mut self, h: &::reqwest::header::HeaderMap) {
                $crate::types::fill_extras(
                    &mut self.trace_id,
                    &mut self.provider,
                    &mut self.gateway_overhead_ms,
                    h,
                );
            }
        }
    )*};
}
pub(crate) use gateway_extras;

/// Declares the three Ferro extras fields on a response struct.
macro_rules! extras_fields {
    ($(#[$m:meta])* pub struct $name:ident { $($body:tt)* }) => {
        $(#[$m])*
        pub struct $name {
            $($body)*
            /// Trace id (body, else `x-request-id`).
            #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "de::trace_id")]
            pub trace_id: Option<Untrusted<String>>,
            /// Provider instance that served it (body, else `x-gateway-provider`).
            #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "de::provider")]
            pub provider: Option<Untrusted<String>>,
            /// Gateway overhead in ms (body, else `x-gateway-overhead-ms`).
            #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "de::overhead_ms")]
            pub gateway_overhead_ms: Option<Untrusted<f64>>,
            /// Other fields.
            #[serde(flatten)]
            pub extra: JsonMap,
        }
    };
}
pub(crate) use extras_fields;

/// Serde helper: skip `false`.
pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn usage_keeps_unknown_fields_and_validates_cost() {
        let u: Usage = serde_json::from_str(
            r#"{"prompt_tokens":6,"completion_tokens":10,"total_tokens":16,"cost_usd":0.0000069,
                "cache_hit":false,"prompt_tokens_details":{"cached_tokens":0}}"#,
        )
        .unwrap();
        assert_eq!(u.cost_usd.as_ref().unwrap().value(), 0.0000069);
        assert_eq!(u.cache_hit, Some(false));
        assert!(u.extra.contains_key("prompt_tokens_details"));
        let back = serde_json::to_value(&u).unwrap();
        assert_eq!(back["prompt_tokens_details"]["cached_tokens"], 0);
        assert_eq!(back["cost_usd"], 0.0000069);
        let u: Usage = serde_json::from_str(r#"{"cost_usd":-1}"#).unwrap();
        assert!(u.cost_usd.is_none());
        let u: Usage = serde_json::from_str(r#"{"cost_usd":null}"#).unwrap();
        assert!(u.cost_usd.is_none());
    }

    #[test]
    fn headers_fill_only_missing_extras() {
        let mut h = HeaderMap::new();
        h.insert("x-request-id", HeaderValue::from_static("hdr_trace"));
        h.insert("x-gateway-provider", HeaderValue::from_static("groq"));
        h.insert("x-gateway-overhead-ms", HeaderValue::from_static("1.250"));
        let mut t = Untrusted::trace_id("body_trace");
        let mut p = None;
        let mut o = None;
        fill_extras(&mut t, &mut p, &mut o, &h);
        assert_eq!(t.unwrap(), "body_trace");
        assert_eq!(p.unwrap(), "groq");
        assert_eq!(o.unwrap(), 1.25);
        h.insert("x-gateway-overhead-ms", HeaderValue::from_static("-4"));
        h.insert("x-request-id", HeaderValue::from_static("bad id"));
        let (mut t, mut p, mut o) = (None, None, None);
        fill_extras(&mut t, &mut p, &mut o, &h);
        assert!(t.is_none() && o.is_none());
        assert!(p.is_some());
    }
}
