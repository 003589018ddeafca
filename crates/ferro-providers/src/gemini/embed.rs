//! OpenAI embeddings ↔ Gemini `embedContent` (one input) and
//! `batchEmbedContents` (an array of inputs), plus the OpenAI list shape the
//! Vertex `predict` translation shares. Pure.
//!
//! The Gemini API reports no token usage for embeddings, so `usage` is an
//! estimate of the input: one token per four characters, at least one per
//! input ([`estimate_tokens`]); it prices the request approximately. A
//! `usageMetadata.promptTokenCount` in the answer, if Google adds one, wins.

use crate::native::TranslateError;
use base64ct::{Base64, Encoding};
use ferro_types::chat::parse_object;
use ferro_types::ApiError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A validated OpenAI embeddings request.
#[derive(Debug)]
pub struct EmbedInput {
    pub texts: Vec<String>,
    /// The client sent an array (answer with one entry per element).
    pub batch: bool,
    pub dimensions: Option<u64>,
    pub base64: bool,
}

/// Reads the parts of an OpenAI embeddings body Gemini can use. Token-array
/// inputs cannot be expressed and are refused.
pub fn read_input(body: &[u8]) -> Result<EmbedInput, ApiError> {
    let obj = parse_object(body)?;
    let raw = obj
        .get_non_null("input")
        .ok_or_else(|| ApiError::invalid_request("input is required"))?;
    let (texts, batch) = match serde_json::from_str::<Value>(raw.get()) {
        Ok(Value::String(s)) => (vec![s], false),
        Ok(Value::Array(items)) if items.iter().all(Value::is_string) => (
            items
                .into_iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s),
                    _ => None,
                })
                .collect(),
            true,
        ),
        _ => {
            return Err(ApiError::new(
                400,
                ferro_types::ErrorType::InvalidRequestError,
                "unsupported_parameter",
                "Gemini embeds text only: input must be a string or an array of strings",
            ))
        }
    };
    if texts.is_empty() {
        return Err(ApiError::invalid_request("input must not be empty"));
    }
    let dimensions = match obj.get_non_null("dimensions") {
        None => None,
        Some(d) => Some(
            serde_json::from_str::<u64>(d.get())
                .ok()
                .filter(|d| *d > 0)
                .ok_or_else(|| {
                    ApiError::invalid_request("dimensions must be a positive integer")
                })?,
        ),
    };
    let base64 = obj
        .get_non_null("encoding_format")
        .is_some_and(|f| f.get() == "\"base64\"");
    Ok(EmbedInput {
        texts,
        batch,
        dimensions,
        base64,
    })
}

fn request_entry(model_path: &str, text: &str, dims: Option<u64>) -> Value {
    let mut v = json!({"model": model_path, "content": {"parts": [{"text": text}]}});
    if let Some(d) = dims {
        v["outputDimensionality"] = json!(d);
    }
    v
}

/// The Gemini body and method name (`embedContent` or `batchEmbedContents`).
pub fn gemini_body(input: &EmbedInput, model_path: &str) -> (Vec<u8>, &'static str) {
    if input.batch {
        let reqs: Vec<Value> = input
            .texts
            .iter()
            .map(|t| request_entry(model_path, t, input.dimensions))
            .collect();
        (
            json!({ "requests": reqs }).to_string().into_bytes(),
            "batchEmbedContents",
        )
    } else {
        let text = input.texts.first().map(String::as_str).unwrap_or("");
        (
            request_entry(model_path, text, input.dimensions)
                .to_string()
                .into_bytes(),
            "embedContent",
        )
    }
}

/// Estimated tokens of the inputs (see the module doc).
pub fn estimate_tokens(texts: &[String]) -> u64 {
    texts
        .iter()
        .map(|t| (t.chars().count() as u64).div_ceil(4).max(1))
        .sum()
}

#[derive(Deserialize)]
struct Values {
    #[serde(default)]
    values: Vec<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EmbedUsageMetadata {
    #[serde(default)]
    prompt_token_count: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GeminiEmbed {
    #[serde(default)]
    embedding: Option<Values>,
    #[serde(default)]
    embeddings: Option<Vec<Values>>,
    /// Not sent by the Gemini API today; used when present.
    #[serde(default)]
    usage_metadata: Option<EmbedUsageMetadata>,
}

#[derive(Serialize)]
struct Item {
    object: &'static str,
    index: usize,
    embedding: Value,
}

#[derive(Serialize)]
struct EmbedUsage {
    prompt_tokens: u64,
    total_tokens: u64,
}

#[derive(Serialize)]
struct ListOut<'a> {
    object: &'static str,
    data: Vec<Item>,
    model: &'a str,
    usage: EmbedUsage,
}

/// One vector: JSON numbers as received, or base64 of little-endian f32s
/// (OpenAI's `encoding_format: base64`).
fn encode(v: &[f64], base64: bool) -> Value {
    if base64 {
        let mut bytes = Vec::with_capacity(v.len() * 4);
        for f in v {
            bytes.extend_from_slice(&(*f as f32).to_le_bytes());
        }
        Value::String(Base64::encode_string(&bytes))
    } else {
        json!(v)
    }
}

/// Vectors → the OpenAI `list` body.
pub fn openai_list(
    vectors: Vec<Vec<f64>>,
    model: &str,
    tokens: u64,
    base64: bool,
) -> Result<Vec<u8>, TranslateError> {
    let data = vectors
        .iter()
        .enumerate()
        .map(|(index, v)| Item {
            object: "embedding",
            index,
            embedding: encode(v, base64),
        })
        .collect();
    serde_json::to_vec(&ListOut {
        object: "list",
        data,
        model,
        usage: EmbedUsage {
            prompt_tokens: tokens,
            total_tokens: tokens,
        },
    })
    .map_err(|e| TranslateError(e.to_string()))
}

/// Translates a Gemini embeddings answer. `input` is the client's request
/// when known (for the usage estimate and the encoding format).
pub fn translate(
    input: Option<&EmbedInput>,
    body: &[u8],
    model: &str,
) -> Result<Vec<u8>, TranslateError> {
    let r: GeminiEmbed = serde_json::from_slice(body)
        .map_err(|e| TranslateError(format!("not a Gemini embeddings response: {e}")))?;
    let vectors: Vec<Vec<f64>> = match (r.embeddings, r.embedding) {
        (Some(list), _) => list.into_iter().map(|v| v.values).collect(),
        (None, Some(one)) => vec![one.values],
        (None, None) => return Err(TranslateError("no embeddings in the answer".into())),
    };
    if let Some(i) = input {
        if i.texts.len() != vectors.len() {
            return Err(TranslateError(format!(
                "asked for {} embeddings, got {}",
                i.texts.len(),
                vectors.len()
            )));
        }
    }
    let reported = r.usage_metadata.and_then(|u| u.prompt_token_count);
    let tokens = reported
        .or_else(|| input.map(|i| estimate_tokens(&i.texts)))
        .unwrap_or(0);
    openai_list(vectors, model, tokens, input.is_some_and(|i| i.base64))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn estimate_and_base64() {
        assert_eq!(estimate_tokens(&["".into(), "abcde".into()]), 1 + 2);
        let v = encode(&[1.0, -2.0], true);
        assert_eq!(v, "AACAPwAAAMA=");
    }

    #[test]
    fn token_inputs_are_refused() {
        let e = read_input(br#"{"model":"m","input":[1,2,3]}"#).unwrap_err();
        assert_eq!(e.code, "unsupported_parameter");
        assert!(read_input(br#"{"model":"m","input":[]}"#).is_err());
        let i = read_input(br#"{"model":"m","input":"x","dimensions":8}"#).unwrap();
        assert_eq!((i.batch, i.dimensions), (false, Some(8)));
    }
}
