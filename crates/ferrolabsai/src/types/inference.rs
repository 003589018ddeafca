//! Legacy completions, embeddings and images (moderations, rerank and the
//! Responses API are re-exported from here too).

use super::chat::{setters, Stop};
use super::{extras_fields, gateway_extras, JsonMap, Usage};
use crate::untrusted::{de, Untrusted};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /v1/completions` (legacy; the gateway wraps the prompt as one user
/// message; no streaming).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionRequest {
    /// Model id.
    pub model: String,
    /// The prompt (a single string).
    pub prompt: String,
    /// Completion token ceiling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Number of choices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    /// Echo the prompt before the completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo: Option<bool>,
    /// Sampling seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// End-user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Any other field, sent verbatim.
    #[serde(flatten)]
    pub extra: JsonMap,
}

impl CompletionRequest {
    /// A request for `model` completing `prompt`.
    pub fn new(model: impl Into<String>, prompt: impl Into<String>) -> Self {
        CompletionRequest {
            model: model.into(),
            prompt: prompt.into(),
            max_tokens: None,
            temperature: None,
            top_p: None,
            n: None,
            stop: None,
            echo: None,
            seed: None,
            user: None,
            extra: JsonMap::new(),
        }
    }

    setters! {
        /// Sets `max_tokens`.
        max_tokens: u32,
        /// Sets `temperature`.
        temperature: f64,
        /// Sets `top_p`.
        top_p: f64,
        /// Sets `n`.
        n: u32,
        /// Sets `stop`.
        stop: Stop,
        /// Sets `echo`.
        echo: bool,
        /// Sets `seed`.
        seed: i64,
        /// Sets `user`.
        user: String,
    }
}

/// One choice of a [`Completion`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompletionChoice {
    /// The text.
    #[serde(default)]
    pub text: String,
    /// Index.
    #[serde(default)]
    pub index: u32,
    /// Why it stopped.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// Other fields (`logprobs`, …).
    #[serde(flatten)]
    pub extra: JsonMap,
}

extras_fields! {
    /// A legacy completion.
    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    pub struct Completion {
        /// Id.
        #[serde(default)]
        pub id: String,
        /// `text_completion`.
        #[serde(default)]
        pub object: String,
        /// Unix seconds.
        #[serde(default)]
        pub created: u64,
        /// Model.
        #[serde(default)]
        pub model: String,
        /// Choices.
        #[serde(default)]
        pub choices: Vec<CompletionChoice>,
        /// Usage.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub usage: Option<Usage>,
    }
}

/// Embeddings input: one text, several, or token arrays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EmbeddingInput {
    /// One text.
    Text(String),
    /// Several texts.
    Texts(Vec<String>),
    /// Raw JSON (token arrays…).
    Raw(Value),
}

impl From<&str> for EmbeddingInput {
    fn from(s: &str) -> Self {
        EmbeddingInput::Text(s.to_owned())
    }
}

impl From<String> for EmbeddingInput {
    fn from(s: String) -> Self {
        EmbeddingInput::Text(s)
    }
}

impl From<Vec<String>> for EmbeddingInput {
    fn from(v: Vec<String>) -> Self {
        EmbeddingInput::Texts(v)
    }
}

impl From<Vec<&str>> for EmbeddingInput {
    fn from(v: Vec<&str>) -> Self {
        EmbeddingInput::Texts(v.into_iter().map(str::to_owned).collect())
    }
}

/// `POST /v1/embeddings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingRequest {
    /// Model id.
    pub model: String,
    /// What to embed.
    pub input: EmbeddingInput,
    /// `float` or `base64` (Ferro always answers with float arrays).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_format: Option<String>,
    /// Output dimensions (models that support it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    /// End-user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Any other field, sent verbatim.
    #[serde(flatten)]
    pub extra: JsonMap,
}

impl EmbeddingRequest {
    /// A request embedding `input` with `model`.
    pub fn new(model: impl Into<String>, input: impl Into<EmbeddingInput>) -> Self {
        EmbeddingRequest {
            model: model.into(),
            input: input.into(),
            encoding_format: None,
            dimensions: None,
            user: None,
            extra: JsonMap::new(),
        }
    }

    setters! {
        /// Sets `encoding_format`.
        encoding_format: String,
        /// Sets `dimensions`.
        dimensions: u32,
        /// Sets `user`.
        user: String,
    }
}

/// An embedding vector: floats, or base64 text from servers that honour
/// `encoding_format: base64`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EmbeddingVector {
    /// Floats.
    Float(Vec<f32>),
    /// Base64 of little-endian f32s.
    Base64(String),
}

impl Default for EmbeddingVector {
    fn default() -> Self {
        EmbeddingVector::Float(Vec::new())
    }
}

impl EmbeddingVector {
    /// The floats, when the server sent floats.
    pub fn as_floats(&self) -> Option<&[f32]> {
        match self {
            EmbeddingVector::Float(v) => Some(v),
            EmbeddingVector::Base64(_) => None,
        }
    }
}

/// One embedding.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Embedding {
    /// Position in the input.
    #[serde(default)]
    pub index: u32,
    /// The vector.
    #[serde(default)]
    pub embedding: EmbeddingVector,
    /// `embedding`.
    #[serde(default)]
    pub object: String,
    /// Other fields.
    #[serde(flatten)]
    pub extra: JsonMap,
}

extras_fields! {
    /// `POST /v1/embeddings` answer.
    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    pub struct EmbeddingResponse {
        /// `list`.
        #[serde(default)]
        pub object: String,
        /// The embeddings.
        #[serde(default)]
        pub data: Vec<Embedding>,
        /// Model.
        #[serde(default)]
        pub model: String,
        /// Usage.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub usage: Option<Usage>,
    }
}

/// `POST /v1/images/generations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageRequest {
    /// Model id.
    pub model: String,
    /// What to draw.
    pub prompt: String,
    /// How many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// `1024x1024`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// `standard`, `hd`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<String>,
    /// `url` or `b64_json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<String>,
    /// `vivid`, `natural`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<String>,
    /// End-user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Any other field, sent verbatim.
    #[serde(flatten)]
    pub extra: JsonMap,
}

impl ImageRequest {
    /// A request drawing `prompt` with `model`.
    pub fn new(model: impl Into<String>, prompt: impl Into<String>) -> Self {
        ImageRequest {
            model: model.into(),
            prompt: prompt.into(),
            n: None,
            size: None,
            quality: None,
            response_format: None,
            style: None,
            user: None,
            extra: JsonMap::new(),
        }
    }

    setters! {
        /// Sets `n`.
        n: u32,
        /// Sets `size`.
        size: String,
        /// Sets `quality`.
        quality: String,
        /// Sets `response_format`.
        response_format: String,
        /// Sets `style`.
        style: String,
        /// Sets `user`.
        user: String,
    }
}

/// One generated image.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// URL (when `response_format` is `url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Base64 image (when `b64_json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b64_json: Option<String>,
    /// The prompt the model actually used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revised_prompt: Option<String>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: JsonMap,
}

extras_fields! {
    /// `POST /v1/images/generations` answer.
    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    pub struct ImageResponse {
        /// Unix seconds.
        #[serde(default)]
        pub created: u64,
        /// The images.
        #[serde(default)]
        pub data: Vec<Image>,
        /// Usage (some providers).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub usage: Option<Usage>,
    }
}

gateway_extras!(Completion, EmbeddingResponse, ImageResponse);

pub use super::inference_more::{
    ModerationRequest, ModerationResponse, ModerationResult, RerankRequest, RerankResponse,
    RerankResult, Response, ResponseUsage,
};
