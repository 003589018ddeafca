//! Chat completions: request, response and stream chunk.

use super::JsonMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use super::chat_response::{
    AssistantMessage, ChatCompletion, ChatCompletionChunk, Choice, ChunkChoice, ChunkDelta,
    FunctionCallDelta, ToolCallDelta,
};

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// System instructions.
    System,
    /// Developer instructions (newer OpenAI models).
    Developer,
    /// The end user.
    User,
    /// The model.
    Assistant,
    /// A tool result.
    Tool,
    /// A legacy function result.
    Function,
}

/// Message content: a string or a list of content parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MessageContent {
    /// Plain text.
    Text(String),
    /// Content parts (`{"type":"text",…}`, `{"type":"image_url",…}`, …).
    Parts(Vec<Value>),
}

impl MessageContent {
    /// A `{"type":"text","text":…}` part.
    pub fn text_part(text: impl Into<String>) -> Value {
        serde_json::json!({"type": "text", "text": text.into()})
    }

    /// A `{"type":"image_url","image_url":{"url":…}}` part.
    pub fn image_url_part(url: impl Into<String>) -> Value {
        serde_json::json!({"type": "image_url", "image_url": {"url": url.into()}})
    }
}

impl From<String> for MessageContent {
    fn from(s: String) -> Self {
        MessageContent::Text(s)
    }
}

impl From<&str> for MessageContent {
    fn from(s: &str) -> Self {
        MessageContent::Text(s.to_owned())
    }
}

/// A message sent to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: Role,
    /// Its content (`None` for an assistant message that only calls tools).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<MessageContent>,
    /// Optional participant name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Tool calls of an assistant message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// The call a `tool` message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// Other fields, sent verbatim.
    #[serde(flatten)]
    pub extra: JsonMap,
}

impl ChatMessage {
    /// A message with `role` and text `content`.
    pub fn new(role: Role, content: impl Into<MessageContent>) -> Self {
        ChatMessage {
            role,
            content: Some(content.into()),
            name: None,
            tool_calls: None,
            tool_call_id: None,
            extra: JsonMap::new(),
        }
    }

    /// A `system` message.
    pub fn system(content: impl Into<MessageContent>) -> Self {
        Self::new(Role::System, content)
    }

    /// A `developer` message.
    pub fn developer(content: impl Into<MessageContent>) -> Self {
        Self::new(Role::Developer, content)
    }

    /// A `user` message.
    pub fn user(content: impl Into<MessageContent>) -> Self {
        Self::new(Role::User, content)
    }

    /// An `assistant` message.
    pub fn assistant(content: impl Into<MessageContent>) -> Self {
        Self::new(Role::Assistant, content)
    }

    /// A `tool` message answering `tool_call_id`.
    pub fn tool(tool_call_id: impl Into<String>, content: impl Into<MessageContent>) -> Self {
        ChatMessage {
            tool_call_id: Some(tool_call_id.into()),
            ..Self::new(Role::Tool, content)
        }
    }
}

impl From<&AssistantMessage> for ChatMessage {
    /// Turns a reply into a message for the next turn of the conversation.
    fn from(m: &AssistantMessage) -> Self {
        ChatMessage {
            role: Role::Assistant,
            content: m.content.clone().map(MessageContent::Text),
            name: None,
            tool_calls: m.tool_calls.clone(),
            tool_call_id: None,
            extra: JsonMap::new(),
        }
    }
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// Always `function` today.
    #[serde(rename = "type")]
    pub kind: String,
    /// The function.
    pub function: FunctionDefinition,
}

impl Tool {
    /// A function tool with a JSON-Schema `parameters` object.
    pub fn function(
        name: impl Into<String>,
        description: impl Into<String>,
        parameters: Value,
    ) -> Self {
        Tool {
            kind: "function".into(),
            function: FunctionDefinition {
                name: name.into(),
                description: Some(description.into()),
                parameters: Some(parameters),
                strict: None,
            },
        }
    }
}

/// A function's signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionDefinition {
    /// Name.
    pub name: String,
    /// What it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of its arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    /// Strict schema adherence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// A tool call made by the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Call id (echo it in the `tool` message).
    #[serde(default)]
    pub id: String,
    /// Always `function` today.
    #[serde(rename = "type", default = "function_kind")]
    pub kind: String,
    /// Function name and JSON arguments.
    pub function: FunctionCall,
}

fn function_kind() -> String {
    "function".into()
}

/// A function call: name and JSON-encoded arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    /// Function name.
    #[serde(default)]
    pub name: String,
    /// Arguments as a JSON string.
    #[serde(default)]
    pub arguments: String,
}

/// `stop`: one sequence or several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    /// One stop sequence.
    One(String),
    /// Several.
    Many(Vec<String>),
}

/// `stream_options`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamOptions {
    /// Ask for a final chunk carrying `usage` (and Ferro's `cost_usd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_usage: Option<bool>,
}

/// `POST /v1/chat/completions`. `stream` is set by the method you call
/// ([`create`](crate::ChatCompletions::create) or
/// [`stream`](crate::ChatCompletions::stream)); a `stream` key in `extra` is
/// overridden.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionRequest {
    /// Model id; the gateway routes it to a provider.
    pub model: String,
    /// The conversation.
    pub messages: Vec<ChatMessage>,
    /// Sampling temperature (0–2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Completion token ceiling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Completion token ceiling (supersedes `max_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    /// Nucleus sampling (0–1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Frequency penalty (−2–2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// Presence penalty (−2–2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    /// Sampling seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Number of choices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    /// `auto`, `none`, `required` or a specific tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    /// Allow parallel tool calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// `{"type":"json_object"}` or a `json_schema` spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
    /// Stream options (only meaningful when streaming).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// End-user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Any other field, sent verbatim at top level.
    #[serde(flatten)]
    pub extra: JsonMap,
}

macro_rules! setters {
    ($($(#[$m:meta])* $name:ident: $ty:ty),* $(,)?) => {$(
        $(#[$m])*
        pub fn $name(mut self, v: impl Into<$ty>) -> Self {
            self.$name = Some(v.into());
            self
        }
    )*};
}
pub(crate) use setters;

impl ChatCompletionRequest {
    /// A request for `model` over `messages`; set options with the chained setters.
    pub fn new(model: impl Into<String>, messages: impl IntoIterator<Item = ChatMessage>) -> Self {
        ChatCompletionRequest {
            model: model.into(),
            messages: messages.into_iter().collect(),
            temperature: None,
            max_tokens: None,
            max_completion_tokens: None,
            top_p: None,
            frequency_penalty: None,
            presence_penalty: None,
            stop: None,
            seed: None,
            n: None,
            tools: None,
            tool_choice: None,
            parallel_tool_calls: None,
            response_format: None,
            stream_options: None,
            user: None,
            extra: JsonMap::new(),
        }
    }

    setters! {
        /// Sets `temperature`.
        temperature: f64,
        /// Sets `max_tokens`.
        max_tokens: u32,
        /// Sets `max_completion_tokens`.
        max_completion_tokens: u32,
        /// Sets `top_p`.
        top_p: f64,
        /// Sets `frequency_penalty`.
        frequency_penalty: f64,
        /// Sets `presence_penalty`.
        presence_penalty: f64,
        /// Sets `seed`.
        seed: i64,
        /// Sets `n`.
        n: u32,
        /// Sets `tool_choice`.
        tool_choice: Value,
        /// Sets `parallel_tool_calls`.
        parallel_tool_calls: bool,
        /// Sets `response_format`.
        response_format: Value,
        /// Sets `user`.
        user: String,
    }

    /// Sets `stop` (a `&str`, `String` or `Vec<String>`).
    pub fn stop(mut self, v: impl Into<Stop>) -> Self {
        self.stop = Some(v.into());
        self
    }

    /// Sets `tools`.
    pub fn tools(mut self, tools: impl IntoIterator<Item = Tool>) -> Self {
        self.tools = Some(tools.into_iter().collect());
        self
    }

    /// Asks for a final usage chunk when streaming (`stream_options.include_usage`).
    pub fn include_usage(mut self, on: bool) -> Self {
        self.stream_options = Some(StreamOptions {
            include_usage: Some(on),
        });
        self
    }

    /// Adds any other top-level field, sent verbatim.
    pub fn extra(mut self, key: impl Into<String>, value: Value) -> Self {
        self.extra.insert(key.into(), value);
        self
    }
}

impl From<&str> for Stop {
    fn from(s: &str) -> Self {
        Stop::One(s.to_owned())
    }
}

impl From<String> for Stop {
    fn from(s: String) -> Self {
        Stop::One(s)
    }
}

impl From<Vec<String>> for Stop {
    fn from(v: Vec<String>) -> Self {
        Stop::Many(v)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn request_serialises_minimal_and_extra() {
        let r = ChatCompletionRequest::new("gpt-4o-mini", [ChatMessage::user("hi")])
            .temperature(0.2)
            .stop("END")
            .extra("custom_field", serde_json::json!({"a": 1}));
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],
                "temperature":0.2,"stop":"END","custom_field":{"a":1}})
        );
    }

    #[test]
    fn readme_reply_parses() {
        let c: ChatCompletion = serde_json::from_str(
            r#"{"choices":[{"finish_reason":"stop","index":0,"message":{"content":"[mock provider] You said: Hello, Ferro","role":"assistant"}}],
             "model":"gpt-4o-mini","object":"chat.completion",
             "usage":{"prompt_tokens":6,"completion_tokens":10,"total_tokens":16,"cost_usd":0.0000069,"cache_hit":false},
             "provider":"mock","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","future_field":[1]}"#,
        )
        .unwrap();
        assert_eq!(c.content(), Some("[mock provider] You said: Hello, Ferro"));
        assert_eq!(c.provider.as_ref().unwrap(), "mock");
        assert!(c.trace_id.as_ref().unwrap().is_canonical_trace_id());
        assert_eq!(c.extra["future_field"], serde_json::json!([1]));
        let next: ChatMessage = (&c.choices[0].message).into();
        assert_eq!(next.role, Role::Assistant);
    }
}
