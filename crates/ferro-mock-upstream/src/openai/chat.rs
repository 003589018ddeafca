//! `POST …/chat/completions`: deterministic `chat.completion` objects and
//! `chat.completion.chunk` SSE streams (incl. `stream_options.include_usage`).

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{
    bad_json, bad_request, deployment, json, next_id, split_pieces, sse, usage_override,
    write_usage, ECHO_MAX_CHARS, FINGERPRINT, MAX_N,
};
use crate::body::{MockBody, SseBuilder};
use crate::server::Shared;
use crate::util::{estimate_tokens, truncate_chars, unix_now, Out};

#[derive(Deserialize)]
struct ChatRequest<'a> {
    #[serde(default, borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow)]
    messages: Vec<Message<'a>>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    n: Option<u32>,
}

#[derive(Deserialize)]
pub(super) struct StreamOptions {
    #[serde(default)]
    pub(super) include_usage: Option<bool>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    role: Cow<'a, str>,
    #[serde(default, borrow)]
    content: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Part<'a> {
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
}

/// Text of a message `content`: a string, or the `text` of its parts joined
/// with newlines; anything else (null, absent) is empty.
fn content_text(raw: Option<&RawValue>) -> Cow<'_, str> {
    let Some(raw) = raw else {
        return Cow::Borrowed("");
    };
    let s = raw.get();
    if s.starts_with('"') {
        if let Ok(b) = serde_json::from_str::<&str>(s) {
            return Cow::Borrowed(b);
        }
        return serde_json::from_str::<String>(s).map_or(Cow::Borrowed(""), Cow::Owned);
    }
    if s.starts_with('[') {
        if let Ok(parts) = serde_json::from_str::<Vec<Part<'_>>>(s) {
            let texts: Vec<Cow<'_, str>> = parts.into_iter().filter_map(|p| p.text).collect();
            return match texts.len() {
                0 => Cow::Borrowed(""),
                1 => texts.into_iter().next().unwrap_or_default(),
                _ => Cow::Owned(texts.join("\n")),
            };
        }
    }
    Cow::Borrowed("")
}

/// The deterministic reply and token counts for a parsed request.
struct Reply {
    text: String,
    prompt_tokens: u64,
    completion_tokens_each: u64,
}

fn compute_reply(messages: &[Message<'_>]) -> Reply {
    let mut chars = 0usize;
    let mut last_user: Option<Cow<'_, str>> = None;
    for m in messages {
        let text = content_text(m.content);
        chars += text.chars().count();
        if m.role == "user" {
            last_user = Some(text);
        }
    }
    let user = last_user.unwrap_or_default();
    let mut text = String::with_capacity(16 + user.len().min(ECHO_MAX_CHARS * 4));
    text.push_str("mock reply to: ");
    text.push_str(truncate_chars(&user, ECHO_MAX_CHARS));
    let completion_tokens_each = text.split_whitespace().count() as u64;
    Reply {
        text,
        prompt_tokens: estimate_tokens(chars),
        completion_tokens_each,
    }
}

pub(super) fn handle(
    shared: &Arc<Shared>,
    parts: &http::request::Parts,
    body: &Bytes,
    abort_after: Option<usize>,
) -> Response<MockBody> {
    let req: ChatRequest<'_> = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return bad_json(&e),
    };
    let usage_raw = match usage_override(parts) {
        Ok(u) => u,
        Err(msg) => return bad_request(&msg),
    };
    let model: &str = match &req.model {
        Some(m) => m,
        None => deployment(parts.uri.path()).unwrap_or("mock-model"),
    };
    let n = req.n.unwrap_or(1).clamp(1, MAX_N) as usize;
    let reply = compute_reply(&req.messages);
    let completion = reply.completion_tokens_each * n as u64;

    let mut usage = Out::with_capacity(256);
    match usage_raw {
        Some(raw) => {
            usage.raw(raw);
        }
        None => write_usage(&mut usage, reply.prompt_tokens, completion),
    }

    let id = next_id(shared);
    let created = unix_now();
    if req.stream == Some(true) {
        let include_usage = req
            .stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false);
        let stream = ChatStream {
            id,
            created,
            model,
            n,
            include_usage,
            usage: &usage.buf,
        };
        let builder = stream.build(&reply.text, shared.stream_chunks);
        let body = builder.into_body(Arc::clone(shared), shared.chunk_gap, abort_after);
        return sse(MockBody::Sse(body));
    }

    let mut o = Out::with_capacity(384 + model.len() + (reply.text.len() + 160) * n);
    o.raw(r#"{"id":"chatcmpl-mock-"#)
        .num(id)
        .raw(r#"","object":"chat.completion","created":"#)
        .num(created)
        .raw(r#","model":"#)
        .str(model)
        .raw(r#","choices":["#);
    for i in 0..n {
        if i > 0 {
            o.raw(",");
        }
        o.raw(r#"{"index":"#)
            .num(i as u64)
            .raw(r#","message":{"role":"assistant","content":"#)
            .str(&reply.text)
            .raw(r#","refusal":null},"logprobs":null,"finish_reason":"stop"}"#);
    }
    o.raw(r#"],"usage":"#)
        .raw(&usage.buf)
        .raw(r#","system_fingerprint":"#)
        .str(FINGERPRINT)
        .raw("}");
    json(StatusCode::OK, o.into_bytes())
}

/// Everything a chat stream's events share.
struct ChatStream<'a> {
    id: u64,
    created: u64,
    model: &'a str,
    n: usize,
    include_usage: bool,
    usage: &'a str,
}

impl ChatStream<'_> {
    /// Common chunk prefix, up to and including `"choices":[`.
    fn prefix(&self) -> String {
        let mut o = Out::with_capacity(160 + self.model.len());
        o.raw(r#"{"id":"chatcmpl-mock-"#)
            .num(self.id)
            .raw(r#"","object":"chat.completion.chunk","created":"#)
            .num(self.created)
            .raw(r#","model":"#)
            .str(self.model)
            .raw(r#","system_fingerprint":"#)
            .str(FINGERPRINT)
            .raw(r#","choices":["#);
        o.buf
    }

    /// Role chunk, `chunks` content chunks and a finish chunk per choice,
    /// then the usage chunk (if asked for) and `[DONE]`.
    fn build(&self, text: &str, chunks: usize) -> SseBuilder {
        let prefix = self.prefix();
        let pieces = split_pieces(text, chunks);
        let events = self.n * (pieces.len() + 2) + 2;
        let per_event = prefix.len() + 96;
        let mut sse = SseBuilder::new(events * per_event + text.len() * self.n, events);
        let tail = if self.include_usage {
            r#"}],"usage":null}"#
        } else {
            "}]}"
        };
        let emit = |sse: &mut SseBuilder, index: usize, delta: &dyn Fn(&mut Out), finish: &str| {
            emit_chunk(sse, &prefix, tail, index, delta, finish);
        };
        for i in 0..self.n {
            emit(
                &mut sse,
                i,
                &|o: &mut Out| {
                    o.raw(r#"{"role":"assistant","content":"","refusal":null}"#);
                },
                "null",
            );
        }
        for piece in &pieces {
            for i in 0..self.n {
                emit(
                    &mut sse,
                    i,
                    &|o: &mut Out| {
                        o.raw(r#"{"content":"#).str(piece).raw("}");
                    },
                    "null",
                );
            }
        }
        for i in 0..self.n {
            emit(
                &mut sse,
                i,
                &|o: &mut Out| {
                    o.raw("{}");
                },
                r#""stop""#,
            );
        }
        if self.include_usage {
            sse.begin()
                .raw(&prefix)
                .raw(r#"],"usage":"#)
                .raw(self.usage)
                .raw("}");
            sse.end();
        }
        sse.done();
        sse
    }
}

/// One `chat.completion.chunk` event with a single choice.
fn emit_chunk(
    sse: &mut SseBuilder,
    prefix: &str,
    tail: &str,
    index: usize,
    delta: &dyn Fn(&mut Out),
    finish: &str,
) {
    let o = sse.begin();
    o.raw(prefix)
        .raw(r#"{"index":"#)
        .num(index as u64)
        .raw(r#","delta":"#);
    delta(o);
    o.raw(r#","logprobs":null,"finish_reason":"#)
        .raw(finish)
        .raw(tail);
    sse.end();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> ChatRequest<'_> {
        serde_json::from_str(body).unwrap()
    }

    #[test]
    fn reply_uses_last_user_message_and_counts_tokens() {
        let req = parse(
            r#"{"model":"m","messages":[
                {"role":"system","content":"be nice"},
                {"role":"user","content":"first"},
                {"role":"assistant","content":null},
                {"role":"user","content":[{"type":"text","text":"hello there"},{"type":"image_url","image_url":{"url":"x"}}]}
            ]}"#,
        );
        let r = compute_reply(&req.messages);
        assert_eq!(r.text, "mock reply to: hello there");
        // 7 + 5 + 0 + 11 = 23 chars -> 23/4 + 1
        assert_eq!(r.prompt_tokens, 6);
        assert_eq!(r.completion_tokens_each, 5);
    }

    #[test]
    fn long_user_messages_are_truncated() {
        let long = "x".repeat(500);
        let body = format!(r#"{{"model":"m","messages":[{{"role":"user","content":"{long}"}}]}}"#);
        let req = parse(&body);
        let r = compute_reply(&req.messages);
        assert_eq!(r.text.len(), "mock reply to: ".len() + ECHO_MAX_CHARS);
    }

    #[test]
    fn escaped_content_is_decoded() {
        let req = parse(r#"{"messages":[{"role":"user","content":"a\"b\nc"}]}"#);
        assert_eq!(compute_reply(&req.messages).text, "mock reply to: a\"b\nc");
    }
}
