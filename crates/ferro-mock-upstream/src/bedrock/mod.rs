//! Amazon Bedrock: a deterministic Converse / ConverseStream / InvokeModel
//! runtime and the agent-runtime `Rerank` API, for testing the gateway's
//! native translation end to end.
//!
//! Routes (POST): `/model/{id}/converse`, `/model/{id}/converse-stream`
//! (binary `application/vnd.amazon.eventstream`, one frame per body chunk),
//! `/model/{id}/invoke` (Titan and Cohere embeddings), `/rerank`.
//!
//! Like the real service it checks credentials — `Authorization` must be a
//! Bearer token (an API key) or a SigV4 header of the right shape
//! (`AWS4-HMAC-SHA256 Credential=<key>/<yyyymmdd>/<region>/bedrock/aws4_request,
//! SignedHeaders=…host…x-amz-date…, Signature=<64 hex>` with a matching
//! `x-amz-date`, and `x-amz-security-token` when it is signed), else 403
//! — and refuses unknown top-level fields, blank text blocks, turns that do
//! not alternate and tool blocks without a `toolConfig` (400
//! `ValidationException`). Errors are `{"message"}` with `x-amzn-ErrorType`.
//! A model id containing `throttle` answers 429; `stream-error` streams a
//! little and then sends a `throttlingException` frame. Replies are described
//! in [`converse`].

mod converse;
mod eventstream;

use std::sync::Arc;

use bytes::Bytes;
use http::header::HeaderValue;
use http::{Method, Response, StatusCode};
use serde_json::{json, Map, Value};

use crate::body::MockBody;
use crate::openai::json as json_response;
use crate::server::Shared;
use crate::util::{estimate_tokens, fnv1a};

/// Cache tokens reported when a Converse request holds a `cachePoint`.
pub const CACHE_READ_TOKENS: u64 = 1024;
/// Cache-write tokens reported alongside [`CACHE_READ_TOKENS`].
pub const CACHE_WRITE_TOKENS: u64 = 256;

/// Whether this request is for the Bedrock mock.
pub(crate) fn handles(parts: &http::request::Parts) -> bool {
    let p = parts.uri.path();
    parts.method == Method::POST
        && (p == "/rerank"
            || (p.starts_with("/model/")
                && (p.ends_with("/converse")
                    || p.ends_with("/converse-stream")
                    || p.ends_with("/invoke"))))
}

/// A Bedrock error answer.
pub(crate) fn error(status: StatusCode, kind: &str, message: &str) -> Response<MockBody> {
    let mut r = json_response(status, Bytes::from(json!({"message": message}).to_string()));
    if let Ok(v) = HeaderValue::from_str(kind) {
        r.headers_mut().insert("x-amzn-errortype", v);
    }
    r
}

pub(crate) fn invalid(message: &str) -> Response<MockBody> {
    error(StatusCode::BAD_REQUEST, "ValidationException", message)
}

/// JSON pointer into an object (`Map` has no `pointer` of its own).
pub(crate) fn ptr<'a>(m: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let rest = path.strip_prefix('/')?;
    let (first, tail) = match rest.split_once('/') {
        Some((f, t)) => (f, format!("/{t}")),
        None => (rest, String::new()),
    };
    m.get(first)?.pointer(&tail)
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Checks the credential headers; `Err` is the refusal.
fn authorized(parts: &http::request::Parts) -> Result<(), &'static str> {
    let h = |n: &str| parts.headers.get(n).and_then(|v| v.to_str().ok());
    let auth = h("authorization").ok_or("Missing Authentication Token")?;
    if let Some(token) = auth.strip_prefix("Bearer ") {
        return if token.trim().is_empty() {
            Err("Invalid API key")
        } else {
            Ok(())
        };
    }
    let rest = auth
        .strip_prefix("AWS4-HMAC-SHA256 Credential=")
        .ok_or("Authorization header requires 'Credential' parameter")?;
    let mut it = rest.split(", ");
    let cred = it.next().unwrap_or("");
    let signed = it
        .next()
        .and_then(|s| s.strip_prefix("SignedHeaders="))
        .ok_or("Authorization header requires 'SignedHeaders' parameter")?;
    let sig = it
        .next()
        .and_then(|s| s.strip_prefix("Signature="))
        .ok_or("Authorization header requires 'Signature' parameter")?;
    let scope: Vec<&str> = cred.split('/').collect();
    let date = h("x-amz-date").ok_or("x-amz-date header is required")?;
    let shaped = scope.len() == 5
        && !scope[0].is_empty()
        && scope[1].len() == 8
        && date.len() == 16
        && date.starts_with(scope[1])
        && scope[3] == "bedrock"
        && scope[4] == "aws4_request"
        && is_hex64(sig);
    if !shaped {
        return Err(
            "The request signature we calculated does not match the signature you provided",
        );
    }
    let names: Vec<&str> = signed.split(';').collect();
    if !names.contains(&"host") || !names.contains(&"x-amz-date") {
        return Err("host and x-amz-date must be signed");
    }
    if names.contains(&"x-amz-security-token") && h("x-amz-security-token").is_none() {
        return Err("The security token included in the request is invalid");
    }
    Ok(())
}

/// The model id of a `/model/{id}/…` path, percent-decoded.
fn model_of(path: &str) -> String {
    let inner = path
        .strip_prefix("/model/")
        .and_then(|p| p.rsplit_once('/'))
        .map(|(m, _)| m)
        .unwrap_or("");
    let b = inner.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&inner[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Answers a Bedrock request.
pub(crate) fn respond(
    shared: &Arc<Shared>,
    parts: &http::request::Parts,
    body: &Bytes,
    abort_after: Option<usize>,
) -> Response<MockBody> {
    if let Err(m) = authorized(parts) {
        return error(StatusCode::FORBIDDEN, "AccessDeniedException", m);
    }
    let req: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(_) => {
            return invalid("Malformed input request, please reformat your input and try again.")
        }
    };
    let path = parts.uri.path();
    if path == "/rerank" {
        return rerank(&req);
    }
    let model = model_of(path);
    if model.contains("throttle") {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
        );
    }
    if path.ends_with("/invoke") {
        return invoke(&model, &req);
    }
    converse::respond(
        shared,
        &model,
        &req,
        body,
        path.ends_with("-stream"),
        abort_after,
    )
}

fn vector(seed: &str, dims: usize) -> Vec<f64> {
    let h = fnv1a(seed.as_bytes());
    (0..dims)
        .map(|k| (((h >> (k % 8 * 8)) & 0xff) as f64 / 255.0 * 2.0 - 1.0) / (k as f64 + 1.0))
        .collect()
}

/// InvokeModel embeddings (Titan, Cohere).
fn invoke(model: &str, req: &Map<String, Value>) -> Response<MockBody> {
    let ok = |v: Value| json_response(StatusCode::OK, Bytes::from(v.to_string()));
    if model.contains("titan-embed") {
        if let Some(k) = req.keys().find(|k| {
            !["inputText", "dimensions", "normalize", "embeddingTypes"].contains(&k.as_str())
        }) {
            return invalid(&format!(
                "Malformed input request: extraneous key [{k}] is not permitted"
            ));
        }
        let Some(text) = req.get("inputText").and_then(Value::as_str) else {
            return invalid("Malformed input request: required key [inputText] not found");
        };
        let dims = req.get("dimensions").and_then(Value::as_u64).unwrap_or(8) as usize;
        return ok(json!({"embedding": vector(text, dims.min(1024)),
            "inputTextTokenCount": estimate_tokens(text.chars().count())}));
    }
    if model.contains("cohere.embed") {
        let allowed = [
            "texts",
            "input_type",
            "truncate",
            "embedding_types",
            "images",
        ];
        if let Some(k) = req.keys().find(|k| !allowed.contains(&k.as_str())) {
            return invalid(&format!(
                "Malformed input request: extraneous key [{k}] is not permitted"
            ));
        }
        let (Some(texts), Some(_)) = (
            req.get("texts").and_then(Value::as_array),
            req.get("input_type").and_then(Value::as_str),
        ) else {
            return invalid("Malformed input request: texts and input_type are required");
        };
        let vs: Vec<Value> = texts
            .iter()
            .map(|t| json!(vector(t.as_str().unwrap_or(""), 8)))
            .collect();
        let by_type = req.get("embedding_types").is_some();
        let embeddings = if by_type {
            json!({"float": vs})
        } else {
            json!(vs)
        };
        return ok(
            json!({"embeddings": embeddings, "id": "mock-embed", "texts": texts,
            "response_type": if by_type { "embeddings_by_type" } else { "embeddings_floats" }}),
        );
    }
    invalid("The provided model doesn't support on-demand throughput for this operation.")
}

/// Relevance of a document to a query: shared words over query words.
pub(crate) fn relevance(query: &str, doc: &str) -> f64 {
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    let q = words(query);
    let d = words(doc);
    if q.is_empty() {
        return 0.0;
    }
    let hits = q.iter().filter(|w| d.contains(w)).count();
    (hits as f64 / q.len() as f64 * 0.98 + 0.01).min(0.99)
}

/// The agent-runtime `Rerank` API.
fn rerank(req: &Map<String, Value>) -> Response<MockBody> {
    let allowed = ["queries", "sources", "rerankingConfiguration", "nextToken"];
    if let Some(k) = req.keys().find(|k| !allowed.contains(&k.as_str())) {
        return invalid(&format!("extraneous key [{k}] is not permitted"));
    }
    let query = req
        .get("queries")
        .and_then(|q| q.pointer("/0/textQuery/text"))
        .and_then(Value::as_str);
    let docs: Option<Vec<&str>> = req.get("sources").and_then(Value::as_array).map(|s| {
        s.iter()
            .filter_map(|d| {
                d.pointer("/inlineDocumentSource/textDocument/text")?
                    .as_str()
            })
            .collect()
    });
    let cfg = req.get("rerankingConfiguration");
    let arn = cfg
        .and_then(|c| c.pointer("/bedrockRerankingConfiguration/modelConfiguration/modelArn"))
        .and_then(Value::as_str);
    let (Some(query), Some(docs), Some(arn)) = (query, docs, arn) else {
        return invalid("queries, sources and rerankingConfiguration are required");
    };
    if !arn.starts_with("arn:aws:bedrock:") {
        return invalid("modelArn must be an ARN");
    }
    let n = cfg
        .and_then(|c| c.pointer("/bedrockRerankingConfiguration/numberOfResults"))
        .and_then(Value::as_u64)
        .unwrap_or(docs.len() as u64) as usize;
    let mut scored: Vec<(usize, f64)> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| (i, relevance(query, d)))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored.truncate(n);
    let results: Vec<Value> = scored
        .iter()
        .map(|(i, s)| json!({"index": i, "relevanceScore": s}))
        .collect();
    json_response(
        StatusCode::OK,
        Bytes::from(json!({"results": results}).to_string()),
    )
}
