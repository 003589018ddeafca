//! `POST …/completions` (legacy): `text_completion` objects and streams.

use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode};
use serde::Deserialize;

use super::chat::StreamOptions;
use super::{
    bad_json, bad_request, deployment, json, next_id, split_pieces, sse, usage_override,
    write_usage, ECHO_MAX_CHARS, MAX_N,
};
use crate::body::{MockBody, SseBuilder};
use crate::server::Shared;
use crate::util::{estimate_tokens, truncate_chars, unix_now, Out};

#[derive(Deserialize)]
struct CompletionRequest {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    prompt: Option<serde_json::Value>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    n: Option<u32>,
}

/// Prompts as (text, token count): a string, an array of strings, an array
/// of token ids (one prompt) or an array of token arrays.
fn prompts(v: Option<&serde_json::Value>) -> Vec<(String, u64)> {
    use serde_json::Value;
    let text = |s: &str| (s.to_owned(), estimate_tokens(s.chars().count()));
    match v {
        None | Some(Value::Null) => vec![text("")],
        Some(Value::String(s)) => vec![text(s)],
        Some(Value::Array(items)) if items.iter().all(Value::is_number) => {
            vec![(String::new(), items.len() as u64)]
        }
        Some(Value::Array(items)) => items
            .iter()
            .map(|it| match it {
                Value::String(s) => text(s),
                Value::Array(toks) => (String::new(), toks.len() as u64),
                _ => text(""),
            })
            .collect(),
        Some(_) => vec![text("")],
    }
}

pub(super) fn handle(
    shared: &Arc<Shared>,
    parts: &http::request::Parts,
    body: &Bytes,
    abort_after: Option<usize>,
) -> Response<MockBody> {
    let req: CompletionRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return bad_json(&e),
    };
    let usage_raw = match usage_override(parts) {
        Ok(u) => u,
        Err(msg) => return bad_request(&msg),
    };
    let model = req
        .model
        .as_deref()
        .or_else(|| deployment(parts.uri.path()))
        .unwrap_or("mock-model");
    let n = req.n.unwrap_or(1).clamp(1, MAX_N) as usize;
    let prompts = prompts(req.prompt.as_ref());
    // One choice per (prompt, n), indexed prompt-major like OpenAI.
    let replies: Vec<String> = prompts
        .iter()
        .flat_map(|(p, _)| {
            let r = format!("mock reply to: {}", truncate_chars(p, ECHO_MAX_CHARS));
            std::iter::repeat_n(r, n)
        })
        .collect();
    let prompt_tokens: u64 = prompts.iter().map(|(_, t)| t).sum();
    let completion: u64 = replies
        .iter()
        .map(|r| r.split_whitespace().count() as u64)
        .sum();

    let mut usage = Out::with_capacity(256);
    match usage_raw {
        Some(raw) => {
            usage.raw(raw);
        }
        None => write_usage(&mut usage, prompt_tokens, completion),
    }

    let mut prefix = Out::with_capacity(128 + model.len());
    prefix
        .raw(r#"{"id":"cmpl-mock-"#)
        .num(next_id(shared))
        .raw(r#"","object":"text_completion","created":"#)
        .num(unix_now())
        .raw(r#","model":"#)
        .str(model)
        .raw(r#","choices":["#);

    if req.stream == Some(true) {
        let include_usage = req
            .stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false);
        let sse_builder = build_stream(
            &prefix.buf,
            &replies,
            shared.stream_chunks,
            include_usage.then_some(usage.buf.as_str()),
        );
        let body = sse_builder.into_body(Arc::clone(shared), shared.chunk_gap, abort_after);
        return sse(MockBody::Sse(body));
    }

    let mut o = prefix;
    for (i, r) in replies.iter().enumerate() {
        if i > 0 {
            o.raw(",");
        }
        o.raw(r#"{"text":"#)
            .str(r)
            .raw(r#","index":"#)
            .num(i as u64)
            .raw(r#","logprobs":null,"finish_reason":"stop"}"#);
    }
    o.raw(r#"],"usage":"#).raw(&usage.buf).raw("}");
    json(StatusCode::OK, o.into_bytes())
}

fn build_stream(
    prefix: &str,
    replies: &[String],
    chunks: usize,
    usage: Option<&str>,
) -> SseBuilder {
    let split: Vec<Vec<&str>> = replies.iter().map(|r| split_pieces(r, chunks)).collect();
    let k = chunks.max(1);
    let events = replies.len() * (k + 1) + 2;
    let mut sse = SseBuilder::new(events * (prefix.len() + 96), events);
    let tail = if usage.is_some() {
        r#"}],"usage":null}"#
    } else {
        "}]}"
    };
    let mut emit = |index: usize, text: &str, finish: &str| {
        sse.begin()
            .raw(prefix)
            .raw(r#"{"text":"#)
            .str(text)
            .raw(r#","index":"#)
            .num(index as u64)
            .raw(r#","logprobs":null,"finish_reason":"#)
            .raw(finish)
            .raw(tail);
        sse.end();
    };
    for j in 0..k {
        for (i, pieces) in split.iter().enumerate() {
            emit(i, pieces.get(j).copied().unwrap_or(""), "null");
        }
    }
    for i in 0..replies.len() {
        emit(i, "", r#""stop""#);
    }
    if let Some(u) = usage {
        sse.begin().raw(prefix).raw(r#"],"usage":"#).raw(u).raw("}");
        sse.end();
    }
    sse.done();
    sse
}
