//! Cohere v2 chat SSE → OpenAI `chat.completion.chunk` payloads. Pure: bytes
//! in, payloads out; framing by [`SseDecoder`] (capped buffer). The event
//! type is read from the JSON `type` (the `event:` line is optional).
//!
//! | Cohere event | OpenAI chunk |
//! |---|---|
//! | `message-start` | `delta: {role: assistant, content: ""}`; its `id` kept |
//! | `content-start` / `content-delta` text / thinking | `delta.content` / `delta.reasoning_content` |
//! | `tool-plan-delta` | `delta.content` (the plan is the turn's text) |
//! | `tool-call-start` | `delta.tool_calls[{index, id, type, function{name, arguments}}]` |
//! | `tool-call-delta` | `delta.tool_calls[{index, function{arguments}}]` |
//! | `message-end` | `finish_reason` chunk, then one usage-only chunk |
//! | `message-end` with `finish_reason: ERROR` | [`TranslateError`] |
//! | `content-end`, `tool-call-end`, `citation-*`, unknown | nothing |
//!
//! A tool call's `index` is its ordinal among the turn's tool calls.

use super::response::{finish_reason, usage_json, Usage};
use crate::native::{StreamTranslator, TranslateError};
use bytes::Bytes;
use ferro_types::sse::{event_data, SseDecoder};
use serde_json::{json, Value};
use std::collections::HashMap;

type R = Result<(), TranslateError>;

/// Stream translator of one `/v2/chat` stream.
pub struct CohereStream {
    decoder: SseDecoder,
    events: Vec<Bytes>,
    id: String,
    model: String,
    started: bool,
    /// Cohere tool-call index → OpenAI ordinal.
    tools: HashMap<u64, usize>,
    done: bool,
}

fn s<'a>(v: &'a Value, p: &str) -> Option<&'a str> {
    v.pointer(p).and_then(Value::as_str)
}

impl CohereStream {
    pub fn new(model: &str) -> Self {
        CohereStream {
            decoder: SseDecoder::default(),
            events: Vec::new(),
            id: String::new(),
            model: model.to_owned(),
            started: false,
            tools: HashMap::new(),
            done: false,
        }
    }

    fn chunk(&self, choices: Value, usage: Option<Value>) -> Result<Vec<u8>, TranslateError> {
        let mut c = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": 0,
            "model": self.model,
            "choices": choices,
        });
        if let (Some(u), Some(o)) = (usage, c.as_object_mut()) {
            o.insert("usage".into(), u);
        }
        serde_json::to_vec(&c).map_err(|e| TranslateError(e.to_string()))
    }

    fn start(&mut self, out: &mut Vec<Vec<u8>>) -> R {
        if !self.started {
            self.started = true;
            let delta = json!({"role": "assistant", "content": ""});
            out.push(self.chunk(
                json!([{"index": 0, "delta": delta, "finish_reason": null}]),
                None,
            )?);
        }
        Ok(())
    }

    fn delta(&mut self, delta: Value, out: &mut Vec<Vec<u8>>) -> R {
        self.start(out)?;
        out.push(self.chunk(
            json!([{"index": 0, "delta": delta, "finish_reason": null}]),
            None,
        )?);
        Ok(())
    }

    fn content(&mut self, ev: &Value, out: &mut Vec<Vec<u8>>) -> R {
        if let Some(t) = s(ev, "/delta/message/content/text").filter(|t| !t.is_empty()) {
            let t = t.to_owned();
            self.delta(json!({"content": t}), out)?;
        }
        if let Some(t) = s(ev, "/delta/message/content/thinking").filter(|t| !t.is_empty()) {
            let t = t.to_owned();
            self.delta(json!({"reasoning_content": t}), out)?;
        }
        Ok(())
    }

    fn event(&mut self, data: &[u8], out: &mut Vec<Vec<u8>>) -> R {
        let data = data.trim_ascii();
        if data.is_empty() || data == b"[DONE]" {
            return Ok(());
        }
        let ev: Value = serde_json::from_slice(data)
            .map_err(|e| TranslateError(format!("invalid Cohere stream event: {e}")))?;
        if self.done {
            return Ok(());
        }
        let index = ev.get("index").and_then(Value::as_u64).unwrap_or(0);
        match s(&ev, "/type").unwrap_or("") {
            "message-start" => {
                if let Some(id) = s(&ev, "/id") {
                    self.id = id.to_owned();
                }
                self.start(out)
            }
            "content-start" | "content-delta" => self.content(&ev, out),
            "tool-plan-delta" => match s(&ev, "/delta/message/tool_plan") {
                Some(t) if !t.is_empty() => {
                    let t = t.to_owned();
                    self.delta(json!({"content": t}), out)
                }
                _ => Ok(()),
            },
            "tool-call-start" => {
                let n = self.tools.len();
                self.tools.insert(index, n);
                let tc = ev
                    .pointer("/delta/message/tool_calls")
                    .cloned()
                    .unwrap_or(Value::Null);
                let call = json!({
                    "index": n,
                    "id": s(&tc, "/id").unwrap_or(""),
                    "type": "function",
                    "function": {
                        "name": s(&tc, "/function/name").unwrap_or(""),
                        "arguments": s(&tc, "/function/arguments").unwrap_or(""),
                    },
                });
                self.delta(json!({"tool_calls": [call]}), out)
            }
            "tool-call-delta" => {
                let part = s(&ev, "/delta/message/tool_calls/function/arguments").unwrap_or("");
                match self.tools.get(&index) {
                    Some(n) if !part.is_empty() => {
                        let call = json!({"index": *n, "function": {"arguments": part}});
                        self.delta(json!({"tool_calls": [call]}), out)
                    }
                    _ => Ok(()),
                }
            }
            "message-end" => {
                let reason = s(&ev, "/delta/finish_reason");
                if reason == Some("ERROR") {
                    let msg = s(&ev, "/delta/error").unwrap_or("generation failed");
                    return Err(TranslateError(format!("upstream stream error: {msg}")));
                }
                let usage: Usage = ev
                    .pointer("/delta/usage")
                    .and_then(|u| serde_json::from_value(u.clone()).ok())
                    .unwrap_or_default();
                let f = finish_reason(reason);
                self.start(out)?;
                out.push(self.chunk(json!([{"index": 0, "delta": {}, "finish_reason": f}]), None)?);
                out.push(self.chunk(json!([]), Some(usage_json(&usage)))?);
                self.done = true;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn run_events(&mut self, out: &mut Vec<Vec<u8>>) -> R {
        let mut events = std::mem::take(&mut self.events);
        let mut res = Ok(());
        for ev in events.drain(..) {
            if let Some(data) = event_data(&ev) {
                if let Err(e) = self.event(&data, out) {
                    res = Err(e);
                    break;
                }
            }
        }
        events.clear();
        self.events = events;
        res
    }
}

impl StreamTranslator for CohereStream {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<Vec<u8>>) -> R {
        let mut events = std::mem::take(&mut self.events);
        let pushed = self
            .decoder
            .push(Bytes::copy_from_slice(chunk), &mut events);
        self.events = events;
        pushed.map_err(|_| TranslateError("upstream sent an oversized stream event".into()))?;
        self.run_events(out)
    }

    fn finish(&mut self, out: &mut Vec<Vec<u8>>) -> R {
        if let Some(rest) = self.decoder.finish() {
            self.events.push(rest);
            self.run_events(out)?;
        }
        if self.done {
            return Ok(());
        }
        Err(TranslateError(
            "the upstream stream ended before the message was complete".into(),
        ))
    }
}
