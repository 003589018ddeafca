//! The Anthropic Messages adapter (`POST {root}/messages`, CONTRACT §9): OpenAI
//! chat requests in, Messages API requests out, and the answers (JSON or SSE)
//! back as OpenAI `chat.completion` / `chat.completion.chunk` payloads.
//!
//! It owns the pure translation of one provider family and nothing else:
//! * [`request`] + [`messages`] — OpenAI body → Messages body. Only fields the
//!   Messages API accepts are sent; unknown top-level fields are dropped, and
//!   OpenAI parameters Anthropic cannot express follow the
//!   [`UnsupportedPolicy`] (see [`PARAMS`]).
//! * [`response`] — Messages JSON → `chat.completion` with normalised usage.
//! * [`stream`] — Messages SSE events → chunks, tool calls indexed by their
//!   ordinal among tool calls (not by Anthropic's content-block index).
//! * [`errors`] — Anthropic error bodies → the OpenAI envelope; 529 → 503.
//!
//! No I/O and no clock: translated payloads carry `"created": 0`.
//!
//! Wire decisions a client can rely on:
//! * **JSON mode** (`response_format` `json_object` / `json_schema`) is a forced
//!   tool named [`JSON_TOOL`] whose `input_schema` is the requested schema; its
//!   input comes back as the message `content` (a JSON text), never as a tool
//!   call, and a turn that only called it finishes with `"stop"`. With client
//!   tools the choice becomes `any` (call one of theirs or answer in JSON);
//!   with extended thinking (where Anthropic refuses forced tools) it is `auto`
//!   plus a system instruction to answer through the tool.
//! * **Reasoning**: `reasoning_effort` low / medium / high → `thinking` with
//!   budget 1024 / 2048 / 4096 tokens (halved max_tokens when that does not
//!   fit; `minimal` / `none` → off); a client `thinking` object wins. Thinking
//!   text is returned as `message.reasoning_content` (stream:
//!   `delta.reasoning_content`), and every thinking block with its signature as
//!   `message.thinking_blocks` (stream: one `delta.thinking_blocks` entry per
//!   finished block). Sending an assistant message's `thinking_blocks` back
//!   (or `reasoning_content` + `reasoning_signature`) restores the signed
//!   blocks in front of that turn, as Anthropic requires for tool-use loops.
//! * **Prompt caching**: `cache_control` on content parts, tools and messages
//!   is kept; usage reports `cache_read_tokens` / `cache_write_tokens` so the
//!   gateway prices them at the catalog's cache rates.

pub mod errors;
pub mod messages;
pub mod request;
pub mod response;
pub mod stream;

use crate::instance::ProviderInstance;
use crate::native::{
    ModelFacts, NativeAdapter, NativeRequest, ParamSupport, StreamTranslator, TranslateError,
    UnsupportedPolicy,
};
use bytes::Bytes;
use ferro_types::chat::ChatRequest;
use ferro_types::ApiError;
use http::{HeaderName, HeaderValue, Method};

/// The `anthropic-version` header every request carries.
pub const API_VERSION: &str = "2023-06-01";

/// Name of the tool that carries JSON-mode answers (see the module doc).
pub const JSON_TOOL: &str = "ferro_structured_output";

/// How each OpenAI chat parameter reaches the Messages API. Parameters not
/// listed are not OpenAI parameters and are never sent.
pub const PARAMS: &[(&str, ParamSupport)] = &[
    ("model", ParamSupport::Forward),
    ("messages", ParamSupport::Translate),
    ("stream", ParamSupport::Forward),
    ("stream_options", ParamSupport::Translate),
    ("max_tokens", ParamSupport::Translate),
    ("max_completion_tokens", ParamSupport::Translate),
    ("stop", ParamSupport::Translate),
    ("temperature", ParamSupport::Translate),
    ("top_p", ParamSupport::Forward),
    ("top_k", ParamSupport::Forward),
    ("user", ParamSupport::Translate),
    ("tools", ParamSupport::Translate),
    ("tool_choice", ParamSupport::Translate),
    ("parallel_tool_calls", ParamSupport::Translate),
    ("response_format", ParamSupport::Translate),
    ("reasoning_effort", ParamSupport::Translate),
    ("thinking", ParamSupport::Forward),
    ("service_tier", ParamSupport::Translate),
    ("n", ParamSupport::Unsupported),
    ("logprobs", ParamSupport::Unsupported),
    ("top_logprobs", ParamSupport::Unsupported),
    ("presence_penalty", ParamSupport::Unsupported),
    ("frequency_penalty", ParamSupport::Unsupported),
    ("seed", ParamSupport::Unsupported),
    ("logit_bias", ParamSupport::Unsupported),
    ("audio", ParamSupport::Unsupported),
    ("modalities", ParamSupport::Unsupported),
    ("prediction", ParamSupport::Unsupported),
    ("web_search_options", ParamSupport::Unsupported),
    ("functions", ParamSupport::Unsupported),
    ("function_call", ParamSupport::Unsupported),
    ("store", ParamSupport::Unsupported),
    ("metadata", ParamSupport::Unsupported),
    ("verbosity", ParamSupport::Unsupported),
];

/// Support of one OpenAI parameter (`None`: not an OpenAI parameter).
pub fn support(param: &str) -> Option<ParamSupport> {
    PARAMS.iter().find(|(p, _)| *p == param).map(|(_, s)| *s)
}

/// The Anthropic Messages adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Anthropic;

impl NativeAdapter for Anthropic {
    fn chat_request(
        &self,
        inst: &ProviderInstance,
        req: &ChatRequest<'_>,
        model: &str,
        facts: ModelFacts,
        policy: UnsupportedPolicy,
    ) -> Result<NativeRequest, ApiError> {
        let body = request::build_body(req, model, facts, policy)?;
        Ok(NativeRequest {
            method: Method::POST,
            url: format!("{}/messages", inst.root),
            headers: vec![(
                HeaderName::from_static("anthropic-version"),
                HeaderValue::from_static(API_VERSION),
            )],
            body: Bytes::from(body),
        })
    }

    fn chat_response(&self, body: &[u8], model: &str) -> Result<Vec<u8>, TranslateError> {
        response::translate(body, model)
    }

    fn stream(&self, model: &str) -> Box<dyn StreamTranslator> {
        Box::new(stream::MessagesStream::new(model))
    }

    fn error_body(&self, status: u16, body: &[u8]) -> Option<Vec<u8>> {
        errors::error_body(status, body)
    }

    fn map_status(&self, status: u16) -> u16 {
        errors::map_status(status)
    }

    fn param_support(&self, param: &str) -> ParamSupport {
        support(param).unwrap_or(ParamSupport::Unsupported)
    }
}
