//! The built-in `mock` provider (★10): answers in-process with deterministic echo
//! replies and realistic usage, optionally with latency and streaming, so a fresh
//! install serves requests without any vendor key. Every reply says it is a mock.

use crate::client::{UpstreamBody, UpstreamError, UpstreamResponse};
use crate::spec::Operation;
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Behaviour of a mock instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MockSettings {
    /// Delay before the response (and before the first stream chunk).
    pub latency: Duration,
    /// Content chunks per streamed reply (0 → 4).
    pub stream_chunks: usize,
    /// Delay between stream chunks.
    pub chunk_gap: Duration,
}

static COUNTER: AtomicU64 = AtomicU64::new(1);

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Rough token estimate: chars / 4 + 1.
fn tokens(s: &str) -> u64 {
    (s.chars().count() as u64) / 4 + 1
}

fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

fn bad_request(msg: &str) -> UpstreamResponse {
    UpstreamResponse::json(
        400,
        Bytes::from(
            json!({"error":{"message":msg,"type":"invalid_request_error","code":"invalid_request"}})
                .to_string(),
        ),
    )
}

/// Answers one request of `op` as a provider would.
pub async fn respond(op: Operation, body: &[u8], settings: &MockSettings) -> UpstreamResponse {
    if !settings.latency.is_zero() {
        tokio::time::sleep(settings.latency).await;
    }
    let req: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => return bad_request("mock: invalid JSON"),
    };
    let model = req
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("mock-model")
        .to_owned();
    let id = COUNTER.fetch_add(1, Ordering::Relaxed);
    match op {
        Operation::Chat | Operation::Completions => chat(&req, &model, id, settings),
        Operation::Embeddings => {
            let inputs: Vec<String> = match req.get("input") {
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|v| v.as_str().unwrap_or("").to_owned())
                    .collect(),
                Some(Value::String(s)) => vec![s.clone()],
                _ => vec![String::new()],
            };
            let prompt: u64 = inputs.iter().map(|s| tokens(s)).sum();
            let data: Vec<Value> = inputs
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let seed = s
                        .bytes()
                        .fold(7u64, |a, b| a.wrapping_mul(31).wrapping_add(b as u64));
                    let emb: Vec<f64> = (0..8)
                        .map(|k| (((seed >> (k * 4)) & 0xff) as f64 / 255.0) - 0.5)
                        .collect();
                    json!({"object":"embedding","index":i,"embedding":emb})
                })
                .collect();
            let v = json!({"object":"list","data":data,"model":model,
                "usage":{"prompt_tokens":prompt,"total_tokens":prompt}});
            UpstreamResponse::json(200, Bytes::from(v.to_string()))
        }
        Operation::Images => {
            let n = req
                .get("n")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .clamp(1, 10);
            let b64 = req.get("response_format").and_then(Value::as_str) == Some("b64_json");
            let prompt = req.get("prompt").and_then(Value::as_str).unwrap_or("");
            let data: Vec<Value> = (0..n)
                .map(|_| {
                    if b64 {
                        json!({"b64_json":"iVBORw0KGgo=","revised_prompt":prompt})
                    } else {
                        json!({"url":"https://example.invalid/ferro-mock.png","revised_prompt":prompt})
                    }
                })
                .collect();
            UpstreamResponse::json(
                200,
                Bytes::from(json!({"created":now(),"data":data}).to_string()),
            )
        }
        Operation::Moderations => {
            let cats = ["harassment", "hate", "self-harm", "sexual", "violence"];
            let categories: serde_json::Map<String, Value> = cats
                .iter()
                .map(|c| (c.to_string(), Value::Bool(false)))
                .collect();
            let scores: serde_json::Map<String, Value> =
                cats.iter().map(|c| (c.to_string(), json!(0.0))).collect();
            let v = json!({"id":format!("modr-mock-{id}"),"model":model,
                "results":[{"flagged":false,"categories":categories,"category_scores":scores}]});
            UpstreamResponse::json(200, Bytes::from(v.to_string()))
        }
        Operation::Models => UpstreamResponse::json(
            200,
            Bytes::from(json!({"object":"list","data":[]}).to_string()),
        ),
        Operation::Rerank => bad_request("mock: rerank is not offered"),
    }
}

fn chat(req: &Value, model: &str, id: u64, settings: &MockSettings) -> UpstreamResponse {
    let messages = req
        .get("messages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let prompt_tokens: u64 = messages
        .iter()
        .map(|m| tokens(&text_of(m.get("content").unwrap_or(&Value::Null))) + 3)
        .sum();
    let last_user = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .map(|m| text_of(m.get("content").unwrap_or(&Value::Null)))
        .unwrap_or_default();
    let echo: String = last_user.chars().take(200).collect();
    let reply = format!("[mock provider] You said: {echo}");
    let completion_tokens = tokens(&reply);
    let usage = json!({"prompt_tokens":prompt_tokens,"completion_tokens":completion_tokens,
        "total_tokens":prompt_tokens+completion_tokens});
    let cid = format!("chatcmpl-mock-{id}");
    let created = now();
    let stream = req.get("stream").and_then(Value::as_bool).unwrap_or(false);
    if !stream {
        let v = json!({"id":cid,"object":"chat.completion","created":created,"model":model,
            "choices":[{"index":0,"message":{"role":"assistant","content":reply},
                "logprobs":null,"finish_reason":"stop"}],
            "usage":usage,"system_fingerprint":"fp_ferro_mock"});
        return UpstreamResponse::json(200, Bytes::from(v.to_string()));
    }
    let include_usage = req
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let n = if settings.stream_chunks == 0 {
        4
    } else {
        settings.stream_chunks
    };
    let chars: Vec<char> = reply.chars().collect();
    let per = chars.len().div_ceil(n).max(1);
    let mut events: Vec<Bytes> = Vec::with_capacity(n + 4);
    let chunk = |delta: Value, finish: Value| {
        let mut c = json!({"id":cid,"object":"chat.completion.chunk","created":created,"model":model,
            "system_fingerprint":"fp_ferro_mock",
            "choices":[{"index":0,"delta":delta,"logprobs":null,"finish_reason":finish}]});
        if include_usage {
            c["usage"] = Value::Null;
        }
        Bytes::from(format!("data: {c}\n\n"))
    };
    events.push(chunk(json!({"role":"assistant","content":""}), Value::Null));
    for piece in chars.chunks(per) {
        events.push(chunk(
            json!({"content":piece.iter().collect::<String>()}),
            Value::Null,
        ));
    }
    events.push(chunk(json!({}), json!("stop")));
    if include_usage {
        let u = json!({"id":cid,"object":"chat.completion.chunk","created":created,"model":model,
            "system_fingerprint":"fp_ferro_mock","choices":[],"usage":usage});
        events.push(Bytes::from(format!("data: {u}\n\n")));
    }
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    let gap = settings.chunk_gap;
    let stream = futures_util::stream::iter(events.into_iter().enumerate())
        .then(move |(i, ev)| async move {
            if i > 0 && !gap.is_zero() {
                tokio::time::sleep(gap).await;
            }
            Ok::<Bytes, UpstreamError>(ev)
        })
        .boxed();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/event-stream"),
    );
    UpstreamResponse {
        status: 200,
        headers,
        body: UpstreamBody::Stream(stream),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn chat_echo_with_usage() {
        let r = respond(
            Operation::Chat,
            br#"{"model":"m","messages":[{"role":"user","content":"hello there"}]}"#,
            &MockSettings::default(),
        )
        .await;
        let (status, _, body) = r.into_bytes(1 << 20).await.unwrap();
        assert_eq!(status, 200);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert!(v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .contains("hello there"));
        assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    }

    #[tokio::test]
    async fn stream_ends_with_usage_and_done() {
        let r = respond(
            Operation::Chat,
            br#"{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#,
            &MockSettings::default(),
        )
        .await;
        let (_, _, body) = r.into_bytes(1 << 20).await.unwrap();
        let s = String::from_utf8(body.to_vec()).unwrap();
        assert!(s.ends_with("data: [DONE]\n\n"));
        assert!(s.contains("\"choices\":[],"));
    }
}
