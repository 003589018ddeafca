//! Rerank on the OpenAI-wire providers that offer it (CONTRACT §9):
//! * Together: `POST …/rerank` — the Cohere shape (`model, query, documents,
//!   top_n?, return_documents?`) → `{object, id, model, results[{index,
//!   relevance_score, document?}], usage}`;
//! * DeepInfra: `POST …/v1/inference/{model}` — `{queries:[q], documents}` →
//!   `{scores[], input_tokens}` (input order);
//! * NVIDIA NIM: `POST …/ranking` or `…/retrieval/nvidia/reranking` —
//!   `{model, query:{text}, passages:[{text}], truncate?}` →
//!   `{rankings[{index, logit}], usage}`.
//!
//! Each refuses unknown fields (400, OpenAI error envelope) and requires a
//! Bearer key (401). Scores come from word overlap, so tests can predict order.

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use serde_json::{json, Map, Value};

use crate::bedrock::relevance;
use crate::body::MockBody;
use crate::openai::{bad_request, error_envelope, json as json_response};
use crate::util::estimate_tokens;

/// Whether this request is a rerank of an OpenAI-wire provider.
pub(crate) fn handles(parts: &http::request::Parts) -> bool {
    let p = parts.uri.path();
    parts.method == Method::POST
        && (p.ends_with("/v1/rerank")
            || p.contains("/v1/inference/")
            || p.ends_with("/ranking")
            || p.ends_with("/retrieval/nvidia/reranking"))
}

fn ok(v: Value) -> Response<MockBody> {
    json_response(StatusCode::OK, Bytes::from(v.to_string()))
}

fn strings(v: Option<&Value>) -> Option<Vec<&str>> {
    v?.as_array()?.iter().map(Value::as_str).collect()
}

/// Answers a rerank request.
pub(crate) fn respond(parts: &http::request::Parts, body: &Bytes) -> Response<MockBody> {
    let authed = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer ") && v.len() > 7);
    if !authed {
        return json_response(
            StatusCode::UNAUTHORIZED,
            error_envelope("Invalid API key", "invalid_request_error"),
        );
    }
    let Ok(req) = serde_json::from_slice::<Map<String, Value>>(body) else {
        return bad_request("invalid JSON body");
    };
    let path = parts.uri.path();
    let allowed: &[&str] = if path.contains("/v1/inference/") {
        &["queries", "documents"]
    } else if path.ends_with("/rerank") {
        &[
            "model",
            "query",
            "documents",
            "top_n",
            "return_documents",
            "max_tokens_per_doc",
        ]
    } else {
        &["model", "query", "passages", "truncate"]
    };
    if let Some(k) = req.keys().find(|k| !allowed.contains(&k.as_str())) {
        return bad_request(&format!("unknown field `{k}`"));
    }
    if path.contains("/v1/inference/") {
        let (Some(q), Some(docs)) = (strings(req.get("queries")), strings(req.get("documents")))
        else {
            return bad_request("queries and documents are required");
        };
        let q = q.first().copied().unwrap_or("");
        let scores: Vec<f64> = docs.iter().map(|d| relevance(q, d)).collect();
        let tokens: u64 = docs.iter().map(|d| estimate_tokens(d.len())).sum();
        return ok(json!({"scores": scores, "input_tokens": tokens}));
    }
    if path.ends_with("/rerank") {
        let (Some(q), Some(docs)) = (
            req.get("query").and_then(Value::as_str),
            strings(req.get("documents")),
        ) else {
            return bad_request("query and documents are required");
        };
        let mut scored: Vec<(usize, f64)> = docs
            .iter()
            .enumerate()
            .map(|(i, d)| (i, relevance(q, d)))
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        if let Some(n) = req.get("top_n").and_then(Value::as_u64) {
            scored.truncate(n as usize);
        }
        let echo = req.get("return_documents") == Some(&Value::Bool(true));
        let results: Vec<Value> = scored
            .iter()
            .map(|(i, s)| {
                let mut r = json!({"index": i, "relevance_score": s});
                if echo {
                    r["document"] = json!({"text": docs[*i]});
                }
                r
            })
            .collect();
        let tokens: u64 = docs.iter().map(|d| estimate_tokens(d.len())).sum();
        return ok(json!({"object": "rerank", "id": "mock-rerank",
            "model": req.get("model").cloned().unwrap_or(Value::Null), "results": results,
            "usage": {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens}}));
    }
    let q = crate::bedrock::ptr(&req, "/query/text").and_then(Value::as_str);
    let docs: Option<Vec<&str>> = req.get("passages").and_then(Value::as_array).and_then(|p| {
        p.iter()
            .map(|x| x.get("text").and_then(Value::as_str))
            .collect()
    });
    let (Some(q), Some(docs)) = (q, docs) else {
        return bad_request("query.text and passages are required");
    };
    let mut rankings: Vec<(usize, f64)> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| (i, (relevance(q, d) - 0.5) * 16.0))
        .collect();
    rankings.sort_by(|a, b| b.1.total_cmp(&a.1));
    let rankings: Vec<Value> = rankings
        .iter()
        .map(|(i, l)| json!({"index": i, "logit": l}))
        .collect();
    let tokens: u64 = docs.iter().map(|d| estimate_tokens(d.len())).sum();
    ok(json!({"rankings": rankings, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}))
}
