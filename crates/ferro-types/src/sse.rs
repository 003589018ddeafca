//! Incremental Server-Sent Events framing.
//!
//! [`SseDecoder`] cuts a byte stream into whole events (each ending with its blank
//! line) without copying when an event lies inside one network chunk, and with a
//! capped buffer otherwise, so a hostile upstream cannot grow memory without bound.

use bytes::{Bytes, BytesMut};
use std::borrow::Cow;

/// Default cap on one buffered, incomplete event.
pub const MAX_EVENT_BYTES: usize = 4 * 1024 * 1024;

/// An event grew past the cap without a terminating blank line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTooLarge;

/// Splits a byte stream into SSE events.
#[derive(Debug)]
pub struct SseDecoder {
    buf: BytesMut,
    max: usize,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new(MAX_EVENT_BYTES)
    }
}

/// Position just past the first event terminator (`\n\n`, `\r\n\r\n`, `\n\r\n`, `\r\r`) at or after `from`.
fn find_boundary(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < b.len() {
        let rel = memchr::memchr2(b'\n', b'\r', &b[i..])?;
        let p = i + rel;
        // a line ends at p; consume "\r\n" as one terminator
        let next = if b[p] == b'\r' && b.get(p + 1) == Some(&b'\n') {
            p + 2
        } else {
            p + 1
        };
        match b.get(next) {
            Some(b'\n') => return Some(next + 1),
            Some(b'\r') => {
                return Some(if b.get(next + 1) == Some(&b'\n') {
                    next + 2
                } else {
                    next + 1
                })
            }
            None => return None,
            _ => i = next,
        }
    }
    None
}

impl SseDecoder {
    pub fn new(max: usize) -> Self {
        SseDecoder {
            buf: BytesMut::new(),
            max,
        }
    }

    /// Feeds a chunk; complete events are appended to `out`.
    pub fn push(&mut self, chunk: Bytes, out: &mut Vec<Bytes>) -> Result<(), EventTooLarge> {
        if self.buf.is_empty() {
            let mut start = 0;
            while let Some(end) = find_boundary(&chunk, start) {
                out.push(chunk.slice(start..end));
                start = end;
            }
            if start < chunk.len() {
                if chunk.len() - start > self.max {
                    return Err(EventTooLarge);
                }
                self.buf.extend_from_slice(&chunk[start..]);
            }
            return Ok(());
        }
        // Rescan from a little before the old end: a terminator may straddle chunks.
        let from = self.buf.len().saturating_sub(3);
        self.buf.extend_from_slice(&chunk);
        let mut scan = from;
        while let Some(end) = find_boundary(&self.buf, scan) {
            out.push(self.buf.split_to(end).freeze());
            scan = 0;
        }
        if self.buf.len() > self.max {
            return Err(EventTooLarge);
        }
        Ok(())
    }

    /// Whatever is left when the stream ends (an event without its blank line).
    pub fn finish(&mut self) -> Option<Bytes> {
        if self.buf.iter().all(|b| b.is_ascii_whitespace()) {
            self.buf.clear();
            return None;
        }
        Some(self.buf.split().freeze())
    }
}

/// Splits an event into its lines. A line ends at `\r\n`, `\n` or a lone
/// `\r`, as in the SSE spec and as [`SseDecoder`] cuts events; reading only
/// `\n` would hide a line after a lone `\r` (`"\rdata: x\n\n"`), and whether
/// the decoder cut the event just before that line or just after it depends on
/// where the network split the stream.
fn lines(event: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = event;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = memchr::memchr2(b'\n', b'\r', rest).unwrap_or(rest.len());
        let line = &rest[..end];
        let skip = if rest[end..].starts_with(b"\r\n") {
            end + 2
        } else {
            end + 1
        };
        rest = rest.get(skip..).unwrap_or(&[]);
        Some(line)
    })
}

/// The `data` payload of one event: `data:` lines joined by `\n` (one leading
/// space stripped per line). `None` when the event has no data line.
///
/// Hot on every streamed chunk: lines are found with `memchr`, and the common
/// shape (one `data:` line) is returned borrowed, without walking the event
/// byte by byte.
pub fn event_data(event: &[u8]) -> Option<Cow<'_, [u8]>> {
    let mut found: Option<Cow<'_, [u8]>> = None;
    for line in lines(event) {
        let Some(payload) = line.strip_prefix(b"data:") else {
            continue;
        };
        let payload = payload.strip_prefix(b" ").unwrap_or(payload);
        found = Some(match found {
            None => Cow::Borrowed(payload),
            Some(prev) => {
                let mut v = prev.into_owned();
                v.push(b'\n');
                v.extend_from_slice(payload);
                Cow::Owned(v)
            }
        });
    }
    found
}

/// The `event:` name of one event, if any.
pub fn event_name(event: &[u8]) -> Option<&[u8]> {
    lines(event).find_map(|line| {
        line.strip_prefix(b"event:")
            .map(|r| r.strip_prefix(b" ").unwrap_or(r))
    })
}

/// Encodes one `data:` event.
pub fn data_event(payload: &[u8]) -> Bytes {
    let mut v = Vec::with_capacity(payload.len() + 8);
    v.extend_from_slice(b"data: ");
    v.extend_from_slice(payload);
    v.extend_from_slice(b"\n\n");
    Bytes::from(v)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut d = SseDecoder::default();
        let mut out = Vec::new();
        for c in chunks {
            d.push(Bytes::copy_from_slice(c), &mut out).unwrap();
        }
        out.into_iter().map(|b| b.to_vec()).collect()
    }

    #[test]
    fn splits_within_and_across_chunks() {
        let all: &[u8] = b"data: {\"a\":1}\n\ndata: {\"b\":2}\n\n: ping\n\ndata: [DONE]\n\n";
        let whole = run(&[all]);
        assert_eq!(whole.len(), 4);
        for cut in 1..all.len() {
            let (a, b) = all.split_at(cut);
            assert_eq!(run(&[a, b]), whole, "cut at {cut}");
        }
        let bytewise: Vec<&[u8]> = all.chunks(1).collect();
        assert_eq!(run(&bytewise), whole);
    }

    #[test]
    fn crlf_terminators() {
        let out = run(&[b"data: x\r\n\r\ndata: y\r\n", b"\r\n"]);
        assert_eq!(out.len(), 2);
        assert_eq!(event_data(&out[1]).unwrap().as_ref(), b"y");
    }

    #[test]
    fn data_extraction() {
        assert_eq!(
            event_data(b"event: e\ndata: a\ndata: b\n\n")
                .unwrap()
                .as_ref(),
            b"a\nb"
        );
        assert_eq!(
            event_name(b"event: message_start\ndata: {}\n\n"),
            Some(&b"message_start"[..])
        );
        assert!(event_data(b": comment\n\n").is_none());
    }

    #[test]
    fn lone_cr_ends_a_line() {
        assert_eq!(event_data(b"\rdata: 1\n\n").unwrap().as_ref(), b"1");
        let ev = b"event: e\rdata: a\r\ndata: b\r\r";
        assert_eq!(event_data(ev).unwrap().as_ref(), b"a\nb");
        assert_eq!(event_name(ev), Some(&b"e"[..]));
        assert_eq!(event_data(b"data: x\r").unwrap().as_ref(), b"x");
    }

    /// Found by `fuzz/fuzz_targets/sse_decoder.rs`: the decoder cuts
    /// `\r\r\n\r` differently whole and byte by byte; what consumers read
    /// (the data of each event) must not depend on it.
    #[test]
    fn data_does_not_depend_on_the_split_of_lone_crs() {
        let all: &[u8] = b"\r\r\n\rdata: 1\n\nevent: e\r\r\ndata: 2\r\r";
        let data = |events: Vec<Vec<u8>>| -> Vec<Vec<u8>> {
            events
                .iter()
                .filter_map(|e| event_data(e).map(Cow::into_owned))
                .collect()
        };
        let whole = data(run(&[all]));
        assert_eq!(whole, vec![b"1".to_vec(), b"2".to_vec()]);
        let bytewise: Vec<&[u8]> = all.chunks(1).collect();
        assert_eq!(data(run(&bytewise)), whole);
        for cut in 1..all.len() {
            let (a, b) = all.split_at(cut);
            assert_eq!(data(run(&[a, b])), whole, "cut at {cut}");
        }
    }

    #[test]
    fn cap_is_enforced() {
        let mut d = SseDecoder::new(16);
        let mut out = Vec::new();
        assert!(d
            .push(Bytes::from_static(b"data: 0123456789abcdefghij"), &mut out)
            .is_err());
        let mut d = SseDecoder::new(16);
        d.push(Bytes::from_static(b"data: 0123"), &mut out).unwrap();
        assert!(d
            .push(Bytes::from_static(b"456789abcdefghij"), &mut out)
            .is_err());
    }
}
