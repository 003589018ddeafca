//! `embedContent`, `batchEmbedContents` (Gemini API) and `predict` (Vertex AI
//! text embeddings). Vectors are deterministic unit vectors seeded by the text,
//! [`DIMS`] wide unless `outputDimensionality` says otherwise. `predict`
//! reports `statistics.token_count` per instance, like Vertex; the Gemini
//! methods report no usage, like Gemini.

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{json, Map, Value};

use super::{invalid, unknown_field};
use crate::body::MockBody;
use crate::openai::json as json_response;
use crate::util::{estimate_tokens, fnv1a, splitmix64};

/// Default embedding width (Gemini's text-embedding-004).
pub const DIMS: u64 = 768;

const EMBED_FIELDS: [&str; 5] = [
    "model",
    "content",
    "taskType",
    "title",
    "outputDimensionality",
];

fn vector(text: &str, dims: u64) -> Vec<f32> {
    let seed = fnv1a(text.as_bytes());
    let mut v: Vec<f32> = (0..dims)
        .map(|i| {
            let x = splitmix64(seed ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// Validates one `EmbedContentRequest`; returns (text, dims).
fn one(req: &Value, model: &str, at: &str) -> Result<(String, u64), Response<MockBody>> {
    let o = req
        .as_object()
        .ok_or_else(|| invalid(&format!("{at} must be an object")))?;
    if let Some(k) = o.keys().find(|k| !EMBED_FIELDS.contains(&k.as_str())) {
        return Err(unknown_field(k));
    }
    if let Some(m) = o.get("model").and_then(Value::as_str) {
        if m != format!("models/{model}") {
            return Err(invalid(&format!(
                "{at}.model: {m} does not match the model of the request, models/{model}"
            )));
        }
    }
    let parts = o
        .get("content")
        .and_then(|c| c.get("parts"))
        .and_then(Value::as_array)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| invalid(&format!("* {at}.content: content is not specified")))?;
    let text: String = parts
        .iter()
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect();
    let dims = o
        .get("outputDimensionality")
        .and_then(Value::as_u64)
        .unwrap_or(DIMS)
        .clamp(1, 4096);
    Ok((text, dims))
}

fn parse(body: &Bytes) -> Result<Map<String, Value>, Response<MockBody>> {
    serde_json::from_slice(body).map_err(|_| invalid("Invalid JSON payload received."))
}

/// `models/{m}:embedContent`.
pub(crate) fn embed_content(body: &Bytes, model: &str) -> Response<MockBody> {
    let req = match parse(body) {
        Ok(r) => r,
        Err(e) => return e,
    };
    match one(&Value::Object(req), model, "EmbedContentRequest") {
        Ok((text, dims)) => json_response(
            StatusCode::OK,
            Bytes::from(json!({"embedding": {"values": vector(&text, dims)}}).to_string()),
        ),
        Err(e) => e,
    }
}

/// `models/{m}:batchEmbedContents`: every request must name the same model.
pub(crate) fn batch(body: &Bytes, model: &str) -> Response<MockBody> {
    let req = match parse(body) {
        Ok(r) => r,
        Err(e) => return e,
    };
    if let Some(k) = req.keys().find(|k| k.as_str() != "requests") {
        return unknown_field(k);
    }
    let Some(list) = req.get("requests").and_then(Value::as_array) else {
        return invalid("* BatchEmbedContentsRequest.requests: requests is not specified");
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, r) in list.iter().enumerate() {
        if r.get("model").is_none() {
            return invalid(&format!("* requests[{i}].model: model is required"));
        }
        match one(r, model, &format!("requests[{i}]")) {
            Ok((text, dims)) => out.push(json!({"values": vector(&text, dims)})),
            Err(e) => return e,
        }
    }
    json_response(
        StatusCode::OK,
        Bytes::from(json!({ "embeddings": out }).to_string()),
    )
}

/// Vertex `publishers/google/models/{m}:predict` for text-embedding models.
pub(crate) fn predict(body: &Bytes) -> Response<MockBody> {
    let req = match parse(body) {
        Ok(r) => r,
        Err(e) => return e,
    };
    if let Some(k) = req
        .keys()
        .find(|k| k.as_str() != "instances" && k.as_str() != "parameters")
    {
        return unknown_field(k);
    }
    let dims = req
        .get("parameters")
        .and_then(|p| p.get("outputDimensionality"))
        .and_then(Value::as_u64)
        .unwrap_or(DIMS)
        .clamp(1, 4096);
    let Some(instances) = req
        .get("instances")
        .and_then(Value::as_array)
        .filter(|i| !i.is_empty())
    else {
        return invalid("instances must be a non-empty array");
    };
    let mut preds = Vec::with_capacity(instances.len());
    for inst in instances {
        let Some(text) = inst.get("content").and_then(Value::as_str) else {
            return invalid("each instance needs a content string");
        };
        preds.push(json!({"embeddings": {
            "statistics": {"truncated": false, "token_count": estimate_tokens(text.chars().count())},
            "values": vector(text, dims),
        }}));
    }
    json_response(
        StatusCode::OK,
        Bytes::from(
            json!({"predictions": preds, "metadata": {"billableCharacterCount": 0}}).to_string(),
        ),
    )
}
