//! ConverseStream (binary event stream) → OpenAI `chat.completion.chunk`
//! payloads. Pure: bytes in, payloads out; framing and CRC checks by
//! [`eventstream::Decoder`].
//!
//! | `:event-type` | OpenAI chunk |
//! |---|---|
//! | `messageStart` | `delta: {role: assistant, content: ""}` |
//! | `contentBlockStart` `toolUse` | `delta.tool_calls[{index, id, type, function{name, arguments: ""}}]` |
//! | `contentBlockDelta` `text` | `delta.content` |
//! | `contentBlockDelta` `toolUse.input` | `delta.tool_calls[{index, function{arguments}}]` (JSON-mode tool: `delta.content`) |
//! | `contentBlockDelta` `reasoningContent` | `delta.reasoning_content`; signature kept until the block ends |
//! | `contentBlockStop` of a reasoning block | `delta.thinking_blocks[{type, thinking, signature}]` |
//! | `messageStop` | `finish_reason` chunk |
//! | `metadata` | one usage-only chunk (`choices: []`) |
//! | `:message-type` `exception` / `error` | [`TranslateError`] |
//!
//! A tool call's `index` is its ordinal among the message's tool calls, not
//! the content-block index. A stream that ends after `messageStop` without
//! `metadata` still gets its usage chunk (zero counts).

use super::eventstream::{Decoder, Message};
use super::response::{finish_reason, usage_json, Usage};
use super::JSON_TOOL;
use crate::native::{StreamTranslator, TranslateError};
use serde_json::{json, Value};
use std::collections::HashMap;

enum Block {
    Tool(usize, bool),
    Json,
    Reasoning { text: String, signature: String },
    Redacted(String),
}

type R = Result<(), TranslateError>;

/// Stream translator of one ConverseStream response.
pub struct ConverseStream {
    decoder: Decoder,
    msgs: Vec<Message>,
    id: String,
    model: String,
    started: bool,
    blocks: HashMap<u64, Block>,
    tool_calls: usize,
    usage: Usage,
    stopped: bool,
    done: bool,
}

fn s<'a>(v: &'a Value, p: &str) -> Option<&'a str> {
    v.pointer(p).and_then(Value::as_str)
}

impl ConverseStream {
    pub fn new(model: &str, id: &str) -> Self {
        ConverseStream {
            decoder: Decoder::new(),
            msgs: Vec::new(),
            id: id.to_owned(),
            model: model.to_owned(),
            started: false,
            blocks: HashMap::new(),
            tool_calls: 0,
            usage: Usage::default(),
            stopped: false,
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

    fn text(&mut self, key: &str, t: &str, out: &mut Vec<Vec<u8>>) -> R {
        if t.is_empty() {
            return Ok(());
        }
        self.delta(json!({ key: t }), out)
    }

    fn block_start(&mut self, idx: u64, ev: &Value, out: &mut Vec<Vec<u8>>) -> R {
        let Some(tu) = ev.pointer("/start/toolUse") else {
            return Ok(());
        };
        let name = s(tu, "/name").unwrap_or("");
        if name == JSON_TOOL {
            self.blocks.insert(idx, Block::Json);
            return Ok(());
        }
        let n = self.tool_calls;
        self.tool_calls += 1;
        let call = json!({
            "index": n,
            "id": s(tu, "/toolUseId").unwrap_or(""),
            "type": "function",
            "function": {"name": name, "arguments": ""},
        });
        self.blocks.insert(idx, Block::Tool(n, false));
        self.delta(json!({"tool_calls": [call]}), out)
    }

    fn block_delta(&mut self, idx: u64, ev: &Value, out: &mut Vec<Vec<u8>>) -> R {
        let Some(d) = ev.get("delta") else {
            return Ok(());
        };
        if let Some(t) = s(d, "/text") {
            return self.text("content", t, out);
        }
        if let Some(part) = s(d, "/toolUse/input") {
            return match self.blocks.get(&idx) {
                Some(Block::Json) => self.text("content", part, out),
                Some(Block::Tool(n, _)) if !part.is_empty() => {
                    let n = *n;
                    self.blocks.insert(idx, Block::Tool(n, true));
                    let call = json!({"index": n, "function": {"arguments": part}});
                    self.delta(json!({"tool_calls": [call]}), out)
                }
                _ => Ok(()),
            };
        }
        if let Some(rc) = d.get("reasoningContent") {
            if let Some(data) = s(rc, "/redactedContent") {
                self.blocks.insert(idx, Block::Redacted(data.to_owned()));
                return Ok(());
            }
            let entry = self.blocks.entry(idx).or_insert(Block::Reasoning {
                text: String::new(),
                signature: String::new(),
            });
            if let Block::Reasoning { text, signature } = entry {
                if let Some(sig) = s(rc, "/signature") {
                    signature.push_str(sig);
                }
                if let Some(t) = s(rc, "/text") {
                    text.push_str(t);
                    let t = t.to_owned();
                    return self.text("reasoning_content", &t, out);
                }
            }
        }
        Ok(())
    }

    fn block_stop(&mut self, idx: u64, out: &mut Vec<Vec<u8>>) -> R {
        let block = match self.blocks.remove(&idx) {
            Some(Block::Reasoning { text, signature }) => {
                json!({"type": "thinking", "thinking": text, "signature": signature})
            }
            Some(Block::Redacted(data)) => json!({"type": "redacted_thinking", "data": data}),
            Some(Block::Tool(n, false)) => {
                let call = json!({"index": n, "function": {"arguments": "{}"}});
                return self.delta(json!({"tool_calls": [call]}), out);
            }
            Some(other) => {
                self.blocks.insert(idx, other);
                return Ok(());
            }
            None => return Ok(()),
        };
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

    fn message(&mut self, m: &Message, out: &mut Vec<Vec<u8>>) -> R {
        let kind = m.header_str(":message-type").unwrap_or("event");
        if kind != "event" {
            let code = m
                .header_str(":exception-type")
                .or_else(|| m.header_str(":error-code"))
                .unwrap_or("error");
            let payload: Value = serde_json::from_slice(&m.payload).unwrap_or(Value::Null);
            let msg = s(&payload, "/message")
                .or_else(|| s(&payload, "/Message"))
                .or_else(|| m.header_str(":error-message"))
                .unwrap_or("");
            return Err(TranslateError(format!(
                "upstream stream error ({code}): {msg}"
            )));
        }
        if self.done {
            return Ok(());
        }
        let ev: Value = serde_json::from_slice(&m.payload)
            .map_err(|e| TranslateError(format!("invalid ConverseStream event: {e}")))?;
        let idx = ev
            .get("contentBlockIndex")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        match m.header_str(":event-type").unwrap_or("") {
            "messageStart" => self.start(out),
            "contentBlockStart" => self.block_start(idx, &ev, out),
            "contentBlockDelta" => self.block_delta(idx, &ev, out),
            "contentBlockStop" => self.block_stop(idx, out),
            "messageStop" => {
                self.stopped = true;
                let f = finish_reason(s(&ev, "/stopReason"), self.tool_calls > 0);
                self.start(out)?;
                out.push(self.chunk(json!([{"index": 0, "delta": {}, "finish_reason": f}]), None)?);
                Ok(())
            }
            "metadata" => {
                if let Some(u) = ev.get("usage") {
                    self.usage = serde_json::from_value(u.clone()).unwrap_or_default();
                }
                self.usage_chunk(out)
            }
            _ => Ok(()),
        }
    }
}

impl StreamTranslator for ConverseStream {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<Vec<u8>>) -> R {
        let mut msgs = std::mem::take(&mut self.msgs);
        let res = self
            .decoder
            .push(chunk, &mut msgs)
            .map_err(|e| TranslateError(format!("corrupt upstream event stream: {e}")));
        let mut handled = Ok(());
        for m in msgs.drain(..) {
            if let Err(e) = self.message(&m, out) {
                handled = Err(e);
                break;
            }
        }
        self.msgs = msgs;
        handled.and(res)
    }

    fn finish(&mut self, out: &mut Vec<Vec<u8>>) -> R {
        if self.done {
            return Ok(());
        }
        if self.decoder.pending() > 0 {
            return Err(TranslateError(
                "the upstream stream ended inside an event-stream message".into(),
            ));
        }
        if self.stopped {
            return self.usage_chunk(out);
        }
        Err(TranslateError(
            "the upstream stream ended before the message was complete".into(),
        ))
    }
}
