//! Chat completion responses and stream chunks.

use super::chat::ToolCall;
use super::{gateway_extras, JsonMap, Usage};
use crate::untrusted::{de, Untrusted};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The model's message in a [`ChatCompletion`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AssistantMessage {
    /// Usually `assistant`.
    #[serde(default)]
    pub role: String,
    /// Text content.
    #[serde(default)]
    pub content: Option<String>,
    /// Tool calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// Reasoning text (gateway extra, when the provider returns it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// A refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// One choice of a [`ChatCompletion`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// Index.
    #[serde(default)]
    pub index: u32,
    /// The message.
    #[serde(default)]
    pub message: AssistantMessage,
    /// `stop`, `length`, `tool_calls`, `content_filter`…
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// Log probabilities, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Value>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// A chat completion, with Ferro's extras.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletion {
    /// Completion id.
    #[serde(default)]
    pub id: String,
    /// `chat.completion`.
    #[serde(default)]
    pub object: String,
    /// Unix seconds.
    #[serde(default)]
    pub created: u64,
    /// The model that answered.
    #[serde(default)]
    pub model: String,
    /// The choices.
    #[serde(default)]
    pub choices: Vec<Choice>,
    /// Token usage, cost and cache flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Trace id (body, else `x-request-id`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de::trace_id"
    )]
    pub trace_id: Option<Untrusted<String>>,
    /// Provider instance that served it (body, else `x-gateway-provider`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de::provider"
    )]
    pub provider: Option<Untrusted<String>>,
    /// Gateway overhead in ms (body, else `x-gateway-overhead-ms`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de::overhead_ms"
    )]
    pub gateway_overhead_ms: Option<Untrusted<f64>>,
    /// Provider-specific extras (e.g. citations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_metadata: Option<JsonMap>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: JsonMap,
}

impl ChatCompletion {
    /// The first choice's text, if any.
    pub fn content(&self) -> Option<&str> {
        self.choices.first()?.message.content.as_deref()
    }
}

/// A partial tool call in a stream delta.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolCallDelta {
    /// Which tool call this fragment belongs to.
    #[serde(default)]
    pub index: u32,
    /// Call id (first fragment only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `function` (first fragment only).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name and/or an arguments fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionCallDelta>,
}

/// A fragment of a function call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionCallDelta {
    /// Name (first fragment only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Arguments fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}

/// What a chunk adds to a choice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChunkDelta {
    /// Role (first chunk only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Text fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Tool-call fragments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallDelta>>,
    /// Reasoning fragment (gateway extra).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// One choice of a [`ChatCompletionChunk`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChunkChoice {
    /// Index.
    #[serde(default)]
    pub index: u32,
    /// The delta.
    #[serde(default)]
    pub delta: ChunkDelta,
    /// Set on the choice's last chunk.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// One streamed chunk. `trace_id` / `provider` are copied from the stream's
/// response headers onto every chunk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionChunk {
    /// Completion id.
    #[serde(default)]
    pub id: String,
    /// `chat.completion.chunk`.
    #[serde(default)]
    pub object: String,
    /// Unix seconds.
    #[serde(default)]
    pub created: u64,
    /// Model.
    #[serde(default)]
    pub model: String,
    /// Choices (empty on the usage-only chunk).
    #[serde(default)]
    pub choices: Vec<ChunkChoice>,
    /// Only on the final chunk, and only with `stream_options.include_usage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The stream's trace id.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de::trace_id"
    )]
    pub trace_id: Option<Untrusted<String>>,
    /// The stream's provider (when the gateway sends it).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de::provider"
    )]
    pub provider: Option<Untrusted<String>>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: JsonMap,
}

impl ChatCompletionChunk {
    /// The first choice's text fragment, if any.
    pub fn content(&self) -> Option<&str> {
        self.choices.first()?.delta.content.as_deref()
    }
}

gateway_extras!(ChatCompletion);
