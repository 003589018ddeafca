//! `POST /v1/rerank`: the Cohere v2 contract (CONTRACT §1.4) and the pure
//! mappings of the OpenAI-wire providers that rerank (§9: together, deepinfra,
//! nvidia-nim). Native providers (cohere, bedrock) map it in their adapters
//! through [`crate::native::NativeAdapter::rerank_request`].
//!
//! Request `{model, query, documents[], top_n?, return_documents?,
//! max_tokens_per_doc?}`; answer `{id?, results:[{index, relevance_score,
//! document?:{text}}], model, meta?}`, best first. `top_n` caps the results
//! (0 → none; negative → 400); documents are echoed only when
//! `return_documents` is true, always from the request (exact text). Token
//! counts a vendor reports travel as `meta.tokens.{input_tokens,output_tokens}`.
//!
//! Upstream wires:
//! * together (and any other OpenAI-wire provider): `POST {root}/rerank`, the
//!   Cohere shape verbatim;
//! * deepinfra: `POST {host}/v1/inference/{model}` `{queries:[q], documents}`
//!   → `{scores[], input_tokens}` (one score per document, input order);
//! * nvidia-nim: the hosted `https://ai.api.nvidia.com/v1/retrieval/nvidia/reranking`
//!   (a self-hosted NIM, i.e. `NVIDIA_NIM_BASE_URL` set: `{root}/ranking`),
//!   `{model, query:{text}, passages:[{text}], truncate:"END"}` →
//!   `{rankings:[{index, logit}]}`; logits become scores by the logistic function.

use crate::instance::ProviderInstance;
use crate::native::{NativeRequest, TranslateError};
use bytes::Bytes;
use ferro_types::chat::{parse_object, validate_model};
use ferro_types::json::truncate;
use ferro_types::usage::TokenCounts;
use ferro_types::ApiError;
use http::Method;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// NVIDIA's hosted reranking endpoint.
pub const NVIDIA_HOSTED_RERANK: &str = "https://ai.api.nvidia.com/v1/retrieval/nvidia/reranking";

/// A validated rerank request.
#[derive(Debug, Clone, PartialEq)]
pub struct RerankRequest {
    pub model: String,
    pub query: String,
    pub documents: Vec<String>,
    pub top_n: Option<usize>,
    pub return_documents: bool,
    pub max_tokens_per_doc: Option<u64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Doc {
    Text(String),
    Object { text: String },
}

fn bad(m: impl Into<String>) -> ApiError {
    ApiError::invalid_request(format!("invalid request body: {}", m.into()))
}

impl RerankRequest {
    /// Strict-parses and validates a rerank body. Documents may be strings or
    /// `{"text": …}` objects (Cohere v1 style); unknown fields are ignored.
    pub fn parse(body: &[u8]) -> Result<RerankRequest, ApiError> {
        let obj = parse_object(body)?;
        let model: String = obj
            .get_non_null("model")
            .and_then(|r| serde_json::from_str(r.get()).ok())
            .ok_or_else(|| bad("model is required"))?;
        validate_model(&model)?;
        let query: String = match obj.get_non_null("query") {
            None => return Err(bad("query is required")),
            Some(r) => serde_json::from_str(r.get()).map_err(|_| bad("query must be a string"))?,
        };
        if query.is_empty() {
            return Err(bad("query must not be empty"));
        }
        let docs: Vec<Doc> = match obj.get_non_null("documents") {
            None => return Err(bad("documents is required")),
            Some(r) => serde_json::from_str(r.get())
                .map_err(|_| bad("documents must be an array of strings"))?,
        };
        if docs.is_empty() {
            return Err(bad("documents must not be empty"));
        }
        let documents = docs
            .into_iter()
            .map(|d| match d {
                Doc::Text(s) | Doc::Object { text: s } => s,
            })
            .collect();
        let top_n = match obj.get_non_null("top_n") {
            None => None,
            Some(r) => {
                let n: i64 =
                    serde_json::from_str(r.get()).map_err(|_| bad("top_n must be an integer"))?;
                if n < 0 {
                    return Err(bad("top_n must not be negative"));
                }
                Some(usize::try_from(n).unwrap_or(usize::MAX))
            }
        };
        let return_documents = match obj.get_non_null("return_documents") {
            None => false,
            Some(r) => serde_json::from_str(r.get())
                .map_err(|_| bad("return_documents must be a boolean"))?,
        };
        let max_tokens_per_doc = match obj.get_non_null("max_tokens_per_doc") {
            None => None,
            Some(r) => match serde_json::from_str::<u64>(r.get()) {
                Ok(n) if n > 0 => Some(n),
                _ => return Err(bad("max_tokens_per_doc must be a positive integer")),
            },
        };
        Ok(RerankRequest {
            model,
            query,
            documents,
            top_n,
            return_documents,
            max_tokens_per_doc,
        })
    }

    /// `top_n` capped to the number of documents (what upstreams accept).
    pub fn top_n_capped(&self) -> Option<usize> {
        self.top_n.map(|n| n.min(self.documents.len()))
    }
}

/// One ranked document.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranked {
    pub index: usize,
    pub score: f64,
}

/// Token counts a vendor reported, if any.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RerankTokens {
    pub input: Option<u64>,
    pub output: Option<u64>,
}

/// Builds the contract answer: `ranked` sorted best first (stable), capped to
/// `top_n`, documents attached from the request when asked. Indices outside
/// the request's documents are an untranslatable answer.
pub fn answer(
    req: &RerankRequest,
    mut ranked: Vec<Ranked>,
    id: Option<&str>,
    meta: Option<Value>,
    tokens: RerankTokens,
) -> Result<Vec<u8>, TranslateError> {
    if ranked.iter().any(|r| r.index >= req.documents.len()) {
        return Err(TranslateError("rerank result index out of range".into()));
    }
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score));
    if let Some(n) = req.top_n {
        ranked.truncate(n);
    }
    let results: Vec<Value> = ranked
        .iter()
        .map(|r| {
            let score = if r.score.is_finite() { r.score } else { 0.0 };
            let mut o = Map::new();
            o.insert("index".into(), json!(r.index));
            o.insert("relevance_score".into(), json!(score));
            if req.return_documents {
                o.insert("document".into(), json!({"text": req.documents[r.index]}));
            }
            Value::Object(o)
        })
        .collect();
    let mut out = Map::new();
    if let Some(id) = id.filter(|s| !s.is_empty()) {
        out.insert("id".into(), json!(id));
    }
    out.insert("results".into(), Value::Array(results));
    out.insert("model".into(), json!(req.model));
    let mut meta = match meta {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    if tokens.input.is_some() || tokens.output.is_some() {
        let mut t = Map::new();
        if let Some(i) = tokens.input {
            t.insert("input_tokens".into(), json!(i));
        }
        if let Some(o) = tokens.output {
            t.insert("output_tokens".into(), json!(o));
        }
        meta.insert("tokens".into(), Value::Object(t));
    }
    if !meta.is_empty() {
        out.insert("meta".into(), Value::Object(meta));
    }
    serde_json::to_vec(&Value::Object(out)).map_err(|e| TranslateError(e.to_string()))
}

/// The answer a request with `top_n: 0` gets without an upstream call.
pub fn empty_answer(req: &RerankRequest) -> Vec<u8> {
    json!({"results": [], "model": req.model})
        .to_string()
        .into_bytes()
}

/// Token counts of a contract answer (`meta.tokens`, else `meta.billed_units`).
pub fn counts(body: &[u8]) -> TokenCounts {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let n = |p: &str| v.pointer(p).and_then(Value::as_u64);
    let prompt = n("/meta/tokens/input_tokens")
        .or_else(|| n("/meta/billed_units/input_tokens"))
        .unwrap_or(0);
    let completion = n("/meta/tokens/output_tokens")
        .or_else(|| n("/meta/billed_units/output_tokens"))
        .unwrap_or(0);
    TokenCounts {
        prompt,
        completion,
        total: prompt + completion,
        ..TokenCounts::default()
    }
}

fn json_request(url: String, body: &Value) -> Result<NativeRequest, ApiError> {
    let body = serde_json::to_vec(body)
        .map_err(|_| ApiError::internal("could not build the upstream request"))?;
    Ok(NativeRequest {
        method: Method::POST,
        url,
        headers: Vec::new(),
        body: Bytes::from(body),
    })
}

/// The Cohere-shaped rerank body (Together, Cohere v2; Bedrock's Cohere models).
pub fn cohere_body(req: &RerankRequest, model: &str, with_return_documents: bool) -> Value {
    let mut b = Map::new();
    b.insert("model".into(), json!(model));
    b.insert("query".into(), json!(req.query));
    b.insert("documents".into(), json!(req.documents));
    if let Some(n) = req.top_n_capped() {
        b.insert("top_n".into(), json!(n));
    }
    if with_return_documents && req.return_documents {
        b.insert("return_documents".into(), json!(true));
    }
    if let Some(m) = req.max_tokens_per_doc {
        b.insert("max_tokens_per_doc".into(), json!(m));
    }
    Value::Object(b)
}

/// DeepInfra's native inference root for an OpenAI-compatible root.
fn deepinfra_inference(root: &str) -> String {
    let base = root.strip_suffix("/openai").unwrap_or(root);
    if base.ends_with("/v1") {
        format!("{base}/inference")
    } else {
        format!("{base}/v1/inference")
    }
}

/// The rerank request of an OpenAI-wire provider instance.
pub fn openai_request(
    inst: &ProviderInstance,
    req: &RerankRequest,
    model: &str,
) -> Result<NativeRequest, ApiError> {
    match inst.spec.id {
        "deepinfra" => json_request(
            format!("{}/{model}", deepinfra_inference(&inst.root)),
            &json!({"queries": [req.query], "documents": req.documents}),
        ),
        "nvidia-nim" => {
            let url = if inst.root == inst.spec.default_root {
                NVIDIA_HOSTED_RERANK.to_owned()
            } else {
                format!("{}/ranking", inst.root)
            };
            let passages: Vec<Value> = req.documents.iter().map(|d| json!({"text": d})).collect();
            json_request(
                url,
                &json!({"model": model, "query": {"text": req.query},
                        "passages": passages, "truncate": "END"}),
            )
        }
        _ => json_request(
            format!("{}/rerank", inst.root),
            &cohere_body(req, model, true),
        ),
    }
}

#[derive(Deserialize)]
struct CohereResult {
    index: usize,
    #[serde(default)]
    relevance_score: f64,
}

#[derive(Deserialize)]
struct CohereShaped {
    #[serde(default)]
    id: Option<String>,
    results: Vec<CohereResult>,
    #[serde(default)]
    meta: Option<Value>,
    #[serde(default)]
    usage: Option<Value>,
}

/// Reads a Cohere-shaped answer (Cohere v2, Together).
pub fn from_cohere_shape(req: &RerankRequest, body: &[u8]) -> Result<Vec<u8>, TranslateError> {
    let r: CohereShaped = serde_json::from_slice(body)
        .map_err(|e| TranslateError(format!("invalid rerank answer: {e}")))?;
    let ranked = r
        .results
        .iter()
        .map(|x| Ranked {
            index: x.index,
            score: x.relevance_score,
        })
        .collect();
    let n = |v: &Option<Value>, p: &str| v.as_ref().and_then(|u| u.pointer(p)?.as_u64());
    let tokens = RerankTokens {
        input: n(&r.usage, "/prompt_tokens").or_else(|| n(&r.meta, "/tokens/input_tokens")),
        output: n(&r.usage, "/completion_tokens")
            .filter(|c| *c > 0)
            .or_else(|| n(&r.meta, "/tokens/output_tokens")),
    };
    answer(req, ranked, r.id.as_deref(), r.meta, tokens)
}

/// Translates an OpenAI-wire provider's 2xx rerank answer into the contract.
pub fn openai_response(
    provider_id: &str,
    req: &RerankRequest,
    body: &[u8],
) -> Result<Vec<u8>, TranslateError> {
    let invalid = |e: serde_json::Error| TranslateError(format!("invalid rerank answer: {e}"));
    match provider_id {
        "deepinfra" => {
            #[derive(Deserialize)]
            struct Scores {
                scores: Vec<f64>,
                #[serde(default)]
                input_tokens: Option<u64>,
            }
            let s: Scores = serde_json::from_slice(body).map_err(invalid)?;
            if s.scores.len() != req.documents.len() {
                return Err(TranslateError(format!(
                    "rerank answered {} scores for {} documents",
                    s.scores.len(),
                    req.documents.len()
                )));
            }
            let ranked = s
                .scores
                .iter()
                .enumerate()
                .map(|(index, score)| Ranked {
                    index,
                    score: *score,
                })
                .collect();
            let tokens = RerankTokens {
                input: s.input_tokens,
                output: None,
            };
            answer(req, ranked, None, None, tokens)
        }
        "nvidia-nim" => {
            #[derive(Deserialize)]
            struct Ranking {
                index: usize,
                logit: f64,
            }
            #[derive(Deserialize)]
            struct Rankings {
                rankings: Vec<Ranking>,
                #[serde(default)]
                usage: Option<Value>,
            }
            let r: Rankings = serde_json::from_slice(body).map_err(invalid)?;
            let ranked = r
                .rankings
                .iter()
                .map(|x| Ranked {
                    index: x.index,
                    score: 1.0 / (1.0 + (-x.logit).exp()),
                })
                .collect();
            let tokens = RerankTokens {
                input: r
                    .usage
                    .as_ref()
                    .and_then(|u| u.get("prompt_tokens")?.as_u64()),
                output: None,
            };
            answer(req, ranked, None, None, tokens)
        }
        _ => from_cohere_shape(req, body),
    }
}

/// A short rendition of a model id for messages.
pub fn excerpt(model: &str) -> &str {
    truncate(model, 64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn req(extra: &str) -> Result<RerankRequest, ApiError> {
        RerankRequest::parse(
            format!(r#"{{"model":"rerank-v3.5","query":"q","documents":["a","b","c"]{extra}}}"#)
                .as_bytes(),
        )
    }

    #[test]
    fn parse_and_validate() {
        let r = req(r#","top_n":2,"return_documents":true,"max_tokens_per_doc":512"#).unwrap();
        assert_eq!(r.top_n, Some(2));
        assert!(r.return_documents);
        assert_eq!(r.max_tokens_per_doc, Some(512));
        assert_eq!(req(r#","top_n":0"#).unwrap().top_n, Some(0));
        assert_eq!(req(r#","top_n":99"#).unwrap().top_n_capped(), Some(3));
        for bad in [
            r#","top_n":-1"#,
            r#","top_n":1.5"#,
            r#","return_documents":"yes""#,
            r#","max_tokens_per_doc":0"#,
        ] {
            let e = req(bad).unwrap_err();
            assert_eq!(e.status, 400, "{bad}");
        }
        let objects =
            RerankRequest::parse(br#"{"model":"m","query":"q","documents":[{"text":"x"},"y"]}"#)
                .unwrap();
        assert_eq!(objects.documents, vec!["x", "y"]);
        for body in [
            r#"{"query":"q","documents":["a"]}"#,
            r#"{"model":"m","documents":["a"]}"#,
            r#"{"model":"m","query":"q"}"#,
            r#"{"model":"m","query":"q","documents":[]}"#,
            r#"{"model":"m","query":"q","documents":[1]}"#,
            r#"{"model":"m","query":"","documents":["a"]}"#,
        ] {
            assert_eq!(
                RerankRequest::parse(body.as_bytes()).unwrap_err().status,
                400
            );
        }
    }

    #[test]
    fn ranking_is_sorted_capped_and_echoes_documents() {
        let r = req(r#","top_n":2,"return_documents":true"#).unwrap();
        let ranked = vec![
            Ranked {
                index: 0,
                score: 0.1,
            },
            Ranked {
                index: 1,
                score: 0.9,
            },
            Ranked {
                index: 2,
                score: 0.5,
            },
        ];
        let out = answer(&r, ranked, Some("x"), None, RerankTokens::default()).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v,
            json!({"id":"x","model":"rerank-v3.5","results":[
                {"index":1,"relevance_score":0.9,"document":{"text":"b"}},
                {"index":2,"relevance_score":0.5,"document":{"text":"c"}}]})
        );
        let bad = vec![Ranked {
            index: 3,
            score: 1.0,
        }];
        assert!(answer(&r, bad, None, None, RerankTokens::default()).is_err());
    }

    #[test]
    fn vendor_shapes() {
        let r = req("").unwrap();
        let di = openai_response(
            "deepinfra",
            &r,
            br#"{"scores":[0.2,0.7,0.1],"input_tokens":12}"#,
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&di).unwrap();
        assert_eq!(v["results"][0]["index"], 1);
        assert_eq!(v["meta"]["tokens"]["input_tokens"], 12);
        assert_eq!(counts(&di).prompt, 12);
        assert!(openai_response("deepinfra", &r, br#"{"scores":[0.2]}"#).is_err());
        let nv = openai_response(
            "nvidia-nim",
            &r,
            br#"{"rankings":[{"index":2,"logit":8.3},{"index":0,"logit":-4.1}]}"#,
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&nv).unwrap();
        assert_eq!(v["results"][0]["index"], 2);
        let s = v["results"][0]["relevance_score"].as_f64().unwrap();
        assert!(s > 0.99 && s < 1.0);
        assert_eq!(
            deepinfra_inference("https://api.deepinfra.com/v1/openai"),
            "https://api.deepinfra.com/v1/inference"
        );
        assert_eq!(deepinfra_inference("http://h:9"), "http://h:9/v1/inference");
    }
}
