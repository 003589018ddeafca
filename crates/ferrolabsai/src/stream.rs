//! [`ChatCompletionStream`]: a pull-based `Stream` of typed chunks over SSE.
//!
//! No task and no channel: each `poll_next` reads the response body only as
//! far as the next event, so a slow consumer slows the read and dropping the
//! stream closes the connection (the gateway then cancels the upstream call).
//! Events are framed by `ferro_types::sse::SseDecoder` (capped buffer), so a
//! chunk split anywhere across network reads parses the same.

use crate::client::Auth;
use crate::error::{self, Error};
use crate::types::chat::ChatCompletionChunk;
use crate::types::header_ids;
use crate::untrusted::Untrusted;
use bytes::Bytes;
use ferro_types::sse::{event_data, SseDecoder};
use futures_util::Stream;
use serde_json::Value;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

type Body = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// A streaming chat completion: `Stream<Item = Result<ChatCompletionChunk>>`.
///
/// Ends after `data: [DONE]` (or when the server closes the body). An
/// `{"error":…}` frame or a frame that is not valid JSON yields one
/// [`Error::Stream`] and ends the stream; so does a gap longer than the
/// client's timeout between two reads ([`Error::Connection`] with
/// `timeout: true`). Streams are never retried.
///
/// ```no_run
/// # async fn demo(client: ferrolabsai::FerroClient) -> ferrolabsai::Result<()> {
/// use futures_util::StreamExt;
/// use ferrolabsai::{ChatCompletionRequest, ChatMessage};
/// let req = ChatCompletionRequest::new("gpt-4o-mini", [ChatMessage::user("Hi")]).include_usage(true);
/// let mut stream = client.chat().completions().stream(&req).await?;
/// while let Some(chunk) = stream.next().await {
///     print!("{}", chunk?.content().unwrap_or_default());
/// }
/// # Ok(()) }
/// ```
pub struct ChatCompletionStream {
    body: Option<Body>,
    decoder: SseDecoder,
    scratch: Vec<Bytes>,
    pending: VecDeque<Bytes>,
    trace_id: Option<Untrusted<String>>,
    provider: Option<Untrusted<String>>,
    auth: Arc<Auth>,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
    done: bool,
}

impl std::fmt::Debug for ChatCompletionStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatCompletionStream")
            .field("trace_id", &self.trace_id)
            .field("provider", &self.provider)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

// Short-lived, returned by value once per event: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Frame {
    Skip,
    Done,
    Item(Result<ChatCompletionChunk, Error>),
}

impl ChatCompletionStream {
    pub(crate) fn new(resp: reqwest::Response, auth: Arc<Auth>, idle: Duration) -> Self {
        let (trace_id, provider) = header_ids(resp.headers());
        ChatCompletionStream {
            body: Some(Box::pin(resp.bytes_stream())),
            decoder: SseDecoder::default(),
            scratch: Vec::new(),
            pending: VecDeque::new(),
            trace_id,
            provider,
            auth,
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
            done: false,
        }
    }

    /// The stream's trace id (`x-request-id`).
    pub fn trace_id(&self) -> Option<&Untrusted<String>> {
        self.trace_id.as_ref()
    }

    /// The provider (`x-gateway-provider`), when the gateway sends it.
    pub fn provider(&self) -> Option<&Untrusted<String>> {
        self.provider.as_ref()
    }

    fn stream_error(&self, message: String, code: Option<String>) -> Error {
        Error::Stream {
            message: error::clean(&self.auth.key, &message),
            code: code.map(|c| error::clean(&self.auth.key, &c)),
            request_id: self.trace_id.clone(),
        }
    }

    fn frame(&self, event: &[u8]) -> Frame {
        let Some(data) = event_data(event) else {
            return Frame::Skip;
        };
        let payload = data.trim_ascii();
        if payload.is_empty() {
            return Frame::Skip;
        }
        if payload == b"[DONE]" {
            return Frame::Done;
        }
        let value: Value = match serde_json::from_slice(payload) {
            Ok(v) => v,
            Err(e) => {
                return Frame::Item(Err(
                    self.stream_error(format!("malformed SSE frame: {e}"), None)
                ))
            }
        };
        if let Some(err) = value.get("error").and_then(Value::as_object) {
            let message = err
                .get("message")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .unwrap_or("stream error")
                .to_owned();
            let code = err.get("code").and_then(Value::as_str).map(str::to_owned);
            return Frame::Item(Err(self.stream_error(message, code)));
        }
        match serde_json::from_value::<ChatCompletionChunk>(value) {
            Ok(mut chunk) => {
                chunk.trace_id = self.trace_id.clone();
                chunk.provider = self.provider.clone();
                Frame::Item(Ok(chunk))
            }
            Err(e) => Frame::Item(Err(
                self.stream_error(format!("unexpected chunk shape: {e}"), None)
            )),
        }
    }

    fn finish(&mut self) {
        self.done = true;
        self.body = None;
        self.pending.clear();
    }
}

impl Stream for ChatCompletionStream {
    type Item = Result<ChatCompletionChunk, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            while let Some(event) = this.pending.pop_front() {
                match this.frame(&event) {
                    Frame::Skip => continue,
                    Frame::Done => {
                        this.finish();
                        return Poll::Ready(None);
                    }
                    Frame::Item(item) => {
                        if item.is_err() {
                            this.finish();
                        }
                        return Poll::Ready(Some(item));
                    }
                }
            }
            let Some(body) = this.body.as_mut() else {
                // Body ended and every buffered event was handled.
                this.finish();
                return Poll::Ready(None);
            };
            match body.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(bytes))) => {
                    this.timer.as_mut().reset(Instant::now() + this.idle);
                    if this.decoder.push(bytes, &mut this.scratch).is_err() {
                        let e = this.stream_error("an SSE event exceeded 4 MiB".into(), None);
                        this.finish();
                        return Poll::Ready(Some(Err(e)));
                    }
                    this.pending.extend(this.scratch.drain(..));
                }
                Poll::Ready(Some(Err(e))) => {
                    let timeout = e.is_timeout();
                    let message =
                        error::clean(&this.auth.key, &format!("the stream was interrupted: {e}"));
                    this.finish();
                    return Poll::Ready(Some(Err(Error::Connection {
                        message,
                        timeout,
                        source: Some(e),
                    })));
                }
                Poll::Ready(None) => {
                    this.body = None;
                    if let Some(rest) = this.decoder.finish() {
                        this.pending.push_back(rest);
                    }
                }
                Poll::Pending => {
                    if this.timer.as_mut().poll(cx).is_ready() {
                        let idle = this.idle;
                        this.finish();
                        return Poll::Ready(Some(Err(Error::Connection {
                            message: format!("no stream data for {idle:?}"),
                            timeout: true,
                            source: None,
                        })));
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}
