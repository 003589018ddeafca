//! `streamGenerateContent?alt=sse` → OpenAI `chat.completion.chunk` payloads.
//!
//! Every Gemini frame is a whole `GenerateContentResponse`: text and thought
//! parts become `content` / `reasoning_content` deltas, each `functionCall`
//! part one complete tool-call delta (index = its ordinal in the candidate, id
//! as in the non-streamed answer), a `finishReason` one finish chunk. Gemini
//! repeats cumulative `usageMetadata` on frames, so the usage reported at the
//! end is the last frame's. Pure: the creation time and fallback id are given.

use super::response::{
    completion_id, error_message, finish_reason, tool_call_id, FunctionOut, GenerateResponse,
    ToolCallOut, Usage, UsageMetadata,
};
use crate::native::{StreamTranslator, TranslateError};
use bytes::Bytes;
use ferro_types::sse::{event_data, SseDecoder};
use serde::Serialize;

#[derive(Serialize, Default)]
struct Delta {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<ToolCallOut>,
}

impl Delta {
    fn is_empty(&self) -> bool {
        self.role.is_none()
            && self.content.is_none()
            && self.reasoning_content.is_none()
            && self.tool_calls.is_empty()
    }
}

#[derive(Serialize)]
struct ChunkChoice {
    index: u32,
    delta: Delta,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: Vec<ChunkChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Usage>,
}

/// Per-candidate progress.
struct Cand {
    index: u32,
    started: bool,
    calls: u32,
    finished: bool,
}

/// The Gemini stream translator.
pub struct GeminiStream {
    decoder: SseDecoder,
    events: Vec<Bytes>,
    model: String,
    created: u64,
    fallback_id: String,
    id: Option<String>,
    response_id: String,
    cands: Vec<Cand>,
    usage: Option<UsageMetadata>,
    ended: bool,
}

impl GeminiStream {
    pub fn new(model: &str, created: u64, fallback_id: &str) -> Self {
        GeminiStream {
            decoder: SseDecoder::default(),
            events: Vec::new(),
            model: model.to_owned(),
            created,
            fallback_id: fallback_id.to_owned(),
            id: None,
            response_id: String::new(),
            cands: Vec::new(),
            usage: None,
            ended: false,
        }
    }

    fn id(&mut self) -> String {
        if self.id.is_none() {
            self.id = Some(completion_id(None, &self.fallback_id));
        }
        self.id.clone().unwrap_or_default()
    }

    fn emit(
        &mut self,
        out: &mut Vec<Vec<u8>>,
        choices: Vec<ChunkChoice>,
        usage: Option<Usage>,
    ) -> Result<(), TranslateError> {
        let id = self.id();
        let chunk = Chunk {
            id: &id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            choices,
            usage,
        };
        out.push(serde_json::to_vec(&chunk).map_err(|e| TranslateError(e.to_string()))?);
        Ok(())
    }

    fn cand(&mut self, index: u32) -> usize {
        match self.cands.iter().position(|c| c.index == index) {
            Some(p) => p,
            None => {
                self.cands.push(Cand {
                    index,
                    started: false,
                    calls: 0,
                    finished: false,
                });
                self.cands.len() - 1
            }
        }
    }

    fn frame(&mut self, data: &[u8], out: &mut Vec<Vec<u8>>) -> Result<(), TranslateError> {
        let trimmed = data.trim_ascii();
        if trimmed.is_empty() || trimmed == b"[DONE]" {
            return Ok(());
        }
        let r: GenerateResponse = serde_json::from_slice(trimmed)
            .map_err(|e| TranslateError(format!("malformed Gemini stream frame: {e}")))?;
        if let Some(e) = &r.error {
            return Err(TranslateError(format!(
                "upstream error: {}",
                error_message(e)
            )));
        }
        if self.id.is_none() {
            self.response_id = r.response_id.clone().unwrap_or_default();
            self.id = Some(completion_id(r.response_id.as_deref(), &self.fallback_id));
        }
        if let Some(u) = r.usage_metadata {
            self.usage = Some(u);
        }
        for (i, c) in r.candidates.iter().enumerate() {
            let pos = self.cand(c.index.unwrap_or(i as u32));
            if self.cands[pos].finished {
                continue;
            }
            let index = self.cands[pos].index;
            let mut delta = Delta::default();
            if !self.cands[pos].started {
                self.cands[pos].started = true;
                delta.role = Some("assistant");
            }
            let mut text = String::new();
            for part in c.content.iter().flat_map(|c| c.parts.iter()) {
                if let Some(fc) = &part.function_call {
                    let ordinal = self.cands[pos].calls;
                    self.cands[pos].calls += 1;
                    delta.tool_calls.push(ToolCallOut {
                        index: Some(ordinal),
                        id: tool_call_id(
                            &self.response_id,
                            index,
                            ordinal,
                            &fc.name,
                            fc.id.as_deref(),
                        ),
                        kind: "function",
                        function: FunctionOut {
                            name: fc.name.clone(),
                            arguments: super::response::arguments(fc.args.as_deref()),
                        },
                    });
                } else if let Some(t) = &part.text {
                    if part.thought == Some(true) {
                        delta
                            .reasoning_content
                            .get_or_insert_with(String::new)
                            .push_str(t);
                    } else {
                        text.push_str(t);
                    }
                }
            }
            if !text.is_empty() || (delta.role.is_some() && delta.tool_calls.is_empty()) {
                delta.content = Some(text);
            }
            if !delta.is_empty() {
                let choice = ChunkChoice {
                    index,
                    delta,
                    logprobs: None,
                    finish_reason: None,
                };
                self.emit(out, vec![choice], None)?;
            }
            if let Some(reason) = c.finish_reason.as_deref() {
                let fin = finish_reason(Some(reason), self.cands[pos].calls > 0);
                self.cands[pos].finished = true;
                self.finish_chunk(out, index, fin)?;
            }
        }
        let blocked = r
            .prompt_feedback
            .as_ref()
            .and_then(|f| f.block_reason.as_deref())
            .is_some();
        if r.candidates.is_empty() && blocked {
            let pos = self.cand(0);
            if !self.cands[pos].finished {
                self.cands[pos].finished = true;
                if !self.cands[pos].started {
                    self.cands[pos].started = true;
                    let choice = ChunkChoice {
                        index: 0,
                        delta: Delta {
                            role: Some("assistant"),
                            content: Some(String::new()),
                            ..Delta::default()
                        },
                        logprobs: None,
                        finish_reason: None,
                    };
                    self.emit(out, vec![choice], None)?;
                }
                self.finish_chunk(out, 0, "content_filter")?;
            }
        }
        Ok(())
    }

    fn finish_chunk(
        &mut self,
        out: &mut Vec<Vec<u8>>,
        index: u32,
        reason: &'static str,
    ) -> Result<(), TranslateError> {
        let choice = ChunkChoice {
            index,
            delta: Delta::default(),
            logprobs: None,
            finish_reason: Some(reason),
        };
        self.emit(out, vec![choice], None)
    }
}

impl StreamTranslator for GeminiStream {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<Vec<u8>>) -> Result<(), TranslateError> {
        if self.ended {
            return Ok(());
        }
        self.decoder
            .push(Bytes::copy_from_slice(chunk), &mut self.events)
            .map_err(|_| TranslateError("Gemini stream event too large".into()))?;
        let events = std::mem::take(&mut self.events);
        for ev in &events {
            if let Some(data) = event_data(ev) {
                self.frame(&data, out)?;
            }
        }
        self.events = events;
        self.events.clear();
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<Vec<u8>>) -> Result<(), TranslateError> {
        if self.ended {
            return Ok(());
        }
        self.ended = true;
        if let Some(rest) = self.decoder.finish() {
            if let Some(data) = event_data(&rest) {
                self.frame(&data, out)?;
            }
        }
        // A clean end without a finishReason still finishes every started choice.
        let open: Vec<(u32, bool)> = self
            .cands
            .iter()
            .filter(|c| c.started && !c.finished)
            .map(|c| (c.index, c.calls > 0))
            .collect();
        for (index, called) in open {
            self.finish_chunk(out, index, finish_reason(None, called))?;
        }
        let usage = Usage::from_gemini(self.usage.as_ref());
        self.emit(out, Vec::new(), Some(usage))
    }
}
