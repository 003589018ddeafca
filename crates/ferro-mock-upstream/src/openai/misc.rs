//! Embeddings, image generations and moderations.

use bytes::Bytes;
use http::{Response, StatusCode};
use serde::Deserialize;

use super::{bad_json, deployment, json, next_id, MAX_N};
use crate::body::MockBody;
use crate::server::Shared;
use crate::util::{base64, estimate_tokens, fnv1a, splitmix64, unix_now, Out};

/// Default embedding width.
const EMBEDDING_DIMS: usize = 8;

#[derive(Deserialize)]
struct EmbeddingsRequest {
    #[serde(default)]
    model: Option<String>,
    input: EmbeddingInput,
    #[serde(default)]
    encoding_format: Option<String>,
    #[serde(default)]
    dimensions: Option<usize>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum EmbeddingInput {
    Text(String),
    Texts(Vec<String>),
    Tokens(Vec<u64>),
    TokenLists(Vec<Vec<u64>>),
}

/// One input as (bytes that seed the vector, prompt tokens).
fn embedding_inputs(input: &EmbeddingInput) -> Vec<(Vec<u8>, u64)> {
    let text = |s: &String| (s.as_bytes().to_vec(), estimate_tokens(s.chars().count()));
    let toks = |t: &Vec<u64>| {
        let bytes = t.iter().flat_map(|x| x.to_le_bytes()).collect();
        (bytes, t.len() as u64)
    };
    match input {
        EmbeddingInput::Text(s) => vec![text(s)],
        EmbeddingInput::Texts(v) => v.iter().map(text).collect(),
        EmbeddingInput::Tokens(t) => vec![toks(t)],
        EmbeddingInput::TokenLists(v) => v.iter().map(toks).collect(),
    }
}

/// Deterministic unit-length vector derived from `seed_bytes`.
pub(crate) fn embedding_vector(seed_bytes: &[u8], dims: usize) -> Vec<f32> {
    let seed = fnv1a(seed_bytes);
    let mut v: Vec<f32> = (0..dims as u64)
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

pub(super) fn embeddings(body: &Bytes, path: &str) -> Response<MockBody> {
    let req: EmbeddingsRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return bad_json(&e),
    };
    let model = req
        .model
        .as_deref()
        .or_else(|| deployment(path))
        .unwrap_or("text-embedding-3-small");
    let dims = req.dimensions.unwrap_or(EMBEDDING_DIMS).clamp(1, 4096);
    let as_base64 = req.encoding_format.as_deref() == Some("base64");
    let inputs = embedding_inputs(&req.input);
    let tokens: u64 = inputs.iter().map(|(_, t)| t).sum();

    let mut o = Out::with_capacity(128 + inputs.len() * (64 + dims * 12));
    o.raw(r#"{"object":"list","data":["#);
    for (i, (seed, _)) in inputs.iter().enumerate() {
        if i > 0 {
            o.raw(",");
        }
        o.raw(r#"{"object":"embedding","index":"#)
            .num(i as u64)
            .raw(r#","embedding":"#);
        let v = embedding_vector(seed, dims);
        if as_base64 {
            let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            o.str(&base64(&bytes));
        } else {
            o.raw("[");
            for (j, x) in v.iter().enumerate() {
                if j > 0 {
                    o.raw(",");
                }
                o.float(*x);
            }
            o.raw("]");
        }
        o.raw("}");
    }
    o.raw(r#"],"model":"#)
        .str(model)
        .raw(r#","usage":{"prompt_tokens":"#)
        .num(tokens)
        .raw(r#","total_tokens":"#)
        .num(tokens)
        .raw("}}");
    json(StatusCode::OK, o.into_bytes())
}

/// A 1x1 transparent PNG, base64.
const PNG_B64: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

/// URL returned for `response_format: "url"` (the default).
pub(crate) const IMAGE_URL: &str = "https://example.invalid/mock.png";

#[derive(Deserialize)]
struct ImagesRequest {
    prompt: String,
    #[serde(default)]
    n: Option<u32>,
    #[serde(default)]
    response_format: Option<String>,
}

pub(super) fn images(body: &Bytes) -> Response<MockBody> {
    let req: ImagesRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return bad_json(&e),
    };
    let n = req.n.unwrap_or(1).clamp(1, MAX_N);
    let b64 = req.response_format.as_deref() == Some("b64_json");
    let mut o = Out::with_capacity(64 + n as usize * (req.prompt.len() + 160));
    o.raw(r#"{"created":"#).num(unix_now()).raw(r#","data":["#);
    for i in 0..n {
        if i > 0 {
            o.raw(",");
        }
        if b64 {
            o.raw(r#"{"b64_json":"#).str(PNG_B64);
        } else {
            o.raw(r#"{"url":"#).str(IMAGE_URL);
        }
        o.raw(r#","revised_prompt":"#).str(&req.prompt).raw("}");
    }
    o.raw("]}");
    json(StatusCode::OK, o.into_bytes())
}

/// One all-clear moderation result (omni-moderation category set).
const MODERATION_RESULT: &str = concat!(
    r#"{"flagged":false,"categories":{"#,
    r#""harassment":false,"harassment/threatening":false,"hate":false,"hate/threatening":false,"#,
    r#""illicit":false,"illicit/violent":false,"self-harm":false,"self-harm/instructions":false,"#,
    r#""self-harm/intent":false,"sexual":false,"sexual/minors":false,"violence":false,"#,
    r#""violence/graphic":false},"category_scores":{"#,
    r#""harassment":0.0,"harassment/threatening":0.0,"hate":0.0,"hate/threatening":0.0,"#,
    r#""illicit":0.0,"illicit/violent":0.0,"self-harm":0.0,"self-harm/instructions":0.0,"#,
    r#""self-harm/intent":0.0,"sexual":0.0,"sexual/minors":0.0,"violence":0.0,"#,
    r#""violence/graphic":0.0},"category_applied_input_types":{"#,
    r#""harassment":["text"],"harassment/threatening":["text"],"hate":["text"],"#,
    r#""hate/threatening":["text"],"illicit":["text"],"illicit/violent":["text"],"#,
    r#""self-harm":["text"],"self-harm/instructions":["text"],"self-harm/intent":["text"],"#,
    r#""sexual":["text"],"sexual/minors":["text"],"violence":["text"],"#,
    r#""violence/graphic":["text"]}}"#
);

#[derive(Deserialize)]
struct ModerationRequest {
    input: serde_json::Value,
    #[serde(default)]
    model: Option<String>,
}

pub(super) fn moderations(shared: &Shared, body: &Bytes) -> Response<MockBody> {
    let req: ModerationRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return bad_json(&e),
    };
    let count = match &req.input {
        serde_json::Value::Array(items) => items.len(),
        _ => 1,
    };
    let model = req.model.as_deref().unwrap_or("omni-moderation-latest");
    let mut o = Out::with_capacity(96 + count * MODERATION_RESULT.len());
    o.raw(r#"{"id":"modr-mock-"#)
        .num(next_id(shared))
        .raw(r#"","model":"#)
        .str(model)
        .raw(r#","results":["#);
    for i in 0..count {
        if i > 0 {
            o.raw(",");
        }
        o.raw(MODERATION_RESULT);
    }
    o.raw("]}");
    json(StatusCode::OK, o.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_deterministic_unit_length() {
        let a = embedding_vector(b"hello", 8);
        assert_eq!(a, embedding_vector(b"hello", 8));
        assert_ne!(a, embedding_vector(b"world", 8));
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
    }

    #[test]
    fn moderation_result_is_valid_json() {
        let v: serde_json::Value = serde_json::from_str(MODERATION_RESULT).unwrap();
        assert_eq!(v["categories"].as_object().unwrap().len(), 13);
        assert_eq!(v["category_scores"]["violence/graphic"], 0.0);
    }
}
