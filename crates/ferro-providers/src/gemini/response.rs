//! Gemini `GenerateContentResponse` → OpenAI `chat.completion`, plus the pieces
//! the stream translator shares: the native wire types, finish-reason and usage
//! mapping, synthetic tool-call ids and the OpenAI output shapes. Pure: the
//! creation time is a parameter.

use crate::native::TranslateError;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------- native wire

/// One `generateContent` answer, or one frame of `streamGenerateContent`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GenerateResponse {
    #[serde(default)]
    pub candidates: Vec<Candidate>,
    #[serde(default)]
    pub prompt_feedback: Option<PromptFeedback>,
    #[serde(default)]
    pub usage_metadata: Option<UsageMetadata>,
    #[serde(default)]
    pub response_id: Option<String>,
    /// An error object some streams send in place of a frame.
    #[serde(default)]
    pub error: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Candidate {
    #[serde(default)]
    pub content: Option<Content>,
    #[serde(default)]
    pub finish_reason: Option<String>,
    #[serde(default)]
    pub index: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Content {
    #[serde(default)]
    pub parts: Vec<Part>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Part {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub thought: Option<bool>,
    #[serde(default)]
    pub function_call: Option<FunctionCall>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct FunctionCall {
    pub name: String,
    #[serde(default)]
    pub args: Option<Box<RawValue>>,
    #[serde(default)]
    pub id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PromptFeedback {
    #[serde(default)]
    pub block_reason: Option<String>,
}

/// `usageMetadata`. `promptTokenCount` includes cached tokens;
/// `candidatesTokenCount` excludes thoughts.
#[derive(Debug, Default, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UsageMetadata {
    #[serde(default)]
    pub prompt_token_count: u64,
    #[serde(default)]
    pub candidates_token_count: u64,
    #[serde(default)]
    pub total_token_count: Option<u64>,
    #[serde(default)]
    pub cached_content_token_count: Option<u64>,
    #[serde(default)]
    pub thoughts_token_count: Option<u64>,
    #[serde(default)]
    pub tool_use_prompt_token_count: Option<u64>,
}

// ---------------------------------------------------------------- OpenAI shapes

#[derive(Debug, Serialize, PartialEq, Eq, Clone, Copy)]
pub(crate) struct CachedDetails {
    pub cached_tokens: u64,
}

#[derive(Debug, Serialize, PartialEq, Eq, Clone, Copy)]
pub(crate) struct ReasoningDetails {
    pub reasoning_tokens: u64,
}

/// OpenAI `usage`, normalised per the native-adapter contract.
#[derive(Debug, Serialize, PartialEq, Eq, Clone, Copy)]
pub(crate) struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    pub prompt_tokens_details: CachedDetails,
    pub completion_tokens_details: ReasoningDetails,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_read_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
}

impl Usage {
    /// Gemini counts → OpenAI counts: tool-use prompt tokens are input,
    /// thoughts are completion (and reported as reasoning).
    pub fn from_gemini(u: Option<&UsageMetadata>) -> Usage {
        let u = u.copied().unwrap_or_default();
        let prompt = u.prompt_token_count + u.tool_use_prompt_token_count.unwrap_or(0);
        let thoughts = u.thoughts_token_count.unwrap_or(0);
        let completion = u.candidates_token_count + thoughts;
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt + completion,
            prompt_tokens_details: CachedDetails {
                cached_tokens: u.cached_content_token_count.unwrap_or(0),
            },
            completion_tokens_details: ReasoningDetails {
                reasoning_tokens: thoughts,
            },
            cache_read_tokens: u.cached_content_token_count,
            reasoning_tokens: u.thoughts_token_count,
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct FunctionOut {
    pub name: String,
    pub arguments: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct ToolCallOut {
    /// Only in stream deltas.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: FunctionOut,
}

#[derive(Debug, Serialize)]
struct MessageOut {
    role: &'static str,
    content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<ToolCallOut>,
}

#[derive(Debug, Serialize)]
struct ChoiceOut {
    index: u32,
    message: MessageOut,
    logprobs: Option<()>,
    finish_reason: &'static str,
}

#[derive(Debug, Serialize)]
struct CompletionOut<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: Vec<ChoiceOut>,
    usage: Usage,
}

// ---------------------------------------------------------------- shared mapping

/// Gemini `finishReason` → OpenAI `finish_reason`. A candidate that called a
/// function finishes with `tool_calls` whatever Gemini says, unless it was cut
/// (length) or filtered.
pub(crate) fn finish_reason(reason: Option<&str>, called_tools: bool) -> &'static str {
    let mapped = match reason.unwrap_or("STOP") {
        "MAX_TOKENS" => "length",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            "content_filter"
        }
        _ => "stop",
    };
    if called_tools && mapped == "stop" {
        "tool_calls"
    } else {
        mapped
    }
}

/// A stable tool-call id: the same response id, candidate, call ordinal and
/// name always give the same id, in streamed and whole answers alike.
pub(crate) fn tool_call_id(
    response_id: &str,
    candidate: u32,
    ordinal: u32,
    name: &str,
    given: Option<&str>,
) -> String {
    if let Some(id) = given.filter(|s| !s.is_empty()) {
        return id.to_owned();
    }
    let mut h = Sha256::new();
    h.update(response_id.as_bytes());
    h.update([0]);
    h.update(candidate.to_be_bytes());
    h.update(ordinal.to_be_bytes());
    h.update(name.as_bytes());
    let d = h.finalize();
    let mut s = String::with_capacity(29);
    s.push_str("call_");
    for b in &d[..12] {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    s
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Function-call arguments as a compact JSON string (whitespace outside strings
/// removed, key order kept), `{}` when absent.
pub(crate) fn arguments(args: Option<&RawValue>) -> String {
    let Some(raw) = args else {
        return "{}".to_owned();
    };
    let src = raw.get();
    let mut out = String::with_capacity(src.len());
    let mut in_str = false;
    let mut escaped = false;
    for c in src.chars() {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
        } else if c == '"' {
            in_str = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    if out == "null" {
        "{}".to_owned()
    } else {
        out
    }
}

/// The OpenAI id of a response.
pub(crate) fn completion_id(response_id: Option<&str>, fallback: &str) -> String {
    match response_id.filter(|s| !s.is_empty()) {
        Some(r) => format!("chatcmpl-{r}"),
        None => format!("chatcmpl-{fallback}"),
    }
}

/// The message of a Google error object, shortened.
pub(crate) fn error_message(e: &serde_json::Value) -> String {
    let m = e
        .get("message")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("unknown error");
    ferro_types::json::truncate(m, 512).to_owned()
}

/// Parses a native body, refusing anything that is not a response object.
pub(crate) fn parse(body: &[u8]) -> Result<GenerateResponse, TranslateError> {
    serde_json::from_slice(body)
        .map_err(|e| TranslateError(format!("not a Gemini generateContent response: {e}")))
}

// ---------------------------------------------------------------- whole answers

/// Translates a whole `generateContent` body. `fallback_id` names the
/// completion when Gemini gives no `responseId`.
pub fn translate(
    body: &[u8],
    model: &str,
    created: u64,
    fallback_id: &str,
) -> Result<Vec<u8>, TranslateError> {
    let r = parse(body)?;
    if let Some(e) = &r.error {
        return Err(TranslateError(format!(
            "upstream error: {}",
            error_message(e)
        )));
    }
    let rid = r.response_id.as_deref().unwrap_or("");
    let id = completion_id(r.response_id.as_deref(), fallback_id);
    let mut choices = Vec::with_capacity(r.candidates.len().max(1));
    for (i, cand) in r.candidates.iter().enumerate() {
        let index = cand.index.unwrap_or(i as u32);
        let mut text = String::new();
        let mut thoughts: Option<String> = None;
        let mut calls = Vec::new();
        for part in cand.content.iter().flat_map(|c| c.parts.iter()) {
            if let Some(fc) = &part.function_call {
                let ordinal = calls.len() as u32;
                calls.push(ToolCallOut {
                    index: None,
                    id: tool_call_id(rid, index, ordinal, &fc.name, fc.id.as_deref()),
                    kind: "function",
                    function: FunctionOut {
                        name: fc.name.clone(),
                        arguments: arguments(fc.args.as_deref()),
                    },
                });
            } else if let Some(t) = &part.text {
                if part.thought == Some(true) {
                    thoughts.get_or_insert_with(String::new).push_str(t);
                } else {
                    text.push_str(t);
                }
            }
        }
        let content = if text.is_empty() && !calls.is_empty() {
            None
        } else {
            Some(text)
        };
        choices.push(ChoiceOut {
            index,
            finish_reason: finish_reason(cand.finish_reason.as_deref(), !calls.is_empty()),
            message: MessageOut {
                role: "assistant",
                content,
                reasoning_content: thoughts,
                tool_calls: calls,
            },
            logprobs: None,
        });
    }
    if choices.is_empty() {
        // No candidate: the prompt was blocked (promptFeedback.blockReason) or
        // nothing was produced. Either way the client gets an empty answer.
        let blocked = r
            .prompt_feedback
            .as_ref()
            .and_then(|f| f.block_reason.as_deref())
            .is_some();
        choices.push(ChoiceOut {
            index: 0,
            finish_reason: if blocked { "content_filter" } else { "stop" },
            message: MessageOut {
                role: "assistant",
                content: Some(String::new()),
                reasoning_content: None,
                tool_calls: Vec::new(),
            },
            logprobs: None,
        });
    }
    let out = CompletionOut {
        id: &id,
        object: "chat.completion",
        created,
        model,
        choices,
        usage: Usage::from_gemini(r.usage_metadata.as_ref()),
    };
    serde_json::to_vec(&out).map_err(|e| TranslateError(e.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_compacted_in_order() {
        let raw: Box<RawValue> =
            serde_json::from_str("{\n  \"b\": \"x y\",\n  \"a\": [1, 2]\n}").unwrap();
        assert_eq!(arguments(Some(&raw)), r#"{"b":"x y","a":[1,2]}"#);
        let raw: Box<RawValue> = serde_json::from_str(r#"{"q": "a \" b"}"#).unwrap();
        assert_eq!(arguments(Some(&raw)), r#"{"q":"a \" b"}"#);
        assert_eq!(arguments(None), "{}");
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = tool_call_id("r1", 0, 0, "f", None);
        assert_eq!(a, tool_call_id("r1", 0, 0, "f", None));
        assert_ne!(a, tool_call_id("r1", 0, 1, "f", None));
        assert_ne!(a, tool_call_id("r2", 0, 0, "f", None));
        assert!(a.starts_with("call_") && a.len() == 29);
        assert_eq!(tool_call_id("r", 0, 0, "f", Some("given")), "given");
    }

    #[test]
    fn finish_reasons() {
        assert_eq!(finish_reason(Some("STOP"), false), "stop");
        assert_eq!(finish_reason(Some("STOP"), true), "tool_calls");
        assert_eq!(finish_reason(Some("MAX_TOKENS"), true), "length");
        assert_eq!(finish_reason(Some("SPII"), false), "content_filter");
        assert_eq!(finish_reason(None, false), "stop");
    }
}
