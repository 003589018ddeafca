//! Messages API SSE → OpenAI `chat.completion.chunk` payloads. Pure: bytes in,
//! payloads out; framing by [`SseDecoder`] (capped buffer).
//!
//! | Anthropic event | OpenAI chunk |
//! |---|---|
//! | `message_start` | `delta: {role: assistant, content: ""}`; input + cache usage kept |
//! | `content_block_start` text / thinking | their initial text, if any |
//! | `content_block_start` tool_use | `delta.tool_calls[{index, id, type, function{name, arguments: ""}}]` |
//! | `text_delta` / `thinking_delta` | `delta.content` / `delta.reasoning_content` |
//! | `input_json_delta` | `delta.tool_calls[{index, function{arguments}}]` (JSON-mode tool: `delta.content`) |
//! | `signature_delta` | kept until the block ends |
//! | `content_block_stop` of a thinking block | `delta.thinking_blocks[{type, thinking, signature}]` |
//! | `message_delta` | `finish_reason` chunk; final output (and any updated input) usage kept |
//! | `message_stop` | one usage-only chunk (`choices: []`) |
//! | `ping`, unknown events | nothing |
//! | `error` | [`TranslateError`] (the gateway ends the stream with an error frame) |
//!
//! `index` of a tool call is its ordinal among the tool calls of the message,
//! not Anthropic's content-block index, so interleaved parallel calls stay apart.

use super::errors;
use super::response::{arguments, finish_reason, usage_json, Usage};
use super::JSON_TOOL;
use crate::native::{StreamTranslator, TranslateError};
use bytes::Bytes;
use ferro_types::sse::{event_data, SseDecoder};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

/// What a content block (by Anthropic index) is.
enum Block {
    Text,
    /// A client tool call: its OpenAI ordinal, and whether any argument text
    /// was sent (a call without input must still stream valid JSON: `{}`).
    Tool(usize, bool),
    /// The JSON-mode tool: its input is the answer text.
    Json,
    Thinking {
        text: String,
        signature: String,
    },
    Redacted(String),
    Other,
}

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    index: Option<u64>,
    #[serde(default)]
    message: Option<StartMessage>,
    #[serde(default)]
    content_block: Option<Value>,
    #[serde(default)]
    delta: Option<Value>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    error: Option<errors::Detail>,
}

#[derive(Deserialize)]
struct StartMessage {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    usage: Option<Usage>,
}

/// Stream translator of one Messages response.
pub struct MessagesStream {
    decoder: SseDecoder,
    events: Vec<Bytes>,
    id: String,
    model: String,
    started: bool,
    blocks: HashMap<u64, Block>,
    tool_calls: usize,
    usage: Usage,
    finish: Option<&'static str>,
    done: bool,
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

impl MessagesStream {
    pub fn new(model: &str) -> Self {
        MessagesStream {
            decoder: SseDecoder::default(),
            events: Vec::new(),
            id: String::new(),
            model: model.to_owned(),
            started: false,
            blocks: HashMap::new(),
            tool_calls: 0,
            usage: Usage::default(),
            finish: None,
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

    fn start(&mut self, out: &mut Vec<Vec<u8>>) -> Result<(), TranslateError> {
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

    fn delta(&mut self, delta: Value, out: &mut Vec<Vec<u8>>) -> Result<(), TranslateError> {
        self.start(out)?;
        out.push(self.chunk(
            json!([{"index": 0, "delta": delta, "finish_reason": null}]),
            None,
        )?);
        Ok(())
    }

    fn text(&mut self, key: &str, s: &str, out: &mut Vec<Vec<u8>>) -> Result<(), TranslateError> {
        if s.is_empty() {
            return Ok(());
        }
        self.delta(json!({ key: s }), out)
    }

    fn block_start(&mut self, index: u64, cb: &Value, out: &mut Vec<Vec<u8>>) -> R {
        let block = match str_of(cb, "type") {
            "text" => {
                self.text("content", str_of(cb, "text"), out)?;
                Block::Text
            }
            "tool_use" if str_of(cb, "name") == JSON_TOOL => Block::Json,
            "tool_use" => {
                let n = self.tool_calls;
                self.tool_calls += 1;
                let args = match cb.get("input") {
                    Some(Value::Object(o)) if !o.is_empty() => arguments(&Value::Object(o.clone())),
                    _ => String::new(),
                };
                let call = json!({
                    "index": n,
                    "id": str_of(cb, "id"),
                    "type": "function",
                    "function": {"name": str_of(cb, "name"), "arguments": args},
                });
                let has_args = !args.is_empty();
                self.delta(json!({"tool_calls": [call]}), out)?;
                Block::Tool(n, has_args)
            }
            "thinking" => {
                let t = str_of(cb, "thinking");
                self.text("reasoning_content", t, out)?;
                Block::Thinking {
                    text: t.to_owned(),
                    signature: str_of(cb, "signature").to_owned(),
                }
            }
            "redacted_thinking" => Block::Redacted(str_of(cb, "data").to_owned()),
            _ => Block::Other,
        };
        self.blocks.insert(index, block);
        Ok(())
    }

    fn block_delta(&mut self, index: u64, d: &Value, out: &mut Vec<Vec<u8>>) -> R {
        match str_of(d, "type") {
            "text_delta" => self.text("content", str_of(d, "text"), out),
            "thinking_delta" => {
                let t = str_of(d, "thinking");
                if let Some(Block::Thinking { text, .. }) = self.blocks.get_mut(&index) {
                    text.push_str(t);
                }
                self.text("reasoning_content", t, out)
            }
            "signature_delta" => {
                if let Some(Block::Thinking { signature, .. }) = self.blocks.get_mut(&index) {
                    signature.push_str(str_of(d, "signature"));
                }
                Ok(())
            }
            "input_json_delta" => {
                let part = str_of(d, "partial_json");
                match self.blocks.get(&index) {
                    Some(Block::Json) => self.text("content", part, out),
                    Some(Block::Tool(n, _)) if !part.is_empty() => {
                        let n = *n;
                        self.blocks.insert(index, Block::Tool(n, true));
                        let call = json!({"index": n, "function": {"arguments": part}});
                        self.delta(json!({"tool_calls": [call]}), out)
                    }
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    fn block_stop(&mut self, index: u64, out: &mut Vec<Vec<u8>>) -> R {
        let block = match self.blocks.get_mut(&index) {
            Some(Block::Thinking { text, signature }) => json!({
                "type": "thinking",
                "thinking": std::mem::take(text),
                "signature": std::mem::take(signature),
            }),
            Some(Block::Redacted(data)) => {
                json!({"type": "redacted_thinking", "data": std::mem::take(data)})
            }
            Some(Block::Tool(n, false)) => {
                let call = json!({"index": *n, "function": {"arguments": "{}"}});
                self.blocks.insert(index, Block::Other);
                return self.delta(json!({"tool_calls": [call]}), out);
            }
            _ => return Ok(()),
        };
        self.blocks.insert(index, Block::Other);
        self.delta(json!({"thinking_blocks": [block]}), out)
    }

    fn usage_chunk(&mut self, out: &mut Vec<Vec<u8>>) -> R {
        if !self.done {
            self.done = true;
            self.start(out)?;
            out.push(self.chunk(json!([]), Some(usage_json(&self.usage)))?);
        }
        Ok(())
    }

    fn event(&mut self, data: &[u8], out: &mut Vec<Vec<u8>>) -> R {
        let ev: Event = serde_json::from_slice(data)
            .map_err(|e| TranslateError(format!("invalid Messages stream event: {e}")))?;
        if self.done && ev.kind != "error" {
            return Ok(());
        }
        let index = ev.index.unwrap_or(0);
        match ev.kind.as_str() {
            "message_start" => {
                if let Some(m) = ev.message {
                    if let Some(id) = m.id {
                        self.id = id;
                    }
                    if let Some(model) = m.model {
                        self.model = model;
                    }
                    if let Some(u) = m.usage {
                        self.usage.update(&u);
                    }
                }
                self.start(out)
            }
            "content_block_start" => {
                let cb = ev.content_block.unwrap_or(Value::Null);
                self.block_start(index, &cb, out)
            }
            "content_block_delta" => {
                let d = ev.delta.unwrap_or(Value::Null);
                self.block_delta(index, &d, out)
            }
            "content_block_stop" => self.block_stop(index, out),
            "message_delta" => {
                if let Some(u) = ev.usage {
                    self.usage.update(&u);
                }
                let stop = ev
                    .delta
                    .as_ref()
                    .and_then(|d| d.get("stop_reason"))
                    .and_then(Value::as_str);
                if let Some(stop) = stop {
                    let f = finish_reason(Some(stop), self.tool_calls > 0);
                    self.finish = Some(f);
                    self.start(out)?;
                    out.push(
                        self.chunk(json!([{"index": 0, "delta": {}, "finish_reason": f}]), None)?,
                    );
                }
                Ok(())
            }
            "message_stop" => self.usage_chunk(out),
            "error" => {
                let d = ev.error.unwrap_or_default();
                Err(TranslateError(format!(
                    "upstream stream error ({}): {}",
                    d.kind.as_deref().unwrap_or("error"),
                    d.message.as_deref().unwrap_or("")
                )))
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

type R = Result<(), TranslateError>;

impl StreamTranslator for MessagesStream {
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
        if self.finish.is_some() {
            // message_delta arrived but message_stop did not: the answer is whole.
            return self.usage_chunk(out);
        }
        Err(TranslateError(
            "the upstream stream ended before the message was complete".into(),
        ))
    }
}
