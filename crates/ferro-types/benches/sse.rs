//! SSE framing of an upstream OpenAI chat stream (`ferro_types::sse`): the
//! decoder the stream relay runs on every upstream read, and the field readers
//! it runs on every event.
//!
//! Input: `benches/data/openai_chat_stream.sse` (20 content chunks + usage
//! chunk, 24 events), fed whole, one read per event, and with every event
//! straddling two reads at awkward cut points (see `common/stream.rs`).
#![allow(clippy::expect_used)]

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferro_types::sse::{data_event, event_data, SseDecoder};
use std::hint::black_box;

#[path = "common/stream.rs"]
mod stream;
use stream::{aligned_pieces, awkward_pieces, OPENAI_STREAM};

/// Decodes `pieces` as one stream; returns the number of events.
fn decode(pieces: &[Bytes]) -> usize {
    let mut d = SseDecoder::default();
    let mut events = Vec::with_capacity(8);
    let mut n = 0;
    for p in pieces {
        // `Bytes::clone` is a refcount bump, as when the relay hands a read on.
        d.push(p.clone(), &mut events)
            .expect("fixture: event over the cap");
        n += events.len();
        events.clear();
    }
    n + usize::from(d.finish().is_some())
}

fn bench_decode(c: &mut Criterion) {
    let whole = vec![Bytes::from_static(OPENAI_STREAM)];
    let aligned = aligned_pieces(OPENAI_STREAM);
    let awkward = awkward_pieces(OPENAI_STREAM);
    assert_eq!(decode(&whole), 24);
    assert_eq!(decode(&aligned), 24);
    assert_eq!(decode(&awkward), 24);

    let mut g = c.benchmark_group("sse_decode");
    g.throughput(Throughput::Bytes(OPENAI_STREAM.len() as u64));
    for (name, pieces) in [
        ("openai_stream_whole", &whole),
        ("openai_stream_read_per_event", &aligned),
        ("openai_stream_awkward_splits", &awkward),
    ] {
        g.bench_function(name, |b| b.iter(|| decode(black_box(pieces))));
    }
    g.finish();
}

fn bench_fields(c: &mut Criterion) {
    let mut d = SseDecoder::default();
    let mut events = Vec::new();
    d.push(Bytes::from_static(OPENAI_STREAM), &mut events)
        .expect("fixture: event over the cap");
    let payloads: Vec<Vec<u8>> = events
        .iter()
        .map(|e| {
            event_data(e)
                .expect("fixture: event without data")
                .into_owned()
        })
        .collect();

    let mut g = c.benchmark_group("sse_fields");
    g.throughput(Throughput::Bytes(OPENAI_STREAM.len() as u64));
    // What the relay does first with every event: read its `data:` payload.
    g.bench_function("event_data_24_events", |b| {
        b.iter(|| {
            let mut total = 0;
            for e in black_box(&events) {
                total += event_data(e).map_or(0, |d| d.len());
            }
            total
        })
    });
    // Re-framing a rewritten payload (usage stripped or priced).
    g.bench_function("data_event_24_events", |b| {
        b.iter(|| {
            black_box(&payloads)
                .iter()
                .map(|x| data_event(x).len())
                .sum::<usize>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_decode, bench_fields);
criterion_main!(benches);
