#![no_main]
//! Bedrock's `application/vnd.amazon.eventstream` framing
//! (`ferro_providers::bedrock::eventstream`).
//!
//! The first input byte picks a mode: raw bytes as the upstream sent them,
//! or "fixed up" bytes whose length prefixes are made consistent and whose
//! prelude and message CRCs are recomputed, so the fuzzer gets past the CRC
//! checks into header parsing (CRC-32 is not something it can solve).
//!
//! Invariants checked:
//! * no panic, for any bytes and any split of them;
//! * no unbounded allocation: the decoder never buffers more than it was
//!   fed, whatever a hostile length prefix claims (up to 16 MiB is accepted),
//!   and no single allocation exceeds `ferro_fuzz::MAX_ALLOC` (8 MiB; the
//!   harness's allocator aborts on one);
//! * whole, input-split and byte-by-byte feeding decode the same messages and
//!   fail with the same error;
//! * every decoded message re-encodes (`encode`) to exactly its frame bytes.

use ferro_fuzz::pieces;
use ferro_providers::bedrock::eventstream::{crc32, decode, encode, Decoder, FrameError, Message};
use libfuzzer_sys::fuzz_target;

const PRELUDE: usize = 12;
const MIN_MESSAGE: usize = PRELUDE + 4;

fn be32(b: &[u8]) -> usize {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
}

fn put32(b: &mut [u8], v: usize) {
    // Frames here are at most the input's length, far below 4 GiB.
    b[..4].copy_from_slice(&u32::try_from(v).unwrap_or(u32::MAX).to_be_bytes());
}

/// Rewrites `buf` in place into consecutive well-framed messages: each
/// `total_len` fits the remaining bytes, `headers_len` fits the message, and
/// both CRCs are right. A tail shorter than one message is left as is.
fn fix_frames(buf: &mut [u8]) {
    let mut at = 0;
    while buf.len() - at >= MIN_MESSAGE {
        let rest = buf.len() - at;
        let claimed = be32(&buf[at..]);
        let total = if (MIN_MESSAGE..=rest).contains(&claimed) {
            claimed
        } else {
            MIN_MESSAGE + claimed % (rest - MIN_MESSAGE + 1)
        };
        let hlen = be32(&buf[at + 4..]) % (total - MIN_MESSAGE + 1);
        let frame = &mut buf[at..at + total];
        put32(&mut frame[0..], total);
        put32(&mut frame[4..], hlen);
        let pc = crc32(&frame[..8]) as usize;
        put32(&mut frame[8..], pc);
        let mc = crc32(&frame[..total - 4]) as usize;
        put32(&mut frame[total - 4..], mc);
        at += total;
    }
}

fn run(parts: &[&[u8]], fed: usize) -> (Vec<Message>, Option<FrameError>) {
    let mut d = Decoder::new();
    let mut out = Vec::new();
    for p in parts {
        if let Err(e) = d.push(p, &mut out) {
            return (out, Some(e));
        }
        assert!(d.pending() <= fed, "decoder buffers more than it was fed");
    }
    (out, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut input = rest.to_vec();
    if mode & 1 == 1 {
        fix_frames(&mut input);
    }

    let whole = run(&[&input], input.len());
    for salt in 0..2 {
        let split = run(&pieces(&input, salt), input.len());
        assert_eq!(split, whole, "split (salt {salt}) changed the outcome");
    }
    let bytewise: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(
        run(&bytewise, input.len()),
        whole,
        "byte-by-byte changed the outcome"
    );

    // Decoded messages are the input's leading frames, byte for byte.
    let mut at = 0;
    for m in &whole.0 {
        let headers: Vec<(&str, _)> = m
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.clone()))
            .collect();
        let frame = encode(&headers, &m.payload);
        assert!(
            input[at..].starts_with(&frame),
            "message at {at} does not re-encode to its frame"
        );
        at += frame.len();
    }

    // The one-frame decoder on the whole buffer.
    if let Ok(m) = decode(&input) {
        let headers: Vec<(&str, _)> = m
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.clone()))
            .collect();
        assert_eq!(
            encode(&headers, &m.payload),
            input,
            "decode/encode mismatch"
        );
    }
});
