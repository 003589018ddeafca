//! The per-request context a plugin sees, and the response view of
//! `after_request`.

use crate::flight::Cached;
use bytes::Bytes;
use ferro_types::usage::TokenCounts;
use serde_json::Value;
use std::any::Any;
use std::sync::{Arc, OnceLock};

/// The routed surface a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// `/v1/chat/completions`.
    Chat,
    /// `/v1/completions` (carried as one user message).
    Completions,
    /// `/v1/embeddings`.
    Embeddings,
    /// `/v1/images/generations`.
    Images,
    /// `/v1/moderations`.
    Moderations,
    /// Any other `/v1/*` route.
    Passthrough,
}

impl Surface {
    /// Whether the body is chat-shaped (`messages`), so it can be rewritten.
    pub fn is_chat(self) -> bool {
        matches!(self, Surface::Chat | Surface::Completions)
    }
}

/// The facts of a request the gateway knows before the chain runs.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    /// The request's trace id.
    pub trace_id: Arc<str>,
    /// The caller's key id (`master-key:…` for the master key, `""` anonymous).
    pub api_key_id: String,
    /// The surface.
    pub surface: Surface,
    /// The model after alias resolution.
    pub model: String,
    /// An SSE answer was asked for.
    pub stream: bool,
}

/// One request's context: its facts, its (possibly rewritten) body, and one
/// state slot per plugin instance.
pub struct Ctx {
    meta: RequestMeta,
    /// The request JSON as received; parsed into `parsed` only when a plugin
    /// reads it (rate limits and budgets never do).
    raw: Option<Bytes>,
    parsed: OnceLock<Option<Value>>,
    /// [`Ctx::declared_max_tokens`] of `raw`, read once (or handed over by a
    /// handler that had already parsed the same bytes).
    declared: OnceLock<Option<u64>>,
    body_len: usize,
    rewritten: bool,
    texts: OnceLock<Vec<String>>,
    cache_hit: Option<Arc<Cached>>,
    slots: Vec<Option<Box<dyn Any + Send + Sync>>>,
    pub(crate) current: usize,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("meta", &self.meta)
            .field("rewritten", &self.rewritten)
            .finish_non_exhaustive()
    }
}

impl Ctx {
    /// A context over `body` (a JSON object; `None` when it is not inspectable).
    pub fn new(meta: RequestMeta, body: Option<Bytes>, slots: usize) -> Ctx {
        let body_len = body.as_ref().map_or(0, Bytes::len);
        Ctx {
            meta,
            raw: body,
            parsed: OnceLock::new(),
            declared: OnceLock::new(),
            body_len,
            rewritten: false,
            texts: OnceLock::new(),
            cache_hit: None,
            slots: (0..slots).map(|_| None).collect(),
            current: 0,
        }
    }

    /// The request's facts.
    pub fn meta(&self) -> &RequestMeta {
        &self.meta
    }

    /// The parsed request body, if it is an inspectable JSON object (parsed
    /// at the first call).
    pub fn body(&self) -> Option<&Value> {
        self.parsed
            .get_or_init(|| {
                let raw = self.raw.as_ref()?;
                serde_json::from_slice::<Value>(raw).ok()
            })
            .as_ref()
    }

    /// The body for rewriting; the gateway then sends the rewritten bytes.
    pub fn body_mut(&mut self) -> Option<&mut Value> {
        let _ = self.body();
        self.rewritten = true;
        self.texts = OnceLock::new();
        self.parsed.get_mut().and_then(Option::as_mut)
    }

    /// The rewritten body, when a plugin rewrote it.
    pub fn rewritten_body(&self) -> Option<Bytes> {
        if !self.rewritten {
            return None;
        }
        self.body()
            .and_then(|b| serde_json::to_vec(b).ok())
            .map(Bytes::from)
    }

    /// Every piece of request text a guardrail screens: message contents and
    /// text parts (chat), `input` (embeddings, moderations), `prompt` (images),
    /// every string value of the body (pass-through, whose shape is unknown).
    pub fn texts(&self) -> &[String] {
        self.texts.get_or_init(|| {
            let mut out = Vec::new();
            match (self.body(), self.meta.surface) {
                (Some(b), Surface::Passthrough) => all_strings(b, &mut out),
                (Some(b), _) => request_texts(b, &mut out),
                (None, _) => {}
            }
            out
        })
    }

    /// The top-level string field `key` of the body.
    pub fn field_str(&self, key: &str) -> Option<&str> {
        self.body()?.get(key)?.as_str()
    }

    /// The declared completion ceiling (`max_completion_tokens` wins over
    /// `max_tokens`). Reads the two top-level fields once, without building
    /// the body's tree unless a plugin already did (a rewritten body is read
    /// from that tree).
    pub fn declared_max_tokens(&self) -> Option<u64> {
        if let Some(parsed) = self.parsed.get() {
            let b = parsed.as_ref()?;
            return b
                .get("max_completion_tokens")
                .and_then(Value::as_u64)
                .or_else(|| b.get("max_tokens").and_then(Value::as_u64));
        }
        *self.declared.get_or_init(|| {
            ferro_types::json::JsonObject::parse(self.raw.as_ref()?)
                .ok()?
                .declared_max_tokens()
        })
    }

    /// Hands over [`Ctx::declared_max_tokens`] from a parse of the same body
    /// bytes the caller already made (ignored once it has been read).
    pub fn know_declared_max_tokens(&self, v: Option<u64>) {
        let _ = self.declared.set(v);
    }

    /// Number of chat messages (0 off chat).
    pub fn message_count(&self) -> usize {
        self.body()
            .and_then(|b| b.get("messages"))
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    }

    /// A conservative prompt-token estimate (body bytes / 4 + 1).
    pub fn est_prompt_tokens(&self) -> u64 {
        self.body_len as u64 / 4 + 1
    }

    /// Marks the request as answered from the cache (the provider call is skipped).
    pub fn set_cache_hit(&mut self, hit: Arc<Cached>) {
        self.cache_hit = Some(hit);
    }

    /// The cached answer, if a cache plugin found one.
    pub fn cache_hit(&self) -> Option<&Arc<Cached>> {
        self.cache_hit.as_ref()
    }

    /// The calling plugin's per-request state slot.
    pub fn slot<T: Any + Send + Sync>(&mut self) -> Option<&mut T> {
        self.slots.get_mut(self.current)?.as_mut()?.downcast_mut()
    }

    /// Stores the calling plugin's per-request state.
    pub fn set_slot<T: Any + Send + Sync>(&mut self, v: T) {
        if let Some(s) = self.slots.get_mut(self.current) {
            *s = Some(Box::new(v));
        }
    }

    /// Takes the calling plugin's per-request state out of its slot.
    pub fn take_slot<T: Any + Send + Sync>(&mut self) -> Option<T> {
        let s = self.slots.get_mut(self.current)?;
        match s.take()?.downcast::<T>() {
            Ok(v) => Some(*v),
            Err(other) => {
                *s = Some(other);
                None
            }
        }
    }
}

fn content_texts(content: &Value, out: &mut Vec<String>) {
    match content {
        Value::String(s) => out.push(s.clone()),
        Value::Array(parts) => {
            for p in parts {
                match p {
                    Value::String(s) => out.push(s.clone()),
                    Value::Object(o) => {
                        if let Some(Value::String(t)) = o.get("text") {
                            out.push(t.clone());
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

fn request_texts(body: &Value, out: &mut Vec<String>) {
    if let Some(msgs) = body.get("messages").and_then(Value::as_array) {
        for m in msgs {
            if let Some(c) = m.get("content") {
                content_texts(c, out);
            }
        }
    }
    for key in ["input", "prompt"] {
        if let Some(v) = body.get(key) {
            content_texts(v, out);
        }
    }
}

fn all_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| all_strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| all_strings(x, out)),
        _ => {}
    }
}

/// Rewrites every request text in place with `f` (chat messages only).
pub(crate) fn rewrite_chat_texts(body: &mut Value, f: &dyn Fn(&str) -> Option<String>) {
    let Some(msgs) = body.get_mut("messages").and_then(Value::as_array_mut) else {
        return;
    };
    let apply = |v: &mut Value| {
        if let Value::String(s) = v {
            if let Some(new) = f(s) {
                *s = new;
            }
        }
    };
    for m in msgs {
        let Some(c) = m.get_mut("content") else {
            continue;
        };
        match c {
            Value::String(_) => apply(c),
            Value::Array(parts) => {
                for p in parts {
                    match p {
                        Value::String(_) => apply(p),
                        Value::Object(o) => {
                            if let Some(t) = o.get_mut("text") {
                                apply(t);
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
}

/// One choice of a JSON answer, as schema and content guardrails read it.
#[derive(Debug, Clone, Default)]
pub struct ChoiceDoc {
    /// The message text (text parts joined).
    pub content: String,
    /// The choice answered with tool calls.
    pub tool_calls: bool,
    /// Texts beside the content (refusal, tool-call arguments).
    pub extra: Vec<String>,
}

/// A JSON answer as `after_request` plugins see it.
pub struct ResponseView<'a> {
    /// The upstream body (before the gateway's extras).
    pub body: &'a [u8],
    /// Token usage.
    pub usage: TokenCounts,
    /// Served from the cache.
    pub cache_hit: bool,
    choices: OnceLock<Vec<ChoiceDoc>>,
}

impl<'a> ResponseView<'a> {
    /// A view of `body`.
    pub fn new(body: &'a [u8], usage: TokenCounts, cache_hit: bool) -> Self {
        ResponseView {
            body,
            usage,
            cache_hit,
            choices: OnceLock::new(),
        }
    }

    /// The choices of a chat answer (empty for other shapes).
    pub fn choices(&self) -> &[ChoiceDoc] {
        self.choices.get_or_init(|| parse_choices(self.body))
    }

    /// Every text of the answer a guardrail screens.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.choices().iter().flat_map(|c| {
            std::iter::once(c.content.as_str()).chain(c.extra.iter().map(String::as_str))
        })
    }
}

fn parse_choices(body: &[u8]) -> Vec<ChoiceDoc> {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let Some(choices) = v.get("choices").and_then(Value::as_array) else {
        return Vec::new();
    };
    choices
        .iter()
        .map(|c| {
            let mut doc = ChoiceDoc::default();
            if let Some(t) = c.get("text").and_then(Value::as_str) {
                doc.content.push_str(t);
            }
            let Some(m) = c.get("message") else {
                return doc;
            };
            let mut parts = Vec::new();
            if let Some(content) = m.get("content") {
                content_texts(content, &mut parts);
            }
            doc.content.push_str(&parts.concat());
            if let Some(r) = m.get("refusal").and_then(Value::as_str) {
                doc.extra.push(r.to_owned());
            }
            if let Some(calls) = m.get("tool_calls").and_then(Value::as_array) {
                doc.tool_calls = !calls.is_empty();
                for call in calls {
                    if let Some(a) = call.pointer("/function/arguments").and_then(Value::as_str) {
                        doc.extra.push(a.to_owned());
                    }
                }
            }
            doc
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn meta() -> RequestMeta {
        RequestMeta {
            trace_id: "t".into(),
            api_key_id: "k".into(),
            surface: Surface::Chat,
            model: "m".into(),
            stream: false,
        }
    }

    #[test]
    fn texts_and_rewrite() {
        let body = br#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"a"},{"role":"user","content":[{"type":"text","text":"b"},{"type":"image_url","image_url":{"url":"x"}}]}]}"#;
        let mut ctx = Ctx::new(meta(), Some(Bytes::from_static(body)), 1);
        assert_eq!(ctx.texts(), ["a", "b"]);
        assert_eq!(ctx.declared_max_tokens(), Some(5));
        assert_eq!(ctx.message_count(), 2);
        assert!(ctx.rewritten_body().is_none());
        rewrite_chat_texts(ctx.body_mut().unwrap(), &|s| Some(s.to_uppercase()));
        assert_eq!(ctx.texts(), ["A", "B"]);
        let out: Value = serde_json::from_slice(&ctx.rewritten_body().unwrap()).unwrap();
        assert_eq!(out["messages"][1]["content"][0]["text"], "B");
        ctx.set_slot(7u32);
        assert_eq!(ctx.take_slot::<u32>(), Some(7));
        assert_eq!(ctx.take_slot::<u32>(), None);
    }

    #[test]
    fn declared_max_tokens_read_once_handed_over_or_from_a_rewrite() {
        let body = br#"{"model":"m","max_tokens":7,"max_completion_tokens":null,"messages":[]}"#;
        let ctx = Ctx::new(meta(), Some(Bytes::from_static(body)), 1);
        assert_eq!(ctx.declared_max_tokens(), Some(7), "null counts as absent");
        ctx.know_declared_max_tokens(Some(99));
        assert_eq!(
            ctx.declared_max_tokens(),
            Some(7),
            "a later hand-over is ignored"
        );

        let mut ctx = Ctx::new(meta(), Some(Bytes::from_static(body)), 1);
        ctx.know_declared_max_tokens(Some(7));
        assert_eq!(ctx.declared_max_tokens(), Some(7));
        // a plugin's rewrite is what goes upstream: read from the tree
        ctx.body_mut().unwrap()["max_completion_tokens"] = 3.into();
        assert_eq!(ctx.declared_max_tokens(), Some(3));

        let ctx = Ctx::new(meta(), None, 1);
        assert_eq!(ctx.declared_max_tokens(), None);
        let obj =
            ferro_types::json::JsonObject::parse(br#"{"max_completion_tokens":4,"max_tokens":9}"#)
                .unwrap();
        assert_eq!(obj.declared_max_tokens(), Some(4));
    }

    #[test]
    fn response_choices() {
        let v = ResponseView::new(
            br#"{"choices":[{"message":{"content":"hi","tool_calls":[{"function":{"arguments":"{\"a\":1}"}}]}}]}"#,
            TokenCounts::default(),
            false,
        );
        let texts: Vec<&str> = v.texts().collect();
        assert_eq!(texts, ["hi", "{\"a\":1}"]);
        assert!(v.choices()[0].tool_calls);
    }
}
