//! The Redis scripts against the real Redis at 127.0.0.1:6379: two chains over
//! two `Shared` states (two "instances") enforce one limit. Each test uses its
//! own key prefix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ferro_config::PluginEntry;
use ferro_plugins::{Chain, Outcome, RequestMeta, Shared, Surface};
use ferro_types::usage::TokenCounts;
use serde_json::{json, Value};
use std::sync::Arc;

fn shared(prefix: &str) -> Shared {
    let p = prefix.to_owned();
    Shared::from_env(&move |k: &str| match k {
        "REDIS_URL" => Some("redis://127.0.0.1:6379".to_owned()),
        "FERRO_REDIS_PREFIX" => Some(p.clone()),
        "FERRO_REDIS_FAIL_MODE" => Some("closed".to_owned()),
        _ => None,
    })
    .unwrap()
}

fn prefix(test: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("ferro-plugins-test:{test}:{n}:")
}

fn chain(entries: &[(&str, &str, Value)], shared: &Shared) -> Arc<Chain> {
    let entries: Vec<PluginEntry> = entries
        .iter()
        .map(|(name, stage, config)| PluginEntry {
            name: (*name).to_owned(),
            kind: String::new(),
            stage: (*stage).to_owned(),
            enabled: true,
            config: config.clone(),
        })
        .collect();
    Arc::new(Chain::build(&entries, shared).unwrap().0)
}

fn meta(key: &str) -> RequestMeta {
    RequestMeta {
        trace_id: "t".into(),
        api_key_id: key.to_owned(),
        surface: Surface::Chat,
        model: "gpt-4o-mini".into(),
        stream: false,
    }
}

const BODY: &[u8] =
    br#"{"model":"gpt-4o-mini","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}"#;

#[tokio::test]
async fn one_token_bucket_across_instances() {
    let p = prefix("rl");
    let cfg = json!({"requests_per_second": 0.001, "burst": 5});
    let a = chain(
        &[("rate-limit", "before_request", cfg.clone())],
        &shared(&p),
    );
    let b = chain(&[("rate-limit", "before_request", cfg)], &shared(&p));
    let mut tasks = Vec::new();
    for i in 0..40 {
        let c = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            let mut f = c
                .start(meta("k"), Some(bytes::Bytes::from_static(BODY)))
                .unwrap();
            f.before().await.map_err(|e| e.to_api_error().status)
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(s) => assert_eq!(s, 429),
        }
    }
    assert_eq!(ok, 5);
}

#[tokio::test]
async fn budget_reservations_are_shared_and_settled() {
    let p = prefix("budget");
    // $1 per token: the estimate is ~(84/4+1) + 10 = 32 USD.
    let cfg = json!({"spend_limit_usd": 40, "input_per_m_tokens": 1e6, "output_per_m_tokens": 1e6});
    let entries = [
        ("budget", "before_request", cfg.clone()),
        ("budget", "after_request", cfg),
    ];
    let a = chain(&entries, &shared(&p));
    let b = chain(&entries, &shared(&p));
    let mut fa = a
        .start(meta("k"), Some(bytes::Bytes::from_static(BODY)))
        .unwrap();
    fa.before().await.unwrap();
    // The reservation made through `a` is visible to `b`: 32 < 40 admits one more...
    let mut fb = b
        .start(meta("k"), Some(bytes::Bytes::from_static(BODY)))
        .unwrap();
    fb.before().await.unwrap();
    // ...and now 64 in flight >= 40.
    let mut fc = b
        .start(meta("k"), Some(bytes::Bytes::from_static(BODY)))
        .unwrap();
    assert_eq!(fc.before().await.unwrap_err().to_api_error().status, 402);
    let used = |n| Outcome {
        status: 200,
        usage: Some(TokenCounts {
            prompt: n,
            total: n,
            ..TokenCounts::default()
        }),
        ..Outcome::default()
    };
    fa.finish(used(5)).await;
    fb.finish(used(5)).await;
    // 10 spent, nothing in flight.
    let mut fd = a
        .start(meta("k"), Some(bytes::Bytes::from_static(BODY)))
        .unwrap();
    fd.before().await.unwrap();
    fd.finish(used(35)).await;
    let mut fe = b
        .start(meta("k"), Some(bytes::Bytes::from_static(BODY)))
        .unwrap();
    let e = fe.before().await.unwrap_err().to_api_error();
    assert_eq!(e.status, 402);
    assert!(
        e.message.contains("spent $45.0000 of $40.00"),
        "{}",
        e.message
    );
    // Another key has its own budget.
    let mut other = a
        .start(meta("other"), Some(bytes::Bytes::from_static(BODY)))
        .unwrap();
    other.before().await.unwrap();
}

#[tokio::test]
async fn cache_entries_are_shared() {
    let p = prefix("cache");
    let entries = [
        ("response-cache", "before_request", json!({"max_age": 30})),
        ("response-cache", "after_request", json!({"max_age": 30})),
    ];
    let a = chain(&entries, &shared(&p));
    let b = chain(&entries, &shared(&p));
    let mut f = a
        .start(meta("k"), Some(bytes::Bytes::from_static(BODY)))
        .unwrap();
    f.before().await.unwrap();
    assert!(f.cache_hit().is_none());
    let answer = ferro_plugins::Cached {
        body: ferro_plugins::CachedBody::Sse(vec![bytes::Bytes::from_static(b"{\"x\":1}")]),
        provider: "p".into(),
        target: "t".into(),
        usage: TokenCounts::default(),
    };
    f.finish(Outcome {
        status: 200,
        cacheable: Some(answer.clone()),
        ..Outcome::default()
    })
    .await;
    let mut g = b
        .start(meta("k"), Some(bytes::Bytes::from_static(BODY)))
        .unwrap();
    g.before().await.unwrap();
    assert_eq!(g.cache_hit().map(|c| c.as_ref().clone()), Some(answer));
    let mut h = b
        .start(meta("other-key"), Some(bytes::Bytes::from_static(BODY)))
        .unwrap();
    h.before().await.unwrap();
    assert!(h.cache_hit().is_none(), "never across keys");
}
