//! Moderations, rerank and the Responses API.

use super::chat::setters;
use super::{extras_fields, gateway_extras, JsonMap};
use crate::untrusted::{de, Untrusted};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /v1/moderations`. Without `model`, Ferro uses the default moderation
/// model of the first target that offers moderation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModerationRequest {
    /// Text(s) or multimodal parts.
    pub input: Value,
    /// Model id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Any other field, sent verbatim.
    #[serde(flatten)]
    pub extra: JsonMap,
}

impl ModerationRequest {
    /// A request classifying `input` (a string, or an array).
    pub fn new(input: impl Into<Value>) -> Self {
        ModerationRequest {
            input: input.into(),
            model: None,
            extra: JsonMap::new(),
        }
    }

    /// Sets `model`.
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }
}

/// One moderation verdict.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModerationResult {
    /// Whether any category fired.
    #[serde(default)]
    pub flagged: bool,
    /// Category → fired.
    #[serde(default)]
    pub categories: JsonMap,
    /// Category → score.
    #[serde(default)]
    pub category_scores: JsonMap,
    /// Other fields.
    #[serde(flatten)]
    pub extra: JsonMap,
}

extras_fields! {
    /// `POST /v1/moderations` answer.
    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    pub struct ModerationResponse {
        /// Id.
        #[serde(default)]
        pub id: String,
        /// Model.
        #[serde(default)]
        pub model: String,
        /// One result per input.
        #[serde(default)]
        pub results: Vec<ModerationResult>,
    }
}

/// `POST /v1/rerank` (Cohere v2 contract).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RerankRequest {
    /// Model id.
    pub model: String,
    /// The query.
    pub query: String,
    /// Documents (strings, or objects with `text`).
    pub documents: Vec<Value>,
    /// Keep the best `top_n` (0 → none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_n: Option<u32>,
    /// Echo documents in the results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_documents: Option<bool>,
    /// Per-document token cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens_per_doc: Option<u32>,
    /// Any other field, sent verbatim.
    #[serde(flatten)]
    pub extra: JsonMap,
}

impl RerankRequest {
    /// A request ranking `documents` against `query`.
    pub fn new<D: Into<Value>>(
        model: impl Into<String>,
        query: impl Into<String>,
        documents: impl IntoIterator<Item = D>,
    ) -> Self {
        RerankRequest {
            model: model.into(),
            query: query.into(),
            documents: documents.into_iter().map(Into::into).collect(),
            top_n: None,
            return_documents: None,
            max_tokens_per_doc: None,
            extra: JsonMap::new(),
        }
    }

    setters! {
        /// Sets `top_n`.
        top_n: u32,
        /// Sets `return_documents`.
        return_documents: bool,
        /// Sets `max_tokens_per_doc`.
        max_tokens_per_doc: u32,
    }
}

/// One ranked document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RerankResult {
    /// Index in the request's `documents`.
    #[serde(default)]
    pub index: u32,
    /// Relevance.
    #[serde(default)]
    pub relevance_score: f64,
    /// The document (with `return_documents`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<Value>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: JsonMap,
}

extras_fields! {
    /// `POST /v1/rerank` answer.
    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    pub struct RerankResponse {
        /// Id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub id: Option<String>,
        /// Ranked results, best first.
        #[serde(default)]
        pub results: Vec<RerankResult>,
        /// Model.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub model: Option<String>,
        /// Provider metadata (billed units…).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub meta: Option<Value>,
    }
}

/// Usage of a Responses-API response, with Ferro's extras.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseUsage {
    /// Input tokens.
    #[serde(default)]
    pub input_tokens: u64,
    /// Output tokens.
    #[serde(default)]
    pub output_tokens: u64,
    /// Total tokens.
    #[serde(default)]
    pub total_tokens: u64,
    /// Cost in USD as the gateway computed it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de::cost_usd"
    )]
    pub cost_usd: Option<Untrusted<f64>>,
    /// Served from the gateway's cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_hit: Option<bool>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: JsonMap,
}

extras_fields! {
    /// A Responses-API object (`POST /v1/responses`, `GET /v1/responses/{id}`).
    /// Only the stable top-level fields are typed; the rest is in `extra`.
    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    pub struct Response {
        /// Id.
        #[serde(default)]
        pub id: String,
        /// `response`.
        #[serde(default)]
        pub object: String,
        /// Unix seconds.
        #[serde(default)]
        pub created_at: u64,
        /// `completed`, `in_progress`, `failed`, …
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub status: Option<String>,
        /// Model.
        #[serde(default)]
        pub model: String,
        /// Output items, as sent.
        #[serde(default)]
        pub output: Vec<Value>,
        /// Usage.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub usage: Option<ResponseUsage>,
    }
}

impl Response {
    /// Concatenated `output_text` parts of all `message` output items.
    pub fn output_text(&self) -> String {
        self.output
            .iter()
            .filter(|o| o.get("type").and_then(Value::as_str) == Some("message"))
            .filter_map(|o| o.get("content").and_then(Value::as_array))
            .flatten()
            .filter(|c| c.get("type").and_then(Value::as_str) == Some("output_text"))
            .filter_map(|c| c.get("text").and_then(Value::as_str))
            .collect()
    }
}

gateway_extras!(ModerationResponse, RerankResponse, Response);
