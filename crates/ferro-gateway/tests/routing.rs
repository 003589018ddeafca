//! Strategies and resilience (CONTRACT §5.2–§5.3) against counting mock
//! upstreams: exact hit counts for retries and failover, weight splits, breaker
//! transitions, queue shedding, Retry-After, stream failover before the first
//! byte, and hot reload under traffic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use ferro_mock_upstream::{Fault, MockOptions, MockUpstream};
use serde_json::json;
use std::time::{Duration, Instant};

fn fault(status: u16) -> Fault {
    Fault::Status {
        status,
        body: None,
        retry_after: None,
    }
}

/// Two OpenAI-wire named instances `a` and `b` serving `shared-model`.
async fn two(strategy: &str, extra_targets: &str) -> (MockUpstream, MockUpstream, Gw) {
    let a = MockUpstream::start().await.unwrap();
    let b = MockUpstream::start().await.unwrap();
    let cfg = format!(
        r#"
strategy: {strategy}
providers:
  - {{name: a, type: openai, base_url: "{}/v1", api_key: ka, models: [shared-model]}}
  - {{name: b, type: openai, base_url: "{}/v1", api_key: kb, models: [shared-model]}}
targets:
  - virtual_key: a
{extra_targets}
  - virtual_key: b
"#,
        a.url(),
        b.url()
    );
    let gw = Gw::start_with_config(&[], Some(&cfg)).await;
    (a, b, gw)
}

#[tokio::test]
async fn fallback_advances_on_failure_with_exact_hits() {
    let (a, b, gw) = two("{mode: fallback}", "").await;
    a.set_fault(fault(500));
    let r = gw.chat(chat_body("shared-model", "x")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-gateway-provider"], "b");
    assert_eq!(r.headers()["x-gateway-attempts"], "2");
    assert_eq!((a.hits(), b.hits()), (1, 1));
    // client errors do not fail over
    a.set_fault(fault(400));
    let r = gw.chat(chat_body("shared-model", "x")).await;
    expect_error(r, 400, "invalid_request").await;
    assert_eq!((a.hits(), b.hits()), (2, 1));
}

#[tokio::test]
async fn single_mode_never_fails_over() {
    let (a, b, gw) = two("{mode: single}", "").await;
    a.set_fault(fault(503));
    expect_error(
        gw.chat(chat_body("shared-model", "x")).await,
        502,
        "upstream_error",
    )
    .await;
    assert_eq!((a.hits(), b.hits()), (1, 0));
}

#[tokio::test]
async fn retries_then_succeeds_with_exact_attempts() {
    let (a, b, gw) = two(
        "{mode: fallback}",
        "    retry: {attempts: 3, initial_backoff_ms: 10}",
    )
    .await;
    a.push_fault(fault(503));
    a.push_fault(fault(502));
    let r = gw.chat(chat_body("shared-model", "x")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-gateway-attempts"], "3");
    assert_eq!((a.hits(), b.hits()), (3, 0));
    // on_status_codes restricts what is retried
    let (a, b, gw) = two(
        "{mode: single}",
        "    retry: {attempts: 3, on_status_codes: [503], initial_backoff_ms: 1}",
    )
    .await;
    a.push_fault(fault(500));
    expect_error(
        gw.chat(chat_body("shared-model", "x")).await,
        502,
        "upstream_error",
    )
    .await;
    assert_eq!((a.hits(), b.hits()), (1, 0));
}

#[tokio::test]
async fn upstream_retry_after_is_honoured() {
    let (a, _b, gw) = two(
        "{mode: single}",
        "    retry: {attempts: 2, initial_backoff_ms: 1}",
    )
    .await;
    a.push_fault(Fault::Status {
        status: 429,
        body: None,
        retry_after: Some("1".into()),
    });
    let t0 = Instant::now();
    let r = gw.chat(chat_body("shared-model", "x")).await;
    assert_eq!(r.status(), 200);
    assert!(
        t0.elapsed() >= Duration::from_millis(950),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(a.hits(), 2);
}

#[tokio::test]
async fn loadbalance_weights_split_over_1000_requests() {
    let a = MockUpstream::start().await.unwrap();
    let b = MockUpstream::start().await.unwrap();
    let c = MockUpstream::start().await.unwrap();
    let cfg = format!(
        r#"
strategy: {{mode: loadbalance}}
providers:
  - {{name: a, type: openai, base_url: "{}/v1", api_key: k, models: [m]}}
  - {{name: b, type: openai, base_url: "{}/v1", api_key: k, models: [m]}}
  - {{name: c, type: openai, base_url: "{}/v1", api_key: k, models: [m]}}
targets:
  - {{virtual_key: a, weight: 1}}
  - {{virtual_key: b, weight: 3}}
  - {{virtual_key: c, weight: 0}}
"#,
        a.url(),
        b.url(),
        c.url()
    );
    let gw = Gw::start_with_config(&[], Some(&cfg)).await;
    let body = chat_body("m", "x").to_string();
    for _ in 0..1000 {
        let r = gw
            .post("/v1/chat/completions")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(c.hits(), 0, "weight 0 drains");
    assert_eq!(a.hits() + b.hits(), 1000);
    let share = b.hits() as f64 / 1000.0;
    assert!((share - 0.75).abs() < 0.05, "b share {share}");
}

#[tokio::test]
async fn ab_test_variants_split() {
    let (a, b, gw) = two(
        "{mode: ab-test, ab_variants: [{target_key: a, weight: 20, label: control}, {target_key: b, weight: 80, label: treatment}]}",
        "",
    )
    .await;
    let body = chat_body("shared-model", "x").to_string();
    for _ in 0..1000 {
        gw.post("/v1/chat/completions")
            .body(body.clone())
            .send()
            .await
            .unwrap();
    }
    let share = a.hits() as f64 / 1000.0;
    assert!((share - 0.2).abs() < 0.05, "a share {share}");
    assert_eq!(a.hits() + b.hits(), 1000);
}

#[tokio::test]
async fn least_latency_prefers_the_fast_target() {
    let slow = MockUpstream::start_with(MockOptions {
        latency: Duration::from_millis(60),
        ..Default::default()
    })
    .await
    .unwrap();
    let fast = MockUpstream::start().await.unwrap();
    let cfg = format!(
        r#"
strategy: {{mode: least-latency}}
providers:
  - {{name: slow, type: openai, base_url: "{}/v1", api_key: k, models: [m]}}
  - {{name: fast, type: openai, base_url: "{}/v1", api_key: k, models: [m]}}
targets: [{{virtual_key: slow}}, {{virtual_key: fast}}]
"#,
        slow.url(),
        fast.url()
    );
    let gw = Gw::start_with_config(&[], Some(&cfg)).await;
    for _ in 0..40 {
        gw.chat(chat_body("m", "x")).await;
    }
    // each is tried once while unseen, then the fast one wins every time
    assert_eq!(slow.hits(), 1, "slow hits {}", slow.hits());
    assert_eq!(fast.hits(), 39);
}

#[tokio::test]
async fn cost_optimized_orders_by_catalog_price() {
    let samba = MockUpstream::start().await.unwrap();
    let cerebras = MockUpstream::start().await.unwrap();
    let cfg = "strategy: {mode: cost-optimized}\ntargets:\n  - virtual_key: sambanova\n  - virtual_key: cerebras\n";
    let gw = Gw::start_with_config(
        &[
            ("SAMBANOVA_API_KEY", "k"),
            ("SAMBANOVA_BASE_URL", &samba.url()),
            ("CEREBRAS_API_KEY", "k"),
            ("CEREBRAS_BASE_URL", &cerebras.url()),
        ],
        Some(cfg),
    )
    .await;
    // gpt-oss-120b: cerebras 0.35 vs sambanova 3.0 per million input tokens
    let r = gw.chat(chat_body("gpt-oss-120b", "x")).await;
    assert_eq!(r.headers()["x-gateway-provider"], "cerebras");
    cerebras.set_fault(fault(500));
    let r = gw.chat(chat_body("gpt-oss-120b", "x")).await;
    assert_eq!(
        r.headers()["x-gateway-provider"],
        "sambanova",
        "pool mode falls back"
    );
}

#[tokio::test]
async fn conditional_and_content_based_routing() {
    let (a, b, gw) = two(
        "{mode: conditional, conditions: [{key: model_prefix, value: shared, target_key: b}]}",
        "",
    )
    .await;
    gw.chat(chat_body("shared-model", "x")).await;
    assert_eq!((a.hits(), b.hits()), (0, 1));
    let (a, b, gw) = two(
        "{mode: content-based, content_conditions: [{type: prompt_regex, value: '(?i)urgent', target_key: b}]}",
        "",
    )
    .await;
    gw.chat(chat_body("shared-model", "this is URGENT")).await;
    gw.chat(chat_body("shared-model", "relaxed")).await;
    assert_eq!((a.hits(), b.hits()), (1, 1));
}

#[tokio::test]
async fn circuit_breaker_open_half_open_closed() {
    let (a, b, gw) = two(
        "{mode: fallback}",
        "    circuit_breaker: {failure_threshold: 2, success_threshold: 1, timeout: 300ms}",
    )
    .await;
    a.set_fault(fault(500));
    for _ in 0..2 {
        assert_eq!(gw.chat(chat_body("shared-model", "x")).await.status(), 200);
    }
    assert_eq!((a.hits(), b.hits()), (2, 2));
    let h: serde_json::Value = gw
        .client
        .get(format!("{}/health", gw.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let a_state = h["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "a")
        .unwrap()["circuit"]
        .clone();
    assert_eq!(a_state, "open");
    // open: a is skipped entirely
    gw.chat(chat_body("shared-model", "x")).await;
    assert_eq!((a.hits(), b.hits()), (2, 3));
    // after the timeout one probe goes through; success closes the circuit
    a.clear_faults();
    tokio::time::sleep(Duration::from_millis(350)).await;
    gw.chat(chat_body("shared-model", "x")).await;
    assert_eq!((a.hits(), b.hits()), (3, 3));
    gw.chat(chat_body("shared-model", "x")).await;
    assert_eq!(a.hits(), 4, "closed again");
}

#[tokio::test]
async fn all_circuits_open_is_503() {
    let (a, _b, gw) = two(
        "{mode: single}",
        "    circuit_breaker: {failure_threshold: 1, timeout: 30s}",
    )
    .await;
    a.set_fault(fault(500));
    gw.chat(chat_body("shared-model", "x")).await;
    let r = gw.chat(chat_body("shared-model", "x")).await;
    // single mode: `a` is the only candidate it would use; open → 503, no call
    assert!(r.headers().contains_key("retry-after"));
    expect_error(r, 503, "upstream_unavailable").await;
    assert_eq!(a.hits(), 1);
}

#[tokio::test]
async fn concurrency_queue_sheds_with_429() {
    let slow = MockUpstream::start_with(MockOptions {
        latency: Duration::from_millis(300),
        ..Default::default()
    })
    .await
    .unwrap();
    let cfg = format!(
        "strategy: {{mode: single}}\nproviders:\n  - {{name: s, type: openai, base_url: \"{}/v1\", api_key: k, models: [m]}}\ntargets:\n  - virtual_key: s\n    concurrency: {{max_concurrency: 1, queue_size: 1}}\n",
        slow.url()
    );
    let gw = Gw::start_with_config(&[], Some(&cfg)).await;
    let body = chat_body("m", "x").to_string();
    let reqs: Vec<_> = (0..3)
        .map(|_| gw.post("/v1/chat/completions").body(body.clone()).send())
        .collect();
    let results = futures_util::future::join_all(reqs).await;
    let mut statuses: Vec<u16> = results
        .iter()
        .map(|r| r.as_ref().unwrap().status().as_u16())
        .collect();
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        vec![200, 200, 429],
        "one in flight, one queued, one shed"
    );
    let shed = results
        .into_iter()
        .map(|r| r.unwrap())
        .find(|r| r.status() == 429)
        .unwrap();
    expect_error(shed, 429, "provider_saturated").await;
    assert_eq!(slow.hits(), 2);
}

#[tokio::test]
async fn stream_fails_over_before_first_byte() {
    let (a, b, gw) = two("{mode: fallback}", "").await;
    a.set_fault(Fault::DropConnection);
    let r = gw.chat(json!({"model":"shared-model","stream":true,"messages":[{"role":"user","content":"x"}]})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-gateway-provider"], "b");
    let payloads = sse_payloads(r).await;
    assert_eq!(payloads.last().map(String::as_str), Some("[DONE]"));
    assert_eq!((a.hits(), b.hits()), (1, 1));
    // after the first byte there is no failover: an error frame ends the stream
    a.clear_faults();
    a.push_fault(Fault::StreamThenError { after_chunks: 2 });
    let r = gw.chat(json!({"model":"shared-model","stream":true,"messages":[{"role":"user","content":"x"}]})).await;
    assert_eq!(r.headers()["x-gateway-provider"], "a");
    let payloads = sse_payloads(r).await;
    assert!(payloads.last().unwrap().contains("stream_error"));
    assert_eq!(b.hits(), 1);
}

#[tokio::test]
async fn embeddings_use_the_same_pipeline() {
    let a = MockUpstream::start().await.unwrap();
    let b = MockUpstream::start().await.unwrap();
    let cfg = format!(
        "strategy: {{mode: fallback}}\nproviders:\n  - {{name: a, type: openai, base_url: \"{}/v1\", api_key: k, models: [emb]}}\n  - {{name: b, type: openai, base_url: \"{}/v1\", api_key: k, models: [emb]}}\ntargets:\n  - virtual_key: a\n    retry: {{attempts: 2, initial_backoff_ms: 1}}\n  - virtual_key: b\n",
        a.url(),
        b.url()
    );
    let gw = Gw::start_with_config(&[], Some(&cfg)).await;
    a.set_fault(fault(503));
    let r = gw
        .post("/v1/embeddings")
        .body(r#"{"model":"emb","input":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-gateway-attempts"], "3");
    assert_eq!((a.hits(), b.hits()), (2, 1));
}

#[tokio::test]
async fn reload_under_traffic_loses_nothing() {
    let a = MockUpstream::start().await.unwrap();
    let b = MockUpstream::start().await.unwrap();
    let cfg_for = |name: &str| {
        format!(
            "providers:\n  - {{name: a, type: openai, base_url: \"{}/v1\", api_key: k, models: [m]}}\n  - {{name: b, type: openai, base_url: \"{}/v1\", api_key: k, models: [m]}}\ntargets:\n  - virtual_key: {name}\n",
            a.url(),
            b.url()
        )
    };
    let gw = Gw::start_with_config(&[], Some(&cfg_for("a"))).await;
    let path = gw.state.settings.config_path.clone().unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let client = gw.client.clone();
        let url = format!("{}/v1/chat/completions", gw.url);
        let stop = stop.clone();
        workers.push(tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = client
                    .post(&url)
                    .bearer_auth(KEY)
                    .header("content-type", "application/json")
                    .body(chat_body("m", "x").to_string())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200, "request failed during reload");
                let p = r.headers()["x-gateway-provider"]
                    .to_str()
                    .unwrap()
                    .to_owned();
                assert!(p == "a" || p == "b");
                n += 1;
            }
            n
        }));
    }
    for i in 0..10 {
        tokio::time::sleep(Duration::from_millis(30)).await;
        std::fs::write(&path, cfg_for(if i % 2 == 0 { "b" } else { "a" })).unwrap();
        let env = |_: &str| None;
        ferro_gateway::reload(&gw.state, &env).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(30)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = 0;
    for w in workers {
        total += w.await.unwrap();
    }
    assert!(total > 20, "traffic flowed: {total}");
    assert_eq!(a.hits() + b.hits(), total as usize);
    assert!(a.hits() > 0 && b.hits() > 0);
    // a config that fails validation is refused and the running one stays
    std::fs::write(&path, "targets: []\n").unwrap();
    assert!(ferro_gateway::reload(&gw.state, &|_: &str| None).is_err());
    assert_eq!(gw.chat(chat_body("m", "x")).await.status(), 200);
}

#[tokio::test]
async fn config_file_changes_are_picked_up() {
    let a = MockUpstream::start().await.unwrap();
    let b = MockUpstream::start().await.unwrap();
    let cfg_for = |name: &str| {
        format!(
            "providers:\n  - {{name: a, type: openai, base_url: \"{}/v1\", api_key: k, models: [m]}}\n  - {{name: b, type: openai, base_url: \"{}/v1\", api_key: k, models: [m]}}\ntargets:\n  - virtual_key: {name}\n",
            a.url(),
            b.url()
        )
    };
    let gw = Gw::start_with_config(&[], Some(&cfg_for("a"))).await;
    let env: ferro_gateway::Env = std::sync::Arc::new(|_| None);
    let watcher = tokio::spawn(ferro_gateway::watch_config(
        gw.state.clone(),
        env,
        Duration::from_millis(50),
    ));
    assert_eq!(
        gw.chat(chat_body("m", "x")).await.headers()["x-gateway-provider"],
        "a"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    std::fs::write(
        gw.state.settings.config_path.as_ref().unwrap(),
        cfg_for("b") + "# changed\n",
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let p = gw.chat(chat_body("m", "x")).await.headers()["x-gateway-provider"]
            .to_str()
            .unwrap()
            .to_owned();
        if p == "b" {
            break;
        }
        assert!(Instant::now() < deadline, "file change not picked up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    watcher.abort();
}

#[tokio::test]
async fn first_byte_timeout_fails_over() {
    let a = MockUpstream::start().await.unwrap();
    let b = MockUpstream::start().await.unwrap();
    let cfg = format!(
        "strategy: {{mode: fallback}}\nproviders:\n  - {{name: a, type: openai, base_url: \"{}/v1\", api_key: k, models: [m]}}\n  - {{name: b, type: openai, base_url: \"{}/v1\", api_key: k, models: [m]}}\ntargets: [{{virtual_key: a}}, {{virtual_key: b}}]\n",
        a.url(),
        b.url()
    );
    let gw = Gw::start_with_config(
        &[("FERRO_UPSTREAM_FIRST_BYTE_TIMEOUT", "200ms")],
        Some(&cfg),
    )
    .await;
    a.push_fault(Fault::Delay(Duration::from_secs(2)));
    let t0 = Instant::now();
    let r = gw.chat(chat_body("m", "x")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-gateway-provider"], "b");
    assert!(t0.elapsed() < Duration::from_millis(1500));
    // with nowhere to fail over, the timeout is a 504
    b.push_fault(Fault::Delay(Duration::from_secs(2)));
    a.push_fault(Fault::Delay(Duration::from_secs(2)));
    expect_error(gw.chat(chat_body("m", "x")).await, 504, "upstream_timeout").await;
}
