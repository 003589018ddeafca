//! OpenAI wire shapes: routing by path suffix (so Azure-style
//! `/openai/deployments/{dep}/chat/completions?api-version=..` works) and the
//! constant responses (models list, echo, error envelopes).

mod chat;
mod completions;
mod misc;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use http::{Method, Response, StatusCode};

use crate::body::MockBody;
use crate::server::Shared;
use crate::util::Out;

/// `system_fingerprint` reported on chat responses.
pub(crate) const FINGERPRINT: &str = "fp_mock";

/// Longest slice of the user message echoed back in replies.
pub(crate) const ECHO_MAX_CHARS: usize = 200;

/// Hard cap on `n` (choices / images per request).
pub(crate) const MAX_N: u32 = 16;

const MODELS: &str = concat!(
    r#"{"object":"list","data":["#,
    r#"{"id":"gpt-4o","object":"model","created":1715367049,"owned_by":"mock"},"#,
    r#"{"id":"gpt-4o-mini","object":"model","created":1721172741,"owned_by":"mock"},"#,
    r#"{"id":"text-embedding-3-small","object":"model","created":1705948997,"owned_by":"mock"},"#,
    r#"{"id":"dall-e-3","object":"model","created":1698785189,"owned_by":"mock"},"#,
    r#"{"id":"omni-moderation-latest","object":"model","created":1731689265,"owned_by":"mock"}"#,
    r#"]}"#
);

/// Answer a (non-control) request with the OpenAI-shaped response for its
/// path. `abort_after` is the `StreamThenError` fault, if any.
pub(crate) fn respond(
    shared: &Arc<Shared>,
    parts: &http::request::Parts,
    body: &Bytes,
    abort_after: Option<usize>,
) -> Response<MockBody> {
    let path = parts.uri.path();
    match parts.method {
        Method::POST => {
            if path.ends_with("/chat/completions") {
                chat::handle(shared, parts, body, abort_after)
            } else if path.ends_with("/completions") {
                completions::handle(shared, parts, body, abort_after)
            } else if path.ends_with("/embeddings") {
                misc::embeddings(body, path)
            } else if path.ends_with("/images/generations") {
                misc::images(body)
            } else if path.ends_with("/moderations") {
                misc::moderations(shared, body)
            } else {
                echo(parts)
            }
        }
        Method::GET => {
            if path.ends_with("/models") {
                json(StatusCode::OK, Bytes::from_static(MODELS.as_bytes()))
            } else if let Some((_, id)) =
                path.split_once("/models/").filter(|(_, id)| !id.is_empty())
            {
                model(id)
            } else {
                echo(parts)
            }
        }
        _ => echo(parts),
    }
}

/// `application/json` response.
pub(crate) fn json(status: StatusCode, body: impl Into<Bytes>) -> Response<MockBody> {
    let mut resp = Response::new(MockBody::full(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// `text/event-stream` response around an SSE body.
pub(crate) fn sse(body: MockBody) -> Response<MockBody> {
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// OpenAI error envelope:
/// `{"error":{"message":..,"type":..,"param":null,"code":null}}`.
pub(crate) fn error_envelope(message: &str, kind: &str) -> Bytes {
    let mut o = Out::with_capacity(message.len() + 96);
    o.raw(r#"{"error":{"message":"#)
        .str(message)
        .raw(r#","type":"#)
        .str(kind)
        .raw(r#","param":null,"code":null}}"#);
    o.into_bytes()
}

/// 400 `invalid_request_error`.
pub(crate) fn bad_request(message: &str) -> Response<MockBody> {
    json(
        StatusCode::BAD_REQUEST,
        error_envelope(message, "invalid_request_error"),
    )
}

/// 400 for a body that did not parse as the endpoint's JSON.
pub(crate) fn bad_json(err: &serde_json::Error) -> Response<MockBody> {
    bad_request(&format!(
        "We could not parse the JSON body of your request. ({err})"
    ))
}

/// Next value of the per-server id counter (starts at 1).
pub(crate) fn next_id(shared: &Shared) -> u64 {
    shared.seq.fetch_add(1, Ordering::Relaxed) + 1
}

/// Azure-style deployment name from `/deployments/{dep}/...`, if any.
pub(crate) fn deployment(path: &str) -> Option<&str> {
    let rest = path.split_once("/deployments/")?.1;
    let dep = rest.split('/').next()?;
    (!dep.is_empty()).then_some(dep)
}

/// The `x-mock-usage` header: a JSON object that replaces `usage` verbatim.
/// `Ok(None)` when absent; `Err` when present but not a JSON object.
pub(crate) fn usage_override(parts: &http::request::Parts) -> Result<Option<&str>, String> {
    let Some(v) = parts.headers.get("x-mock-usage") else {
        return Ok(None);
    };
    let s = v
        .to_str()
        .map_err(|_| "x-mock-usage is not valid text".to_owned())?
        .trim();
    match serde_json::from_str::<&serde_json::value::RawValue>(s) {
        Ok(_) if s.starts_with('{') => Ok(Some(s)),
        _ => Err("x-mock-usage must be a JSON object".to_owned()),
    }
}

fn model(id: &str) -> Response<MockBody> {
    let mut o = Out::with_capacity(id.len() + 72);
    o.raw(r#"{"id":"#)
        .str(id)
        .raw(r#","object":"model","created":1715367049,"owned_by":"mock"}"#);
    json(StatusCode::OK, o.into_bytes())
}

/// Catch-all: `{"ok":true,"path":..,"method":..,"query":..}` (path without
/// the query string; `query` is the raw query or null).
fn echo(parts: &http::request::Parts) -> Response<MockBody> {
    let path = parts.uri.path();
    let mut o = Out::with_capacity(path.len() + 64);
    o.raw(r#"{"ok":true,"path":"#)
        .str(path)
        .raw(r#","method":"#)
        .str(parts.method.as_str())
        .raw(r#","query":"#);
    match parts.uri.query() {
        Some(q) => o.str(q),
        None => o.raw("null"),
    };
    o.raw("}");
    json(StatusCode::OK, o.into_bytes())
}

/// Split `s` into exactly `k` consecutive pieces of near-equal char count
/// (pieces may be empty when `s` has fewer than `k` chars).
pub(crate) fn split_pieces(s: &str, k: usize) -> Vec<&str> {
    let k = k.max(1);
    let bounds: Vec<usize> = s
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(s.len()))
        .collect();
    let n = bounds.len() - 1;
    (0..k)
        .map(|j| &s[bounds[j * n / k]..bounds[(j + 1) * n / k]])
        .collect()
}

/// Write the default usage object (with OpenAI's detail sub-objects).
pub(crate) fn write_usage(o: &mut Out, prompt: u64, completion: u64) {
    o.raw(r#"{"prompt_tokens":"#)
        .num(prompt)
        .raw(r#","completion_tokens":"#)
        .num(completion)
        .raw(r#","total_tokens":"#)
        .num(prompt + completion)
        .raw(concat!(
            r#","prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"#,
            r#""completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"#,
            r#""accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}"#
        ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cover_the_text_exactly() {
        for k in [1, 3, 5, 40] {
            let s = "mock reply to: héllo wörld";
            let p = split_pieces(s, k);
            assert_eq!(p.len(), k);
            assert_eq!(p.concat(), s);
        }
        assert_eq!(split_pieces("", 3), vec!["", "", ""]);
    }

    #[test]
    fn constant_shapes_are_valid_json() {
        let v: serde_json::Value = serde_json::from_str(MODELS).unwrap();
        assert_eq!(v["data"][0]["object"], "model");
        let v: serde_json::Value = serde_json::from_slice(&error_envelope("a\"b", "x")).unwrap();
        assert_eq!(v["error"]["message"], "a\"b");
        let mut o = Out::with_capacity(0);
        write_usage(&mut o, 3, 4);
        let v: serde_json::Value = serde_json::from_str(&o.buf).unwrap();
        assert_eq!(v["total_tokens"], 7);
    }

    #[test]
    fn deployment_names() {
        assert_eq!(
            deployment("/openai/deployments/gpt4/chat/completions"),
            Some("gpt4")
        );
        assert_eq!(deployment("/v1/chat/completions"), None);
    }
}
