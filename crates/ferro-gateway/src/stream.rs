//! The streaming relay: a pull-based body adapter over the upstream SSE stream.
//!
//! Events are forwarded as they arrive (untouched bytes on the fast path); usage is
//! observed on the way, priced, and either written into the usage chunk as
//! `usage.cost_usd` or stripped when the client did not ask for it. There is no
//! spawned task and no channel: a slow client slows the upstream read, and a gone
//! client drops this stream, which drops the upstream connection at once.

use crate::extras::usage_with_cost;
use bytes::{Bytes, BytesMut};
use ferro_providers::client::UpstreamError;
use ferro_types::catalog::Pricing;
use ferro_types::cost::{cost_usd, CostKind};
use ferro_types::error::envelope_json;
use ferro_types::json::JsonObject;
use ferro_types::sse::{event_data, SseDecoder};
use ferro_types::usage::TokenCounts;
use futures_util::stream::{BoxStream, Stream};
use memchr::memmem;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::time::Sleep;

/// How a stream ended, for logging and metrics.
#[derive(Debug, Clone, Default)]
pub struct StreamSummary {
    pub usage: Option<TokenCounts>,
    pub cost_usd: Option<f64>,
    /// `[DONE]` or a clean end was seen.
    pub completed: bool,
    /// The client went away before the end.
    pub cancelled: bool,
    pub error: Option<String>,
    pub ttft: Option<Duration>,
}

type OnFinish = Box<dyn FnOnce(StreamSummary) + Send>;

/// Sees every upstream event's `data:` payload before it is forwarded: the
/// response guardrails and the response cache (see `governance`).
pub trait StreamTap: Send {
    /// One event; runs before the event is transformed or forwarded.
    fn on_data(&mut self, data: &[u8]) -> TapVerdict;
    /// The upstream ended cleanly.
    fn on_end(&mut self) -> TapVerdict;
}

/// What a [`StreamTap`] wants done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TapVerdict {
    /// Forward.
    Pass,
    /// Hold this event and all that follow until the end (then `on_end` decides).
    Hold,
    /// End the stream with a `response_rejected` error frame carrying this message.
    Reject(String),
}

/// Relays an OpenAI-wire SSE stream to the client.
pub struct SseRelay {
    upstream: BoxStream<'static, Result<Bytes, UpstreamError>>,
    decoder: SseDecoder,
    events: Vec<Bytes>,
    client_wants_usage: bool,
    pricing: Option<Pricing>,
    idle: Duration,
    sleep: Pin<Box<Sleep>>,
    start: Instant,
    summary: StreamSummary,
    done: bool,
    on_finish: Option<OnFinish>,
    tap: Option<Box<dyn StreamTap>>,
    /// Events held back for the tap (`Some` once it said `Hold`).
    held: Option<BytesMut>,
    /// Replaying a cached answer: usage is priced at 0 and marked `cache_hit`.
    cache_hit: bool,
}

fn finders() -> &'static (memmem::Finder<'static>, memmem::Finder<'static>) {
    static F: OnceLock<(memmem::Finder<'static>, memmem::Finder<'static>)> = OnceLock::new();
    F.get_or_init(|| {
        (
            memmem::Finder::new(b"\"usage\""),
            memmem::Finder::new(b"\"usage\":null"),
        )
    })
}

impl SseRelay {
    pub fn new(
        upstream: BoxStream<'static, Result<Bytes, UpstreamError>>,
        client_wants_usage: bool,
        pricing: Option<Pricing>,
        idle: Duration,
        start: Instant,
        on_finish: Option<OnFinish>,
    ) -> SseRelay {
        SseRelay {
            upstream,
            decoder: SseDecoder::default(),
            events: Vec::with_capacity(4),
            client_wants_usage,
            pricing,
            idle,
            sleep: Box::pin(tokio::time::sleep(idle)),
            start,
            summary: StreamSummary::default(),
            done: false,
            on_finish,
            tap: None,
            held: None,
            cache_hit: false,
        }
    }

    /// Screens the stream through `tap`.
    pub fn with_tap(mut self, tap: Option<Box<dyn StreamTap>>) -> SseRelay {
        self.tap = tap;
        self
    }

    /// Sets the callback run once when the stream ends (or is dropped).
    pub fn with_on_finish(mut self, on_finish: OnFinish) -> SseRelay {
        self.on_finish = Some(on_finish);
        self
    }

    /// Marks a replay of a cached answer (usage priced at 0, `cache_hit: true`).
    pub fn replaying_cache(mut self) -> SseRelay {
        self.cache_hit = true;
        self
    }

    fn reject(&mut self, message: String) -> Bytes {
        self.held = None;
        let frame = Self::error_frame("upstream_error", "response_rejected", &message);
        self.summary.error = Some(message);
        self.finish();
        frame
    }

    fn finish(&mut self) {
        self.done = true;
        if let Some(f) = self.on_finish.take() {
            f(std::mem::take(&mut self.summary));
        }
    }

    /// Transforms one event; `None` drops it.
    fn process(&mut self, ev: Bytes) -> Option<Bytes> {
        let Some(data) = event_data(&ev) else {
            return Some(ev);
        };
        if data.as_ref() == b"[DONE]" {
            self.summary.completed = true;
            return Some(ev);
        }
        let (usage_key, usage_null) = finders();
        if usage_key.find(&data).is_none() {
            return Some(ev);
        }
        if usage_null.find(&data).is_some() {
            if self.client_wants_usage {
                return Some(ev);
            }
            // `"usage":null` cannot occur inside a JSON string (quotes are escaped
            // there), so removing the byte sequence is exact.
            let s = data.as_ref();
            let stripped = strip_usage_null(s);
            return Some(ferro_types::sse::data_event(&stripped));
        }
        let obj = JsonObject::parse(&data).ok()?;
        let Some(u) = obj.get_non_null("usage") else {
            return Some(ev);
        };
        let counts = TokenCounts::from_usage_json(u.get());
        let cost = match (&self.pricing, &counts) {
            _ if self.cache_hit => Some(0.0),
            (Some(p), Some(c)) => cost_usd(p, CostKind::Chat, c),
            _ => None,
        };
        self.summary.usage = counts;
        self.summary.cost_usd = cost;
        let usage_only = obj.get("choices").is_some_and(|c| is_empty_array(c.get()));
        if !self.client_wants_usage {
            if usage_only {
                return None;
            }
            return Some(ferro_types::sse::data_event(
                &obj.write_with(&[], &["usage"]),
            ));
        }
        let new_usage = usage_with_cost(u.get(), cost, self.cache_hit)?;
        Some(ferro_types::sse::data_event(
            &obj.write_with(&[("usage", &new_usage)], &[]),
        ))
    }

    fn error_frame(kind: &str, code: &str, message: &str) -> Bytes {
        ferro_types::sse::data_event(&envelope_json(kind, code, message))
    }
}

fn is_empty_array(raw: &str) -> bool {
    raw.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .is_some_and(|inner| inner.trim().is_empty())
}

fn strip_usage_null(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let pat: &[u8] = b"\"usage\":null";
    let mut rest = s;
    let (_, finder) = finders();
    while let Some(i) = finder.find(rest) {
        let mut start = i;
        let mut end = i + pat.len();
        // remove one adjacent comma so the object stays valid
        if rest.get(end) == Some(&b',') {
            end += 1;
        } else if start > 0 && rest[..start].last() == Some(&b',') {
            start -= 1;
        }
        out.extend_from_slice(&rest[..start]);
        rest = &rest[end..];
    }
    out.extend_from_slice(rest);
    out
}

impl Stream for SseRelay {
    type Item = Result<Bytes, std::convert::Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            match this.upstream.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    let deadline = tokio::time::Instant::now() + this.idle;
                    this.sleep.as_mut().reset(deadline);
                    if this.summary.ttft.is_none() {
                        this.summary.ttft = Some(this.start.elapsed());
                    }
                    let mut events = std::mem::take(&mut this.events);
                    if this.decoder.push(chunk, &mut events).is_err() {
                        this.finish();
                        return Poll::Ready(Some(Ok(Self::error_frame(
                            "stream_error",
                            "stream_error",
                            "upstream sent an oversized event",
                        ))));
                    }
                    let mut out: Option<Bytes> = None;
                    let mut buf: Option<BytesMut> = None;
                    let mut rejected: Option<String> = None;
                    for ev in events.drain(..) {
                        if let (Some(tap), Some(data)) = (this.tap.as_mut(), event_data(&ev)) {
                            match tap.on_data(&data) {
                                TapVerdict::Pass => {}
                                TapVerdict::Hold => {
                                    this.held.get_or_insert_with(BytesMut::new);
                                }
                                TapVerdict::Reject(m) => {
                                    rejected = Some(m);
                                    break;
                                }
                            }
                        }
                        let Some(b) = this.process(ev) else { continue };
                        if let Some(h) = this.held.as_mut() {
                            h.extend_from_slice(&b);
                            continue;
                        }
                        match (&mut buf, out.take()) {
                            (Some(acc), _) => acc.extend_from_slice(&b),
                            (None, None) => out = Some(b),
                            (None, Some(first)) => {
                                let mut acc = BytesMut::with_capacity(first.len() + b.len());
                                acc.extend_from_slice(&first);
                                acc.extend_from_slice(&b);
                                buf = Some(acc);
                            }
                        }
                    }
                    this.events = events;
                    if let Some(m) = rejected {
                        // What was screened before the rejection still goes out.
                        let frame = this.reject(m);
                        let mut acc = buf.unwrap_or_default();
                        if let Some(b) = out {
                            acc.extend_from_slice(&b);
                        }
                        acc.extend_from_slice(&frame);
                        return Poll::Ready(Some(Ok(acc.freeze())));
                    }
                    if let Some(acc) = buf {
                        return Poll::Ready(Some(Ok(acc.freeze())));
                    }
                    if let Some(b) = out {
                        return Poll::Ready(Some(Ok(b)));
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    let (kind, code, msg) = match e {
                        UpstreamError::IdleTimeout => (
                            "timeout_error",
                            "stream_timeout",
                            "the upstream stream stalled",
                        ),
                        _ => ("stream_error", "stream_error", "the upstream stream failed"),
                    };
                    this.summary.error = Some(msg.to_owned());
                    this.finish();
                    return Poll::Ready(Some(Ok(Self::error_frame(kind, code, msg))));
                }
                Poll::Ready(None) => {
                    let rest = this.decoder.finish();
                    if let Some(tap) = this.tap.as_mut() {
                        if let TapVerdict::Reject(m) = tap.on_end() {
                            let frame = this.reject(m);
                            return Poll::Ready(Some(Ok(frame)));
                        }
                    }
                    let rest = match this.held.take() {
                        Some(mut held) => {
                            if let Some(r) = rest {
                                held.extend_from_slice(&r);
                            }
                            Some(held.freeze()).filter(|b| !b.is_empty())
                        }
                        None => rest,
                    };
                    if !this.summary.completed && this.summary.usage.is_some() {
                        this.summary.completed = true;
                    }
                    this.finish();
                    return Poll::Ready(rest.map(Ok));
                }
                Poll::Pending => {
                    if this.sleep.as_mut().poll(cx).is_ready() {
                        this.summary.error = Some("stream idle timeout".to_owned());
                        this.finish();
                        return Poll::Ready(Some(Ok(Self::error_frame(
                            "timeout_error",
                            "stream_timeout",
                            "the upstream stream stalled",
                        ))));
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl Drop for SseRelay {
    fn drop(&mut self) {
        if !self.done {
            self.summary.cancelled = true;
            self.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_null_usage() {
        assert_eq!(
            strip_usage_null(br#"{"id":"x","usage":null,"choices":[]}"#),
            br#"{"id":"x","choices":[]}"#.to_vec()
        );
        assert_eq!(
            strip_usage_null(br#"{"id":"x","usage":null}"#),
            br#"{"id":"x"}"#.to_vec()
        );
    }
}
