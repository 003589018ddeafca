//! Response bodies: a fixed buffer, a deliberately truncated buffer, and the
//! SSE body that emits one event per frame (with an optional gap) and
//! reports, on drop, whether it was cancelled before finishing.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::server::Shared;
use crate::util::Out;

/// Error produced by a body that aborts on purpose; hyper then tears the
/// connection down without finishing the message.
#[derive(Debug)]
pub(crate) struct Aborted;

impl std::fmt::Display for Aborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("mock upstream aborted the response body")
    }
}

impl std::error::Error for Aborted {}

/// Live/cancelled SSE body counters.
#[derive(Default)]
pub(crate) struct StreamCounters {
    pub(crate) active: AtomicUsize,
    pub(crate) cancelled: AtomicUsize,
}

/// Every response body the mock produces.
pub(crate) enum MockBody {
    /// Whole body in one frame (`None` once sent, or for an empty body).
    Full(Option<Bytes>),
    /// Send these bytes, then fail (connection aborted mid-body).
    Truncated(Truncated),
    /// Server-sent events.
    Sse(SseBody),
}

impl MockBody {
    pub(crate) fn full(b: impl Into<Bytes>) -> Self {
        let b = b.into();
        if b.is_empty() {
            MockBody::Full(None)
        } else {
            MockBody::Full(Some(b))
        }
    }

    pub(crate) fn empty() -> Self {
        MockBody::Full(None)
    }
}

impl Body for MockBody {
    type Data = Bytes;
    type Error = Aborted;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Aborted>>> {
        match self.get_mut() {
            MockBody::Full(b) => Poll::Ready(b.take().map(|d| Ok(Frame::data(d)))),
            MockBody::Truncated(t) => t.poll(cx),
            MockBody::Sse(s) => s.poll_event(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            MockBody::Full(b) => b.is_none(),
            MockBody::Truncated(_) => false,
            MockBody::Sse(s) => s.is_done(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            MockBody::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            MockBody::Full(None) => SizeHint::with_exact(0),
            // Unknown length: chunked transfer encoding on HTTP/1.1.
            _ => SizeHint::default(),
        }
    }
}

/// A body that sends some bytes and then fails, so hyper aborts the
/// connection mid-message.
pub(crate) struct Truncated {
    data: Option<Bytes>,
    flush: FlushThenAbort,
}

impl Truncated {
    pub(crate) fn new(data: Bytes) -> Self {
        Truncated {
            data: Some(data),
            flush: FlushThenAbort::default(),
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Aborted>>> {
        if let Some(d) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(d))));
        }
        ready!(self.flush.poll(cx));
        Poll::Ready(Some(Err(Aborted)))
    }
}

/// hyper drops buffered output when a body errors, so before failing a body
/// returns `Pending` once (waking itself): hyper flushes what it has (the
/// headers and the chunks so far) and then polls again to see the error.
#[derive(Default)]
struct FlushThenAbort {
    yielded: bool,
}

impl FlushThenAbort {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            Poll::Ready(())
        } else {
            self.yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Builds the SSE payload: all events in one buffer plus their end offsets,
/// so the body hands out zero-copy slices one event at a time.
pub(crate) struct SseBuilder {
    buf: Out,
    ends: Vec<usize>,
}

impl SseBuilder {
    pub(crate) fn new(cap: usize, events: usize) -> Self {
        SseBuilder {
            buf: Out::with_capacity(cap),
            ends: Vec::with_capacity(events),
        }
    }

    /// The buffer to append the JSON of the current event to.
    pub(crate) fn begin(&mut self) -> &mut Out {
        self.buf.raw("data: ")
    }

    /// Like [`SseBuilder::begin`], with an `event:` line first (Anthropic style).
    pub(crate) fn begin_named(&mut self, event: &str) -> &mut Out {
        self.buf.raw("event: ").raw(event).raw("\ndata: ")
    }

    pub(crate) fn end(&mut self) {
        self.buf.raw("\n\n");
        self.ends.push(self.buf.len());
    }

    /// Ends the event with a custom blank-line terminator (Google sends `\r\n\r\n`).
    pub(crate) fn end_with(&mut self, terminator: &str) {
        self.buf.raw(terminator);
        self.ends.push(self.buf.len());
    }

    /// Append the terminal `data: [DONE]` event.
    pub(crate) fn done(&mut self) {
        self.buf.raw("data: [DONE]\n\n");
        self.ends.push(self.buf.len());
    }

    pub(crate) fn into_body(
        self,
        shared: Arc<Shared>,
        gap: Duration,
        abort_after: Option<usize>,
    ) -> SseBody {
        SseBody::new(shared, self.buf.into_bytes(), self.ends, gap, abort_after)
    }
}

/// The SSE response body. Counts itself in `active_streams` while alive and
/// in `cancelled_streams` if dropped before its last event was produced.
pub(crate) struct SseBody {
    shared: Arc<Shared>,
    data: Bytes,
    ends: Vec<usize>,
    next: usize,
    gap: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
    waiting: bool,
    abort_after: Option<usize>,
    abort_flush: FlushThenAbort,
    finished: bool,
}

impl SseBody {
    /// A body handing out `data` one frame at a time (frame `i` ends at
    /// `ends[i]`); binary frames (AWS event streams) are fine.
    pub(crate) fn new(
        shared: Arc<Shared>,
        data: Bytes,
        ends: Vec<usize>,
        gap: Duration,
        abort_after: Option<usize>,
    ) -> Self {
        shared.streams.active.fetch_add(1, Ordering::AcqRel);
        let abort_after = abort_after.filter(|n| *n <= ends.len());
        SseBody {
            shared,
            data,
            ends,
            next: 0,
            gap,
            sleep: None,
            waiting: false,
            abort_after,
            abort_flush: FlushThenAbort::default(),
            finished: false,
        }
    }

    fn is_done(&self) -> bool {
        self.next >= self.ends.len() && self.abort_after.is_none()
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Aborted>>> {
        if self.waiting {
            if let Some(sleep) = self.sleep.as_mut() {
                ready!(sleep.as_mut().poll(cx));
            }
            self.waiting = false;
        }
        if self.abort_after == Some(self.next) {
            ready!(self.abort_flush.poll(cx));
            // Scripted failure: the script is complete, so not "cancelled".
            self.abort_after = None;
            self.finished = true;
            self.next = self.ends.len();
            return Poll::Ready(Some(Err(Aborted)));
        }
        let Some(&end) = self.ends.get(self.next) else {
            self.finished = true;
            return Poll::Ready(None);
        };
        let start = match self.next {
            0 => 0,
            i => self.ends[i - 1],
        };
        self.next += 1;
        let frame = Frame::data(self.data.slice(start..end));
        if self.next == self.ends.len() && self.abort_after.is_none() {
            self.finished = true;
        } else if !self.gap.is_zero() {
            let deadline = Instant::now() + self.gap;
            match self.sleep.as_mut() {
                Some(s) => s.as_mut().reset(deadline),
                None => self.sleep = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
            self.waiting = true;
        }
        Poll::Ready(Some(Ok(frame)))
    }
}

impl Drop for SseBody {
    fn drop(&mut self) {
        let counters = &self.shared.streams;
        if !self.finished {
            counters.cancelled.fetch_add(1, Ordering::AcqRel);
        }
        counters.active.fetch_sub(1, Ordering::AcqRel);
    }
}
