//! Embeddings through Cohere's `/v1/embed`. Pure.
//!
//! Request `{model, texts, input_type, embedding_types: ["float"], truncate:
//! "END"}` (`input_type` defaults to `search_document`, a client may send its
//! own); the answer's `embeddings` (`{float: [[…]]}` or, for older models, a
//! bare list) become OpenAI `data`, `meta.billed_units.input_tokens` the usage.

use crate::native::TranslateError;
use ferro_types::ApiError;
use serde_json::{json, Value};

/// The `/v1/embed` body of an OpenAI embeddings body.
pub fn request_body(body: &[u8], model: &str) -> Result<Vec<u8>, ApiError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| ApiError::invalid_request("invalid embeddings body"))?;
    let texts: Vec<&str> = match v.get("input") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) if !a.is_empty() && a.iter().all(Value::is_string) => {
            a.iter().filter_map(Value::as_str).collect()
        }
        _ => {
            return Err(ApiError::invalid_request(
                "cohere embeddings take input as a string or an array of strings",
            ))
        }
    };
    let input_type = v
        .get("input_type")
        .and_then(Value::as_str)
        .unwrap_or("search_document");
    let out = json!({
        "model": model,
        "texts": texts,
        "input_type": input_type,
        "embedding_types": ["float"],
        "truncate": "END",
    });
    serde_json::to_vec(&out).map_err(|_| ApiError::internal("could not build the upstream request"))
}

/// Translates a `/v1/embed` answer into the OpenAI embeddings shape.
pub fn translate(body: &[u8], model: &str) -> Result<Vec<u8>, TranslateError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| TranslateError(format!("invalid Cohere embed answer: {e}")))?;
    let list = match v.get("embeddings") {
        Some(Value::Array(a)) => a.clone(),
        Some(Value::Object(o)) => o
            .get("float")
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| TranslateError("Cohere embed answer has no float embeddings".into()))?,
        _ => {
            return Err(TranslateError(
                "Cohere embed answer has no embeddings".into(),
            ))
        }
    };
    let tokens = v
        .pointer("/meta/billed_units/input_tokens")
        .and_then(Value::as_f64)
        .unwrap_or(0.0)
        .max(0.0) as u64;
    let data: Vec<Value> = list
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
