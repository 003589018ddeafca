//! The model catalog, the capability matrix and the probes.

use super::JsonMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// One entry of `GET /v1/models` (catalog-enriched).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Model id, as you send it in requests.
    #[serde(default)]
    pub id: String,
    /// `model`.
    #[serde(default)]
    pub object: String,
    /// Unix seconds.
    #[serde(default)]
    pub created: u64,
    /// The provider (target) that serves it.
    #[serde(default)]
    pub owned_by: String,
    /// `chat`, `embedding`, `image`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Context window in tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u64>,
    /// Output ceiling in tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    /// `vision`, `function_calling`, `streaming`, `reasoning`, …
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Lifecycle status (`ga`, `preview`, `deprecated`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Deprecated model.
    #[serde(default, skip_serializing_if = "super::is_false")]
    pub deprecated: bool,
    /// Catalog prices, USD per million tokens (`input_per_m_tokens`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing: Option<JsonMap>,
    /// USD per input token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_cost_per_token: Option<f64>,
    /// USD per output token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_cost_per_token: Option<f64>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: JsonMap,
}

impl ModelInfo {
    /// Alias for `owned_by`: the provider that serves this model.
    pub fn provider(&self) -> &str {
        &self.owned_by
    }

    /// Whether `capabilities` lists `capability`.
    pub fn has_capability(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }
}

/// `GET /v1/models`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ModelList {
    #[serde(default)]
    pub data: Vec<ModelInfo>,
}

/// `GET /v1/capabilities`: how each configured provider handles each parameter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CapabilityMatrix {
    /// provider → parameter → `forward` | `translate` | `unsupported`.
    #[serde(default)]
    pub providers: BTreeMap<String, BTreeMap<String, String>>,
    /// provider → image `response_format`s it supports.
    #[serde(default)]
    pub image_response_formats: BTreeMap<String, Vec<String>>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `GET /health`: returned for 200 and for 503 (a degraded gateway is an
/// answer, not an error).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// The HTTP status the probe answered with (200 or 503).
    #[serde(skip)]
    pub http_status: u16,
    /// `ok`, `degraded`, `no_providers`, …
    #[serde(default)]
    pub status: String,
    /// Gateway version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Build commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Build time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub built: Option<String>,
    /// Registered providers and their state, as sent (an array on Ferro).
    #[serde(default)]
    pub providers: Value,
    /// Other fields.
    #[serde(flatten)]
    pub extra: JsonMap,
}

impl Health {
    /// Whether the probe answered 2xx.
    pub fn is_healthy(&self) -> bool {
        (200..300).contains(&self.http_status)
    }
}

/// `GET /readyz` or `GET /livez` (a 503 body is returned, not raised).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// The HTTP status the probe answered with.
    #[serde(skip)]
    pub http_status: u16,
    /// `ready`, `not_ready`, `ok`.
    #[serde(default)]
    pub status: String,
    /// Why it is not ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Other fields (`providers`, `targets`, `mcp_servers`, …).
    #[serde(flatten)]
    pub extra: JsonMap,
}

impl Probe {
    /// Whether the probe answered 2xx.
    pub fn is_ok(&self) -> bool {
        (200..300).contains(&self.http_status)
    }
}

/// Keeps the models owned by `provider` and listing `capability`.
pub(crate) fn filter(
    models: Vec<ModelInfo>,
    provider: Option<&str>,
    capability: Option<&str>,
) -> Vec<ModelInfo> {
    models
        .into_iter()
        .filter(|m| provider.is_none_or(|p| m.owned_by == p))
        .filter(|m| capability.is_none_or(|c| m.has_capability(c)))
        .collect()
}

/// Case-insensitive substring match on the model id.
pub(crate) fn search(models: Vec<ModelInfo>, query: &str) -> Vec<ModelInfo> {
    let needle = query.to_lowercase();
    models
        .into_iter()
        .filter(|m| m.id.to_lowercase().contains(&needle))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn m(id: &str, owner: &str, caps: &[&str]) -> ModelInfo {
        ModelInfo {
            id: id.into(),
            owned_by: owner.into(),
            capabilities: caps.iter().map(|c| c.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn client_side_filters() {
        let all = vec![
            m("gpt-4o", "openai", &["vision", "streaming"]),
            m("gpt-4o-mini", "openai", &["streaming"]),
            m("Llama-3.3-70B", "groq", &["streaming"]),
        ];
        assert_eq!(filter(all.clone(), Some("openai"), None).len(), 2);
        assert_eq!(filter(all.clone(), None, Some("vision")).len(), 1);
        assert_eq!(filter(all.clone(), Some("groq"), Some("vision")).len(), 0);
        assert_eq!(filter(all.clone(), None, None).len(), 3);
        let found = search(all, "llama");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].provider(), "groq");
    }
}
