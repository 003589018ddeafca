//! The routing decision of one request: model resolution
//! (`Router::resolve`: alias, routing index) and the strategy's order of the
//! eligible targets (`Strategy::order`, with the catalog-price closure), then
//! the open-circuit filter — what `ferro_gateway::pipeline::plan` does, minus
//! its metrics note (that function takes the gateway's whole `Runtime`).
//!
//! Five OpenAI-wire targets that all serve `openai/gpt-oss-120b` at different
//! catalog prices (deepinfra, groq, novita, openrouter, together), under each
//! strategy. Routers are built once, outside the timings.
#![allow(clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use ferro_config::{Config, Format};
use ferro_providers::spec::Operation;
use ferro_router::registry;
use ferro_router::{RouteInput, Router, TargetId};
use ferro_types::catalog::Catalog;
use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

const MODEL: &str = "openai/gpt-oss-120b";

const TARGETS: &str = r#"
targets:
  - virtual_key: deepinfra
    weight: 1
  - virtual_key: groq
    weight: 2
  - virtual_key: novita
    weight: 3
  - virtual_key: openrouter
    weight: 4
  - virtual_key: together
    weight: 0.5
aliases: {fast: openai/gpt-oss-120b}
"#;

fn router(strategy: &str) -> Router {
    let yaml = format!("strategy:\n{strategy}\n{TARGETS}");
    let cfg = Config::load_str(&yaml, Format::Yaml).expect("bench config");
    let env: HashMap<&str, &str> = [
        "DEEPINFRA_API_KEY",
        "GROQ_API_KEY",
        "NOVITA_API_KEY",
        "OPENROUTER_API_KEY",
        "TOGETHER_API_KEY",
    ]
    .into_iter()
    .map(|k| (k, "bench-key"))
    .collect();
    let reg = registry::build(Some(&cfg), &|k| env.get(k).map(|v| (*v).to_owned()))
        .expect("bench registry");
    Router::build(reg, Some(&cfg), Catalog::embedded(), None).expect("bench router")
}

/// One routing decision, as `pipeline::plan` makes it.
fn decide(r: &Router, model: &str, prompt: Option<&str>) -> Option<Vec<TargetId>> {
    let res = r.resolve(model, Operation::Chat)?;
    let price = |t: TargetId| {
        r.instance(t)
            .and_then(|i| r.pricing_entry(i, &res.model))
            .and_then(|e| e.pricing.input_per_m_tokens)
    };
    let input = RouteInput {
        model: &res.model,
        prompt,
        est_prompt_tokens: 42,
    };
    let order = r
        .strategy
        .order(&res.candidates, input, &r.policies, &price);
    let healthy: Vec<TargetId> = order
        .into_iter()
        .filter(|t| !r.policies[*t].circuit_open())
        .collect();
    (!healthy.is_empty()).then_some(healthy)
}

fn bench_routing(c: &mut Criterion) {
    let strategies: [(&str, &str); 8] = [
        ("single", "  mode: single"),
        ("fallback", "  mode: fallback"),
        ("loadbalance_weighted", "  mode: loadbalance"),
        ("least-latency", "  mode: least-latency"),
        ("cost-optimized", "  mode: cost-optimized"),
        (
            "conditional",
            "  mode: conditional\n  conditions:\n    - {key: model_prefix, value: claude-, target_key: openrouter}\n    - {key: model_prefix, value: openai/, target_key: groq}",
        ),
        (
            "content-based_regex",
            "  mode: content-based\n  content_conditions:\n    - {type: prompt_contains, value: URGENT, target_key: groq}\n    - {type: prompt_regex, value: '(?i)\\b(invoice|refund)\\b', target_key: together}",
        ),
        (
            "ab-test",
            "  mode: ab-test\n  ab_variants:\n    - {target_key: groq, weight: 90}\n    - {target_key: together, weight: 10}",
        ),
    ];
    let prompt = "Hi! Please summarise the attached refund request in two sentences.";

    let mut g = c.benchmark_group("routing");
    for (name, strategy) in strategies {
        let r = router(strategy);
        assert_eq!(r.strategy.name(), name.split('_').next().unwrap_or(name));
        let p = r.strategy.needs_prompt().then_some(prompt);
        if name == "least-latency" {
            // Four targets with observed latencies, one still unseen.
            for (t, ms) in [(0, 410), (1, 120), (2, 260), (3, 330)] {
                for i in 0..64 {
                    r.policies[t]
                        .health
                        .latency
                        .record(Duration::from_millis(ms + i % 7));
                }
            }
        }
        let order = decide(&r, MODEL, p).expect("a routable model");
        assert!(!order.is_empty());
        g.bench_function(format!("5_targets/{name}"), |b| {
            b.iter(|| decide(&r, black_box(MODEL), black_box(p)))
        });
    }
    // Resolution alone, exact id and through an alias.
    let r = router("  mode: fallback");
    g.bench_function("resolve/exact_id", |b| {
        b.iter(|| {
            r.resolve(black_box(MODEL), Operation::Chat)
                .map(|x| x.candidates.len())
        })
    });
    g.bench_function("resolve/alias", |b| {
        b.iter(|| {
            r.resolve(black_box("fast"), Operation::Chat)
                .map(|x| x.candidates.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench_routing);
criterion_main!(benches);
