//! The forward path of a streamed chat response and the JSON response extras.
//!
//! * `relay`: the whole per-chunk work of `ferro_gateway::stream::SseRelay`
//!   (public, so benchmarked as the gateway runs it) over an OpenAI chat
//!   stream (20 content chunks + usage chunk, every event straddling two reads
//!   at awkward cut points; the bytes of `ferro-types/benches/common/stream.rs`):
//!   SSE decoding, `data:` extraction, `[DONE]` detection, the usage read,
//!   pricing (gpt-4o-mini from the embedded catalog) and the rewrite: either
//!   `"usage":null` stripped from every chunk and the usage chunk dropped (the
//!   client did not ask for usage), or the usage chunk rewritten with
//!   `cost_usd` / `cache_hit` (it did). The per-event `process` step is
//!   private; it is measured here through the relay's `Stream` impl, driven by
//!   hand with a no-op waker inside a current-thread tokio runtime (the relay
//!   arms an idle timer, which needs one). The upstream is an in-memory
//!   stream, so no I/O and no timer ever fires.
//! * `extras`: the non-streaming body rewrite (`provider`, `trace_id`,
//!   `usage.cost_usd`, `usage.cache_hit`), both the parsing form
//!   (`rewrite_body`) and the one the handlers use (`body_usage` once, then
//!   `rewrite_laid_out`), and `usage_with_cost` alone.
#![allow(clippy::expect_used)]

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferro_gateway::extras::{body_usage, rewrite_body, rewrite_laid_out, usage_with_cost};
use ferro_gateway::stream::SseRelay;
use ferro_providers::client::UpstreamError;
use ferro_types::catalog::{Catalog, Pricing};
use futures_util::stream::{self, StreamExt};
use std::hint::black_box;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

#[path = "../../ferro-types/benches/common/stream.rs"]
mod upstream;
use upstream::{awkward_pieces, OPENAI_STREAM};

/// Relays `pieces` to the end; returns the bytes the client would receive.
fn relay(pieces: &Arc<[Bytes]>, client_wants_usage: bool, pricing: &Pricing) -> usize {
    let reads = pieces.clone();
    let up =
        stream::iter((0..reads.len()).map(move |i| Ok::<Bytes, UpstreamError>(reads[i].clone())))
            .boxed();
    let mut relay = SseRelay::new(
        up,
        client_wants_usage,
        Some(pricing.clone()),
        Duration::from_secs(60),
        Instant::now(),
        None,
    );
    let mut cx = Context::from_waker(Waker::noop());
    let mut sent = 0;
    loop {
        match relay.poll_next_unpin(&mut cx) {
            Poll::Ready(Some(Ok(b))) => sent += b.len(),
            Poll::Ready(None) => return sent,
            // An in-memory upstream is never pending; a timer never fires.
            Poll::Ready(Some(Err(never))) => match never {},
            Poll::Pending => panic!("in-memory upstream reported Pending"),
        }
    }
}

fn bench_relay(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("tokio runtime");
    let _in_runtime = rt.enter();
    let pricing = Catalog::embedded()
        .lookup(&["openai"], "gpt-4o-mini")
        .expect("gpt-4o-mini in the catalog")
        .pricing
        .clone();
    let pieces: Arc<[Bytes]> = awkward_pieces(OPENAI_STREAM).into();

    // Sanity: stripped output is smaller than the input, and has no usage.
    let stripped = relay(&pieces, false, &pricing);
    let with_usage = relay(&pieces, true, &pricing);
    assert!(stripped < OPENAI_STREAM.len(), "usage was not stripped");
    assert!(with_usage > OPENAI_STREAM.len(), "usage was not priced");

    let mut g = c.benchmark_group("relay");
    g.throughput(Throughput::Bytes(OPENAI_STREAM.len() as u64));
    g.bench_function("openai_stream_strip_usage", |b| {
        b.iter(|| relay(black_box(&pieces), false, &pricing))
    });
    g.bench_function("openai_stream_include_usage_priced", |b| {
        b.iter(|| relay(black_box(&pieces), true, &pricing))
    });
    g.finish();
}

/// A chat completion as an OpenAI-wire upstream returns it.
const COMPLETION: &[u8] = br#"{"id":"chatcmpl-BtVv3cF0hQ2pLr8XkYq7Zm1n4sT9a","object":"chat.completion","created":1752710400,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"Ferro is an OpenAI-compatible gateway: it routes each request to a provider, translates it, and prices it.","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":31,"completion_tokens":20,"total_tokens":51,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_34a54ae93c"}"#;
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn bench_extras(c: &mut Criterion) {
    let cost = Some(0.000_016_65);
    let usage = r#"{"prompt_tokens":31,"completion_tokens":20,"total_tokens":51,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}"#;
    assert!(usage_with_cost(usage, cost, false).is_some());
    assert!(rewrite_body(COMPLETION, "openai", TRACE, cost, false).is_some());

    let mut g = c.benchmark_group("extras");
    g.throughput(Throughput::Bytes(COMPLETION.len() as u64));
    g.bench_function("rewrite_body/chat_completion", |b| {
        b.iter(|| rewrite_body(black_box(COMPLETION), "openai", TRACE, cost, false))
    });
    g.bench_function("body_usage+rewrite_laid_out/chat_completion", |b| {
        b.iter(|| {
            let (_, _, layout) = body_usage(black_box(COMPLETION)).expect("fixture body");
            let layout = layout.expect("fixture layout");
            rewrite_laid_out(COMPLETION, &layout, "openai", TRACE, cost)
        })
    });
    g.throughput(Throughput::Bytes(usage.len() as u64));
    g.bench_function("usage_with_cost", |b| {
        b.iter(|| usage_with_cost(black_box(usage), cost, false))
    });
    g.finish();
}

criterion_group!(benches, bench_relay, bench_extras);
criterion_main!(benches);
