//! Two gateway instances sharing the real Redis at 127.0.0.1:6379 enforce one
//! rate limit, one budget and one cache; when Redis stops answering mid-run,
//! the configured fallback applies and the gateway keeps serving. Every test
//! uses its own key prefix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use ferro_mock_upstream::MockUpstream;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const CHAT: &str = "/v1/chat/completions";
const REDIS: &str = "127.0.0.1:6379";

fn prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("ferro-test:{test}:{nanos}:")
}

fn config(plugins: &str) -> String {
    format!("targets:\n  - virtual_key: openai\nplugins:\n{plugins}")
}

/// Two gateways in front of `up`, sharing Redis at `redis` under `prefix`.
async fn pair(up: &MockUpstream, redis: &str, prefix: &str, mode: &str, plugins: &str) -> (Gw, Gw) {
    let url = format!("redis://{redis}");
    let env = [
        ("OPENAI_API_KEY", "sk-up"),
        ("OPENAI_BASE_URL", &up.url() as &str),
        ("REDIS_URL", &url),
        ("FERRO_REDIS_PREFIX", prefix),
        ("FERRO_REDIS_FAIL_MODE", mode),
    ];
    let a = Gw::start_with_config(&env, Some(&config(plugins))).await;
    let b = Gw::start_with_config(&env, Some(&config(plugins))).await;
    (a, b)
}

/// `n` concurrent chat requests, alternating between the two gateways.
async fn burst(gws: [&Gw; 2], n: usize, body: &Value) -> Vec<u16> {
    let mut tasks = Vec::new();
    for i in 0..n {
        let req = gws[i % 2].post(CHAT).body(body.to_string());
        tasks.push(tokio::spawn(async move {
            req.send().await.unwrap().status().as_u16()
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn count(s: &[u16], code: u16) -> usize {
    s.iter().filter(|x| **x == code).count()
}

#[tokio::test]
async fn two_instances_enforce_one_rate_limit() {
    let up = MockUpstream::start().await.unwrap();
    let (a, b) = pair(
        &up,
        REDIS,
        &prefix("rl"),
        "closed",
        "  - {name: rate-limit, type: ratelimit, stage: before_request, enabled: true,\n     config: {requests_per_second: 0.001, burst: 9}}\n",
    )
    .await;
    let statuses = burst([&a, &b], 60, &chat_body("gpt-4o-mini", "hi")).await;
    assert_eq!(count(&statuses, 200), 9, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 51, "{statuses:?}");
    assert_eq!(up.hits_for(CHAT), 9);
}

#[tokio::test]
async fn two_instances_share_one_budget_and_one_cache() {
    let up = MockUpstream::start().await.unwrap();
    let body = json!({"model": "gpt-4o-mini", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]});
    let probe = Gw::start(&[("OPENAI_API_KEY", "sk-up"), ("OPENAI_BASE_URL", &up.url())]).await;
    let v: Value = probe.chat(body.clone()).await.json().await.unwrap();
    let unit = (v["usage"]["prompt_tokens"].as_f64().unwrap()
        + v["usage"]["completion_tokens"].as_f64().unwrap())
        * 1000.0
        / 1e6;
    let estimate = ((body.to_string().len() / 4 + 1) as f64 + 8.0) * 1000.0 / 1e6;
    let limit = unit * 10.5;
    let budget = format!(
        "  - {{name: budget, type: ratelimit, stage: before_request, enabled: true, config: {{spend_limit_usd: {limit}, input_per_m_tokens: 1000, output_per_m_tokens: 1000}}}}\n  - {{name: budget, type: ratelimit, stage: after_request, enabled: true, config: {{spend_limit_usd: {limit}, input_per_m_tokens: 1000, output_per_m_tokens: 1000}}}}\n"
    );
    let (a, b) = pair(&up, REDIS, &prefix("budget"), "closed", &budget).await;
    let before = up.hits_for(CHAT);
    let statuses = burst([&a, &b], 120, &body).await;
    let mut admitted = count(&statuses, 200);
    assert_eq!(admitted + count(&statuses, 402), 120, "{statuses:?}");
    assert!(admitted >= 1, "{statuses:?}");
    // Then alternate instances until the shared budget is spent.
    for i in 0..40 {
        let r = [&a, &b][i % 2].chat(body.clone()).await;
        if r.status() == 402 {
            break;
        }
        assert_eq!(r.status(), 200);
        admitted += 1;
    }
    let spent = admitted as f64 * unit;
    assert!(
        spent >= limit,
        "the whole budget was usable: {spent} < {limit}"
    );
    assert!(
        spent <= limit + estimate + 1e-9,
        "spent {spent} > {limit} + {estimate}"
    );
    assert_eq!(up.hits_for(CHAT) - before, admitted);
    // Both instances see the exhausted budget.
    expect_error(a.chat(body.clone()).await, 402, "insufficient_quota").await;
    expect_error(b.chat(body).await, 402, "insufficient_quota").await;

    // One cache: primed through one instance, hit through the other.
    let cache = "  - {name: response-cache, type: transform, stage: before_request, enabled: true, config: {max_age: 60}}\n  - {name: response-cache, type: transform, stage: after_request, enabled: true, config: {max_age: 60}}\n";
    let (c, d) = pair(&up, REDIS, &prefix("cache"), "open", cache).await;
    let q = chat_body("gpt-4o-mini", "shared cache");
    let hits = up.hits_for(CHAT);
    assert_eq!(c.chat(q.clone()).await.headers()["x-gateway-cache"], "miss");
    let r = d.chat(q).await;
    assert_eq!(r.headers()["x-gateway-cache"], "hit");
    assert_eq!(up.hits_for(CHAT), hits + 1);
}

/// A TCP relay to Redis that a test can cut, as if Redis went away.
struct Cuttable {
    addr: String,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Cuttable {
    async fn start() -> Cuttable {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let t = tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = l.accept().await {
                let h = tokio::spawn(async move {
                    if let Ok(mut out) = tokio::net::TcpStream::connect(REDIS).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
                t.lock().unwrap().push(h);
            }
        });
        Cuttable {
            addr,
            tasks,
            accept,
        }
    }

    fn cut(&self) {
        self.accept.abort();
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

#[tokio::test]
async fn redis_outage_falls_back_as_configured() {
    let limit = "  - {name: rate-limit, type: ratelimit, stage: before_request, enabled: true,\n     config: {requests_per_second: 0.001, burst: 4}}\n";
    // Fail open: the instance keeps enforcing with its own buckets.
    let up = MockUpstream::start().await.unwrap();
    let relay = Cuttable::start().await;
    let (a, _b) = pair(&up, &relay.addr, &prefix("open"), "open", limit).await;
    assert_eq!(a.chat(chat_body("gpt-4o-mini", "hi")).await.status(), 200);
    assert_eq!(a.chat(chat_body("gpt-4o-mini", "hi")).await.status(), 200);
    let (errors_before, fallbacks_before) = ferro_plugins::shared::redis_counters();
    relay.cut();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            a.chat(chat_body("gpt-4o-mini", "hi"))
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(
        count(&statuses, 200),
        4,
        "local buckets took over with a fresh burst: {statuses:?}"
    );
    assert_eq!(count(&statuses, 429), 2, "{statuses:?}");
    let (errors, fallbacks) = ferro_plugins::shared::redis_counters();
    assert!(
        errors > errors_before && fallbacks >= fallbacks_before + 6,
        "counted"
    );

    // Fail closed: requests needing the shared state are refused, the rest of the gateway serves.
    let up = MockUpstream::start().await.unwrap();
    let relay = Cuttable::start().await;
    let (c, _d) = pair(&up, &relay.addr, &prefix("closed"), "closed", limit).await;
    assert_eq!(c.chat(chat_body("gpt-4o-mini", "hi")).await.status(), 200);
    relay.cut();
    let msg = expect_error(
        c.chat(chat_body("gpt-4o-mini", "hi")).await,
        500,
        "plugin_error",
    )
    .await;
    assert_eq!(msg, "plugin rate-limit failed (before_request)");
    assert_eq!(up.hits_for(CHAT), 1);
    let health = c
        .client
        .get(format!("{}/livez", c.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "the gateway keeps serving");
}
