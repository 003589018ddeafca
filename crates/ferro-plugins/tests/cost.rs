//! Per-request cost of a realistic plugin profile, in process (no HTTP):
//! `cargo test -p ferro-plugins --release --test cost -- --ignored --nocapture`.
//! Also a sanity bound that runs by default.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ferro_config::PluginEntry;
use ferro_plugins::{Chain, Outcome, RequestMeta, ResponseView, Shared, Surface};
use ferro_types::usage::TokenCounts;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn profile() -> Arc<Chain> {
    let e = |name: &str, stage: &str, config: serde_json::Value| PluginEntry {
        name: name.to_owned(),
        kind: String::new(),
        stage: stage.to_owned(),
        enabled: true,
        config,
    };
    let budget =
        json!({"spend_limit_usd": 1e9, "input_per_m_tokens": 0.15, "output_per_m_tokens": 0.6});
    let secrets = json!({});
    let entries = vec![
        e("response-cache", "before_request", json!({})),
        e(
            "rate-limit",
            "before_request",
            json!({"requests_per_second": 1e9, "burst": 1e9, "key_rpm": 1e9}),
        ),
        e("budget", "before_request", budget.clone()),
        e("max-token", "before_request", json!({"max_tokens": 4096})),
        e("prompt-shield", "before_request", json!({})),
        e("pii-redact", "before_request", json!({"action": "block"})),
        e("secret-scan", "before_request", secrets.clone()),
        e(
            "word-filter",
            "before_request",
            json!({"blocked_words": ["alpha", "beta", "gamma"]}),
        ),
        e("secret-scan", "after_request", secrets),
        e("budget", "after_request", budget),
        e("response-cache", "after_request", json!({})),
    ];
    Arc::new(Chain::build(&entries, &Shared::local(None)).unwrap().0)
}

/// Mean time of one request through before + after + log.
async fn per_request(n: usize) -> Duration {
    let chain = profile();
    let answer = serde_json::to_vec(&json!({"choices": [{"index": 0, "message": {"role": "assistant",
        "content": "Here is a summary of the quarterly report with the main figures and next steps."}}]}))
    .unwrap();
    let t0 = Instant::now();
    for i in 0..n {
        // A distinct prompt each time, so the cache always misses and stores.
        let body = serde_json::to_vec(&json!({"model": "gpt-4o-mini", "max_tokens": 256, "messages": [
            {"role": "system", "content": "You are a helpful assistant for the finance team."},
            {"role": "user", "content": format!("Summarise the attached quarterly report #{i} in five bullet points, keep it short.")}]}))
        .unwrap();
        let meta = RequestMeta {
            trace_id: "t".into(),
            api_key_id: "key".into(),
            surface: Surface::Chat,
            model: "gpt-4o-mini".into(),
            stream: false,
        };
        let mut f = chain.start(meta, Some(body.into())).unwrap();
        f.before().await.unwrap();
        let usage = TokenCounts {
            prompt: 40,
            completion: 20,
            total: 60,
            ..TokenCounts::default()
        };
        f.after(&ResponseView::new(&answer, usage, false))
            .await
            .unwrap();
        f.finish(Outcome {
            status: 200,
            usage: Some(usage),
            delivered: true,
            ..Outcome::default()
        })
        .await;
    }
    t0.elapsed() / n as u32
}

#[tokio::test]
async fn realistic_profile_is_cheap() {
    let d = per_request(200).await;
    // Debug builds on a shared 2-core machine: a generous bound.
    assert!(d < Duration::from_millis(5), "{d:?} per request");
}

#[tokio::test]
#[ignore]
async fn bench_realistic_profile() {
    per_request(2_000).await;
    let d = per_request(20_000).await;
    println!(
        "realistic plugin profile: {:.1} µs per request",
        d.as_secs_f64() * 1e6
    );
    for s in ferro_plugins::stats() {
        if s.calls > 0 {
            println!(
                "{:>15} {:>14}: {:>7.2} µs mean",
                s.plugin,
                s.stage,
                s.total_seconds / s.calls as f64 * 1e6
            );
        }
    }
}
