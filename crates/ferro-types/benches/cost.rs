//! Pricing one response (`ferro_types::catalog` + `ferro_types::cost`): the
//! catalog lookup the gateway does for the served model, reading the token
//! counts from the upstream `usage` object, and the cost formula.
//!
//! The catalog is the embedded snapshot (compiled-in tables; the entries used
//! are built on their first lookup, outside the timings).
#![allow(clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use ferro_types::catalog::Catalog;
use ferro_types::cost::{cost_usd, CostKind};
use ferro_types::usage::TokenCounts;
use std::hint::black_box;

/// An OpenAI `usage` object as a chat completion reports it.
const OPENAI_USAGE: &str = r#"{"prompt_tokens":31,"completion_tokens":20,"total_tokens":51,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}"#;

/// The normalised usage a translating adapter (Anthropic, cache write + read)
/// emits: `prompt` includes both cache counts.
const CACHE_USAGE: &str = r#"{"prompt_tokens":4321,"completion_tokens":9,"total_tokens":4330,"prompt_tokens_details":{"cached_tokens":2500},"cache_read_tokens":2500,"cache_write_tokens":1800}"#;

fn bench_cost(c: &mut Criterion) {
    let catalog = Catalog::embedded();
    let mini = TokenCounts::from_usage_json(OPENAI_USAGE).expect("fixture usage");
    let cached = TokenCounts::from_usage_json(CACHE_USAGE).expect("fixture usage");
    assert_eq!(cached.cache_write, 1800);
    let p_mini = catalog
        .lookup(&["openai"], "gpt-4o-mini")
        .expect("gpt-4o-mini in the catalog")
        .pricing
        .clone();
    let p_haiku = catalog
        .lookup(&["anthropic"], "claude-3-5-haiku-20241022")
        .expect("claude-3-5-haiku in the catalog")
        .pricing
        .clone();
    assert!(cost_usd(&p_haiku, CostKind::Chat, &cached).is_some());

    let mut g = c.benchmark_group("cost");
    // The formula alone.
    g.bench_function("cost_usd_gpt-4o-mini", |b| {
        b.iter(|| cost_usd(black_box(&p_mini), CostKind::Chat, black_box(&mini)))
    });
    g.bench_function("cost_usd_claude_cache_tokens", |b| {
        b.iter(|| cost_usd(black_box(&p_haiku), CostKind::Chat, black_box(&cached)))
    });
    // Lookup under the instance's catalog provider, then price.
    g.bench_function("lookup+cost_gpt-4o-mini", |b| {
        b.iter(|| {
            catalog
                .lookup(black_box(&["openai"]), black_box("gpt-4o-mini"))
                .and_then(|e| cost_usd(&e.pricing, CostKind::Chat, black_box(&mini)))
        })
    });
    g.bench_function("lookup+cost_claude_cache_tokens", |b| {
        b.iter(|| {
            catalog
                .lookup(
                    black_box(&["anthropic"]),
                    black_box("claude-3-5-haiku-20241022"),
                )
                .and_then(|e| cost_usd(&e.pricing, CostKind::Chat, black_box(&cached)))
        })
    });
    // A provider whose catalog name misses: the bare-model-id fallback the
    // router's `pricing_entry` takes.
    g.bench_function("lookup_miss+by_model_id+cost_gpt-4o-mini", |b| {
        b.iter(|| {
            catalog
                .lookup(black_box(&["my-proxy"]), black_box("gpt-4o-mini"))
                .or_else(|| catalog.by_model_id(black_box("gpt-4o-mini")))
                .and_then(|e| cost_usd(&e.pricing, CostKind::Chat, black_box(&mini)))
        })
    });
    // What the stream relay does with the usage chunk: parse the counts, price.
    g.bench_function("usage_json+cost_gpt-4o-mini", |b| {
        b.iter(|| {
            TokenCounts::from_usage_json(black_box(OPENAI_USAGE))
                .and_then(|t| cost_usd(&p_mini, CostKind::Chat, &t))
        })
    });
    g.bench_function("usage_json+cost_claude_cache_tokens", |b| {
        b.iter(|| {
            TokenCounts::from_usage_json(black_box(CACHE_USAGE))
                .and_then(|t| cost_usd(&p_haiku, CostKind::Chat, &t))
        })
    });
    g.finish();
}

criterion_group!(benches, bench_cost);
criterion_main!(benches);
