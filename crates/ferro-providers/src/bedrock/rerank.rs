//! Rerank through the agent-runtime `Rerank` API
//! (`POST https://bedrock-agent-runtime.{region}.amazonaws.com/rerank`):
//! inline text sources, the model as a foundation-model ARN, results mapped
//! onto the Cohere v2 contract ([`crate::rerank`]).

use crate::native::TranslateError;
use crate::rerank::{self, RerankRequest};
use serde_json::{json, Value};

/// The agent-runtime `Rerank` body.
pub fn rerank_body(req: &RerankRequest, model: &str, region: &str) -> Value {
    let arn = if model.starts_with("arn:") {
        model.to_owned()
    } else {
        format!("arn:aws:bedrock:{region}::foundation-model/{model}")
    };
    let sources: Vec<Value> = req
        .documents
        .iter()
        .map(|d| {
            json!({"type": "INLINE", "inlineDocumentSource":
            {"type": "TEXT", "textDocument": {"text": d}}})
        })
        .collect();
    let mut model_cfg = json!({"modelArn": arn});
    if let Some(m) = req.max_tokens_per_doc {
        model_cfg["additionalModelRequestFields"] = json!({"max_tokens_per_doc": m});
    }
    let n = req.top_n_capped().unwrap_or(req.documents.len()).max(1);
    json!({
        "queries": [{"type": "TEXT", "textQuery": {"text": req.query}}],
        "sources": sources,
        "rerankingConfiguration": {
            "type": "BEDROCK_RERANKING_MODEL",
            "bedrockRerankingConfiguration": {
                "modelConfiguration": model_cfg,
                "numberOfResults": n,
            },
        },
    })
}

/// The contract answer of a 2xx `Rerank` body.
pub fn translate(req: &RerankRequest, body: &[u8]) -> Result<Vec<u8>, TranslateError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| TranslateError(format!("invalid Rerank answer: {e}")))?;
    let results = v
        .get("results")
        .and_then(Value::as_array)
        .ok_or_else(|| TranslateError("Rerank answer has no results".into()))?;
    let ranked = results
        .iter()
        .map(|r| {
            let index = r
                .get("index")
                .and_then(Value::as_u64)
                .ok_or_else(|| TranslateError("Rerank result without index".into()))?;
            Ok(rerank::Ranked {
                index: usize::try_from(index).unwrap_or(usize::MAX),
                score: r
                    .get("relevanceScore")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0),
            })
        })
        .collect::<Result<Vec<_>, TranslateError>>()?;
    rerank::answer(req, ranked, None, None, rerank::RerankTokens::default())
}
