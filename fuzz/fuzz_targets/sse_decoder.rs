#![no_main]
//! `ferro_types::sse`: the SSE framer (`SseDecoder`) and its field readers
//! (`event_data`, `event_name`, `data_event`).
//!
//! Invariants checked:
//! * no panic, for any bytes and any split of them into network chunks;
//! * no byte is lost or duplicated: the events, then the leftover that
//!   `finish` returns (or a whitespace-only tail it drops), are the input;
//! * the input decoded whole, split at input-derived points, and byte by byte
//!   gives consumers the same events (`event:` name and `data` payload of
//!   every event that has data);
//! * a small buffer cap is enforced with an error, not a panic;
//! * `data_event` round-trips through the decoder and `event_data` for a
//!   single-line payload.

use bytes::Bytes;
use ferro_fuzz::pieces;
use ferro_types::sse::{data_event, event_data, event_name, SseDecoder, MAX_EVENT_BYTES};
use libfuzzer_sys::fuzz_target;

/// Events as a consumer reads them: `(event name, data)` of events with data.
type View = Vec<(Option<Vec<u8>>, Vec<u8>)>;

struct Decoded {
    events: Vec<Bytes>,
    rest: Option<Bytes>,
}

fn decode(parts: &[&[u8]]) -> Decoded {
    let mut d = SseDecoder::default();
    let mut events = Vec::new();
    for p in parts {
        // Inputs are far below the 4 MiB cap (checked by the caller), so a
        // refusal here would be a decoder bug.
        if d.push(Bytes::copy_from_slice(p), &mut events).is_err() {
            panic!("event refused below the cap");
        }
    }
    let rest = d.finish();
    Decoded { events, rest }
}

fn view(d: &Decoded) -> View {
    d.events
        .iter()
        .chain(d.rest.iter())
        .filter_map(|e| {
            let data = event_data(e)?.into_owned();
            Some((event_name(e).map(<[u8]>::to_vec), data))
        })
        .collect()
}

/// The events and leftover must tile the input exactly.
fn check_tiling(input: &[u8], d: &Decoded, how: &str) {
    let mut at = 0;
    for e in &d.events {
        assert!(
            input[at..].starts_with(e),
            "{how}: event at {at} is not the next input bytes"
        );
        assert!(
            matches!(e.last(), Some(b'\n' | b'\r')),
            "{how}: event at {at} does not end with a line terminator"
        );
        at += e.len();
    }
    match &d.rest {
        Some(r) => assert_eq!(&input[at..], &r[..], "{how}: leftover differs"),
        None => assert!(
            input[at..].iter().all(u8::is_ascii_whitespace),
            "{how}: non-blank tail dropped"
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() >= MAX_EVENT_BYTES {
        return;
    }
    // Whole, input-derived splits, and byte by byte.
    let whole = decode(&[data]);
    check_tiling(data, &whole, "whole");
    let expected = view(&whole);
    for salt in 0..2 {
        let split = decode(&pieces(data, salt));
        check_tiling(data, &split, "split");
        assert_eq!(
            view(&split),
            expected,
            "split (salt {salt}) changed the events"
        );
    }
    let bytewise: Vec<&[u8]> = data.chunks(1).collect();
    let bytewise = decode(&bytewise);
    check_tiling(data, &bytewise, "bytewise");
    assert_eq!(view(&bytewise), expected, "byte-by-byte changed the events");

    // A tiny cap: over-long events are refused, nothing panics.
    let cap = usize::from(data.first().copied().unwrap_or(0) % 48);
    let mut small = SseDecoder::new(cap);
    let mut out = Vec::new();
    for p in pieces(data, 7) {
        if small.push(Bytes::copy_from_slice(p), &mut out).is_err() {
            break;
        }
    }
    let _ = small.finish();

    // The field readers on raw, unframed bytes.
    let _ = event_data(data);
    let _ = event_name(data);

    // Encoding a single-line payload and reading it back is the identity.
    if !data.contains(&b'\n') && !data.contains(&b'\r') {
        let framed = data_event(data);
        let back = decode(&[&framed]);
        assert_eq!(
            back.events.len(),
            1,
            "data_event framed more than one event"
        );
        assert!(back.rest.is_none(), "data_event left an unterminated tail");
        let got = event_data(&back.events[0]).map(|c| c.into_owned());
        assert_eq!(got.as_deref(), Some(data), "data_event did not round-trip");
    }
});
