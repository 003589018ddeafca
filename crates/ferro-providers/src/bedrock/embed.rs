//! Embeddings through InvokeModel (`POST {root}/model/{id}/invoke`). Pure.
//!
//! * Amazon Titan (`amazon.titan-embed-*`): `{inputText, dimensions?}` →
//!   `{embedding, inputTextTokenCount}`; one input per request, so a batch of
//!   several inputs is refused (400) rather than silently split.
//! * Cohere (`cohere.embed-*`): `{texts, input_type, embedding_types:
//!   ["float"]}` → `{embeddings: [[…]] | {float: [[…]]}}`; Bedrock reports no
//!   token count for these, so usage is estimated from the input (chars / 4).
//!   `input_type` defaults to `search_document`; a client may send its own.

use ferro_types::ApiError;
use serde_json::{json, Value};

use crate::native::TranslateError;

/// The embedding model families InvokeModel serves here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbedFamily {
    Titan,
    Cohere,
}

/// The family of an embedding model id (inference-profile prefixes allowed).
pub fn embed_family(model: &str) -> Option<EmbedFamily> {
    let m = super::base_model(model);
    if m.starts_with("amazon.titan-embed") {
        Some(EmbedFamily::Titan)
    } else if m.starts_with("cohere.embed") {
        Some(EmbedFamily::Cohere)
    } else {
        None
    }
}

/// The inputs of an OpenAI embeddings body, and its other options.
pub struct EmbedInput {
    pub texts: Vec<String>,
    pub dimensions: Option<u64>,
    pub input_type: Option<String>,
}

/// Reads `input` (a string or an array of strings), `dimensions`, `input_type`.
pub fn read_input(body: &[u8]) -> Result<EmbedInput, ApiError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::invalid_request("invalid embeddings body"))?;
    let texts = match v.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) if a.iter().all(Value::is_string) && !a.is_empty() => a
            .iter()
            .map(|x| x.as_str().unwrap_or_default().to_owned())
            .collect(),
        _ => {
            return Err(ApiError::invalid_request(
                "bedrock embeddings take input as a string or an array of strings",
            ))
        }
    };
    Ok(EmbedInput {
        texts,
        dimensions: v.get("dimensions").and_then(Value::as_u64),
        input_type: v
            .get("input_type")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

/// The InvokeModel body for `input`.
pub fn invoke_body(fam: EmbedFamily, input: &EmbedInput) -> Result<Vec<u8>, ApiError> {
    let body = match fam {
        EmbedFamily::Titan => {
            if input.texts.len() != 1 {
                return Err(ApiError::invalid_request(
                    "bedrock Titan embeddings take one input per request",
                ));
            }
            let mut b = json!({"inputText": input.texts[0]});
            if let Some(d) = input.dimensions {
                b["dimensions"] = json!(d);
            }
            b
        }
        EmbedFamily::Cohere => json!({
            "texts": input.texts,
            "input_type": input.input_type.as_deref().unwrap_or("search_document"),
            "truncate": "END",
            "embedding_types": ["float"],
        }),
    };
    serde_json::to_vec(&body)
        .map_err(|_| ApiError::internal("could not build the upstream request"))
}

/// Tokens estimated from text (Cohere on Bedrock reports none).
pub fn estimate_tokens(texts: &[String]) -> u64 {
    texts
        .iter()
        .map(|t| (t.chars().count() as u64).div_ceil(4).max(1))
        .sum()
}

/// Translates an InvokeModel embeddings answer into the OpenAI shape.
pub fn translate(
    fam: EmbedFamily,
    input: Option<&EmbedInput>,
    body: &[u8],
    model: &str,
) -> Result<Vec<u8>, TranslateError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| TranslateError(format!("invalid InvokeModel answer: {e}")))?;
    let (vectors, tokens): (Vec<Value>, u64) = match fam {
        EmbedFamily::Titan => {
            let e = v
                .get("embedding")
                .filter(|e| e.is_array())
                .cloned()
                .ok_or_else(|| TranslateError("Titan answer has no embedding".into()))?;
            let n = v
                .get("inputTextTokenCount")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            (vec![e], n)
        }
        EmbedFamily::Cohere => {
            let list = match v.get("embeddings") {
                Some(Value::Array(a)) => a.clone(),
                Some(Value::Object(o)) => o
                    .get("float")
                    .and_then(Value::as_array)
                    .cloned()
                    .ok_or_else(|| {
                        TranslateError("Cohere answer has no float embeddings".into())
                    })?,
                _ => return Err(TranslateError("Cohere answer has no embeddings".into())),
            };
            let n = input.map(|i| estimate_tokens(&i.texts)).unwrap_or(0);
            (list, n)
        }
    };
    let data: Vec<Value> = vectors
        .into_iter()
        .enumerate()
        .map(|(i, e)| json!({"object": "embedding", "index": i, "embedding": e}))
        .collect();
    let out = json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    });
    serde_json::to_vec(&out).map_err(|e| TranslateError(e.to_string()))
}
