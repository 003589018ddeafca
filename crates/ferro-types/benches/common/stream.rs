//! The upstream stream the SSE benches feed: a recorded-shape OpenAI chat
//! stream as the gateway receives it (it always asks for usage, so every chunk
//! carries `"usage":null`): a role chunk, 20 content chunks, a finish chunk,
//! the usage chunk and `[DONE]` (24 events, 7.2 KB).
//!
//! Shared by `ferro-types/benches/sse.rs` and `ferro-gateway/benches/relay.rs`
//! (through `#[path]`), so both measure the same bytes.
#![allow(dead_code)]

use bytes::Bytes;

/// `data/openai_chat_stream.sse`.
pub const OPENAI_STREAM: &[u8] = include_bytes!("../data/openai_chat_stream.sse");

/// `(start, end)` of each event (end just past its blank line).
fn events(stream: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    while let Some(rel) = stream[start..].windows(2).position(|w| w == b"\n\n") {
        let end = start + rel + 2;
        out.push((start, end));
        start = end;
    }
    assert_eq!(
        start,
        stream.len(),
        "fixture: trailing bytes after the last event"
    );
    out
}

fn cut(stream: &[u8], points: &[usize]) -> Vec<Bytes> {
    let mut out = Vec::with_capacity(points.len());
    let mut at = 0;
    for &p in points {
        if p > at {
            out.push(Bytes::copy_from_slice(&stream[at..p]));
            at = p;
        }
    }
    if at < stream.len() {
        out.push(Bytes::copy_from_slice(&stream[at..]));
    }
    assert_eq!(
        out.concat(),
        stream,
        "fixture: pieces do not tile the stream"
    );
    out
}

/// One network read per event, cut exactly at event boundaries (the
/// decoder's zero-copy fast path).
pub fn aligned_pieces(stream: &[u8]) -> Vec<Bytes> {
    let ends: Vec<usize> = events(stream).into_iter().map(|(_, e)| e).collect();
    cut(stream, &ends)
}

/// One read per event, but every cut lands at an awkward place, in turn:
/// between the two `\n` of the terminator, in the middle of the JSON, and
/// inside the `data:` field name. Every event straddles two reads, so the
/// decoder's buffering path runs for each one.
pub fn awkward_pieces(stream: &[u8]) -> Vec<Bytes> {
    let points: Vec<usize> = events(stream)
        .into_iter()
        .enumerate()
        .map(|(k, (s, e))| match k % 3 {
            0 => e - 1,
            1 => s + (e - s) / 2,
            _ => s + 3,
        })
        .collect();
    cut(stream, &points)
}
