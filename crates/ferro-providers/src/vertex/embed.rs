//! OpenAI embeddings ↔ the Vertex AI text-embedding `predict` method:
//! `{"instances":[{"content":…}],"parameters":{"outputDimensionality":…}}` in,
//! `{"predictions":[{"embeddings":{"values":[…],"statistics":{"token_count":…}}}]}`
//! out. Unlike the Gemini API, Vertex reports token counts, so usage is exact
//! when every prediction carries its statistics (else estimated like Gemini's).

use crate::gemini::embed::{estimate_tokens, openai_list, EmbedInput};
use crate::native::TranslateError;
use serde::Deserialize;
use serde_json::json;

/// The `predict` body of an embeddings request.
pub fn predict_body(input: &EmbedInput) -> Vec<u8> {
    let instances: Vec<_> = input
        .texts
        .iter()
        .map(|t| json!({ "content": t }))
        .collect();
    let mut body = json!({ "instances": instances });
    if let Some(d) = input.dimensions {
        body["parameters"] = json!({ "outputDimensionality": d });
    }
    body.to_string().into_bytes()
}

#[derive(Deserialize)]
struct Stats {
    #[serde(default)]
    token_count: Option<f64>,
}

#[derive(Deserialize)]
struct Embeddings {
    #[serde(default)]
    values: Vec<f64>,
    #[serde(default)]
    statistics: Option<Stats>,
}

#[derive(Deserialize)]
struct Prediction {
    embeddings: Embeddings,
}

#[derive(Deserialize)]
struct Predict {
    #[serde(default)]
    predictions: Vec<Prediction>,
}

/// Translates a `predict` answer into the OpenAI `list` body.
pub fn translate(
    input: Option<&EmbedInput>,
    body: &[u8],
    model: &str,
) -> Result<Vec<u8>, TranslateError> {
    let p: Predict = serde_json::from_slice(body)
        .map_err(|e| TranslateError(format!("not a Vertex AI predict response: {e}")))?;
    if p.predictions.is_empty() {
        return Err(TranslateError("no predictions in the answer".into()));
    }
    let counted: Option<u64> = p
        .predictions
        .iter()
        .map(|x| {
            x.embeddings
                .statistics
                .as_ref()
                .and_then(|s| s.token_count)
                .filter(|n| n.is_finite() && *n >= 0.0)
                .map(|n| n as u64)
        })
        .sum();
    let tokens = counted
        .or_else(|| input.map(|i| estimate_tokens(&i.texts)))
        .unwrap_or(0);
    let vectors = p
        .predictions
        .into_iter()
        .map(|x| x.embeddings.values)
        .collect();
    openai_list(vectors, model, tokens, input.is_some_and(|i| i.base64))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn exact_usage_from_statistics() {
        let body = br#"{"predictions":[{"embeddings":{"statistics":{"truncated":false,"token_count":6},"values":[0.1,0.2]}},
                                      {"embeddings":{"statistics":{"truncated":false,"token_count":4},"values":[0.3,0.4]}}],
                        "metadata":{"billableCharacterCount":30}}"#;
        let out: serde_json::Value =
            serde_json::from_slice(&translate(None, body, "text-embedding-004").unwrap()).unwrap();
        assert_eq!(out["usage"]["prompt_tokens"], 10);
        assert_eq!(out["data"][1]["index"], 1);
        let input = EmbedInput {
            texts: vec!["a".into()],
            batch: false,
            dimensions: Some(2),
            base64: false,
        };
        let b: serde_json::Value = serde_json::from_slice(&predict_body(&input)).unwrap();
        assert_eq!(b["parameters"]["outputDimensionality"], 2);
        assert_eq!(b["instances"][0]["content"], "a");
    }
}
