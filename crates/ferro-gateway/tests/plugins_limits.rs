//! Rate limits, budgets and the response cache over real HTTP (one node, no
//! Redis): exact admission under concurrency, no overspend, persistence across
//! a restart, cache hits that skip only the provider call.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use ferro_mock_upstream::MockUpstream;
use serde_json::{json, Value};
use std::sync::Arc;

const CHAT: &str = "/v1/chat/completions";

fn config(plugins: &str) -> String {
    format!("targets:\n  - virtual_key: openai\nplugins:\n{plugins}")
}

async fn gw_with(up: &MockUpstream, plugins: &str) -> Gw {
    Gw::start_with_config(
        &[("OPENAI_API_KEY", "sk-up"), ("OPENAI_BASE_URL", &up.url())],
        Some(&config(plugins)),
    )
    .await
}

/// Fires `n` identical chat requests at once; returns their statuses and one
/// successful body.
async fn burst(gw: &Gw, n: usize, body: Value) -> (Vec<u16>, Option<Value>) {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let req = gw.post(CHAT).body(body.to_string());
        tasks.push(tokio::spawn(async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            if status == 429 {
                assert!(
                    r.headers().get("retry-after").is_some(),
                    "429 carries Retry-After"
                );
            }
            if status == 402 {
                assert!(
                    r.headers().get("retry-after").is_none(),
                    "402 has no Retry-After"
                );
            }
            let v: Value = r.json().await.unwrap();
            (status, v)
        }));
    }
    let mut statuses = Vec::new();
    let mut ok = None;
    for t in tasks {
        let (s, v) = t.await.unwrap();
        if s == 200 {
            ok = Some(v);
        }
        statuses.push(s);
    }
    (statuses, ok)
}

fn count(statuses: &[u16], s: u16) -> usize {
    statuses.iter().filter(|x| **x == s).count()
}

#[tokio::test]
async fn rate_limit_admits_exactly_burst_under_50_concurrent() {
    let up = MockUpstream::start().await.unwrap();
    let gw = gw_with(
        &up,
        "  - {name: rate-limit, type: ratelimit, stage: before_request, enabled: true,\n     config: {requests_per_second: 0.001, burst: 7}}\n",
    )
    .await;
    let (statuses, _) = burst(&gw, 50, chat_body("gpt-4o-mini", "hi")).await;
    assert_eq!(count(&statuses, 200), 7, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 43, "{statuses:?}");
    assert_eq!(
        up.hits_for(CHAT),
        7,
        "refused requests never reached the upstream"
    );
    let msg = expect_error(
        gw.chat(chat_body("gpt-4o-mini", "hi")).await,
        429,
        "rate_limit_exceeded",
    )
    .await;
    assert_eq!(
        msg,
        "request rejected by rate-limit (before_request): rate limit exceeded"
    );
}

#[tokio::test]
async fn per_key_limits_are_per_key() {
    let up = MockUpstream::start().await.unwrap();
    let gw = gw_with(
        &up,
        "  - {name: rate-limit, type: ratelimit, stage: before_request, enabled: true,\n     config: {key_rpm: 2}}\n",
    )
    .await;
    let (_, other) = gw.create_key("other", &["read_only"]).await;
    let send = |key: String| {
        gw.client
            .post(format!("{}{CHAT}", gw.url))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(chat_body("gpt-4o-mini", "hi").to_string())
            .send()
    };
    for _ in 0..2 {
        assert_eq!(send(KEY.to_owned()).await.unwrap().status(), 200);
    }
    let r = send(KEY.to_owned()).await.unwrap();
    let msg = expect_error(r, 429, "rate_limit_exceeded").await;
    assert!(msg.ends_with("per-key rate limit exceeded"), "{msg}");
    assert_eq!(
        send(other).await.unwrap().status(),
        200,
        "another key has its own bucket"
    );
}

/// $1000 per million tokens in and out: costs are large enough to compare.
const BUDGET: &str = "  - {name: budget, type: ratelimit, stage: before_request, enabled: true,\n     config: {spend_limit_usd: LIMIT, input_per_m_tokens: 1000, output_per_m_tokens: 1000, store_id: e2e}}\n  - {name: budget, type: ratelimit, stage: after_request, enabled: true,\n     config: {spend_limit_usd: LIMIT, input_per_m_tokens: 1000, output_per_m_tokens: 1000, store_id: e2e}}\n";

fn cost_of(v: &Value) -> f64 {
    let u = &v["usage"];
    (u["prompt_tokens"].as_f64().unwrap() + u["completion_tokens"].as_f64().unwrap()) * 1000.0 / 1e6
}

#[tokio::test]
async fn budget_cannot_overspend_under_200_concurrent_and_survives_restart() {
    let up = MockUpstream::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let env = [
        ("OPENAI_API_KEY", "sk-up"),
        ("OPENAI_BASE_URL", &up.url() as &str),
    ];
    let body = json!({"model": "gpt-4o-mini", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]});
    // One request's reservation: body bytes / 4 + 1 prompt tokens and 8 completion tokens.
    let estimate = ((body.to_string().len() / 4 + 1) as f64 + 8.0) * 1000.0 / 1e6;
    let probe = Gw::start(&env).await;
    let unit = cost_of(&probe.chat(body.clone()).await.json().await.unwrap());
    assert!(
        unit > 0.0 && unit <= estimate,
        "actual {unit} within the estimate {estimate}"
    );
    // Room for 25 requests, then a burst of 200 at once.
    let limit = unit * 25.5;
    let plugins = BUDGET.replace("LIMIT", &limit.to_string());
    let gw = Gw::start_at(data.path(), &env, Some(&config(&plugins))).await;
    for _ in 0..20 {
        assert_eq!(gw.chat(body.clone()).await.status(), 200);
    }
    let (statuses, _) = burst(&gw, 200, body.clone()).await;
    assert!(
        count(&statuses, 402) > 0,
        "the budget ran out: {statuses:?}"
    );
    assert_eq!(
        count(&statuses, 200) + count(&statuses, 402),
        200,
        "{statuses:?}"
    );
    // Refusals during the burst may be due to reservations in flight; once they
    // settled, what is left of the budget still serves, until it is spent.
    let mut admitted = 20 + count(&statuses, 200);
    let mut last = String::new();
    for _ in 0..10 {
        let r = gw.chat(body.clone()).await;
        if r.status() == 402 {
            last = expect_error(r, 402, "insufficient_quota").await;
            break;
        }
        assert_eq!(r.status(), 200);
        admitted += 1;
    }
    assert!(
        last.starts_with("request rejected by budget (before_request): budget exceeded"),
        "{last}"
    );
    let spent = admitted as f64 * unit;
    assert!(
        spent <= limit + estimate + 1e-9,
        "spent {spent} > limit {limit} + one estimate {estimate} ({admitted} admitted)"
    );
    assert!(
        spent >= limit,
        "the whole budget was usable: {spent} < {limit}"
    );
    let hits = up.hits_for(CHAT);
    assert_eq!(
        hits,
        admitted + 1,
        "only admitted requests reached the upstream (+ the probe)"
    );

    // Restart on the same data directory: the spend is still there.
    let mut gw = gw;
    gw.begin_shutdown();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), &mut gw.task).await;
    drop(gw);
    let again = Gw::start_at(data.path(), &env, Some(&config(&plugins))).await;
    expect_error(again.chat(body).await, 402, "insufficient_quota").await;
    assert_eq!(up.hits_for(CHAT), hits, "no call after the restart");
}

const CACHE_AND_LIMIT: &str = concat!(
    "  - {name: response-cache, type: transform, stage: before_request, enabled: true, config: {max_age: 60, max_entries: 10}}\n",
    "  - {name: rate-limit, type: ratelimit, stage: before_request, enabled: true, config: {requests_per_second: 0.001, burst: 3}}\n",
    "  - {name: response-cache, type: transform, stage: after_request, enabled: true, config: {max_age: 60, max_entries: 10}}\n",
);

#[tokio::test]
async fn cache_hit_skips_only_the_provider_call() {
    let up = MockUpstream::start().await.unwrap();
    let sink = Arc::new(Captured::default());
    let gw = Gw::start_full(
        &[("OPENAI_API_KEY", "sk-up"), ("OPENAI_BASE_URL", &up.url())],
        Some(&config(CACHE_AND_LIMIT)),
        Some(sink.clone()),
    )
    .await;
    let body = chat_body("gpt-4o-mini", "cache me");
    let miss = gw.chat(body.clone()).await;
    assert_eq!(miss.headers()["x-gateway-cache"], "miss");
    let miss: Value = miss.json().await.unwrap();
    assert_eq!(up.hits_for(CHAT), 1);

    let hit = gw.chat(body.clone()).await;
    assert_eq!(hit.status(), 200);
    let h = hit.headers().clone();
    assert_eq!(h["x-gateway-cache"], "hit");
    assert_eq!(h["x-gateway-cost-usd"], "0.0");
    let v: Value = hit.json().await.unwrap();
    assert_eq!(up.hits_for(CHAT), 1, "the hit never reached the upstream");
    assert_eq!(v["choices"], miss["choices"]);
    assert_eq!(v["usage"]["cache_hit"], true);
    assert_eq!(v["usage"]["cost_usd"], 0.0);
    assert_eq!(v["provider"], "openai");
    assert_ne!(v["trace_id"], miss["trace_id"]);
    let recs = sink.all();
    assert_eq!(
        recs.iter().filter(|r| r.cache_hit).count(),
        1,
        "the record says cache_hit"
    );

    // The rate limit listed after the cache still runs on hits: 3rd hit → 429.
    assert_eq!(gw.chat(body.clone()).await.status(), 200);
    expect_error(gw.chat(body).await, 429, "rate_limit_exceeded").await;
    assert_eq!(up.hits_for(CHAT), 1);
}

#[tokio::test]
async fn streamed_answers_are_cached_and_replayed_as_sse() {
    let up = MockUpstream::start().await.unwrap();
    let gw = gw_with(&up, &CACHE_AND_LIMIT.replace("burst: 3", "burst: 100")).await;
    let body = json!({"model": "gpt-4o-mini", "stream": true, "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "stream me"}]});
    let first = gw.chat(body.clone()).await;
    assert_eq!(first.headers()["x-gateway-cache"], "miss");
    let first = sse_payloads(first).await;
    assert_eq!(up.hits_for(CHAT), 1);
    let second = gw.chat(body.clone()).await;
    assert_eq!(second.status(), 200);
    assert_eq!(second.headers()["x-gateway-cache"], "hit");
    assert_eq!(second.headers()["content-type"], "text/event-stream");
    let second = sse_payloads(second).await;
    assert_eq!(up.hits_for(CHAT), 1, "replayed without the upstream");
    assert_eq!(second.len(), first.len());
    assert_eq!(second.last().map(String::as_str), Some("[DONE]"));
    let content = |frames: &[String]| -> String {
        frames
            .iter()
            .filter_map(|f| serde_json::from_str::<Value>(f).ok())
            .filter_map(|v| {
                v.pointer("/choices/0/delta/content")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect()
    };
    assert_eq!(content(&second), content(&first));
    assert_eq!(content(&second), "mock reply to: stream me");
    let usage: Value = second
        .iter()
        .filter_map(|f| serde_json::from_str::<Value>(f).ok())
        .find(|v| v["usage"].is_object())
        .unwrap();
    assert_eq!(usage["usage"]["cache_hit"], true);
    assert_eq!(usage["usage"]["cost_usd"], 0.0);
    // A JSON request for the same conversation is a different entry.
    let mut json_body = body.clone();
    json_body["stream"] = json!(false);
    assert_eq!(
        gw.chat(json_body).await.headers()["x-gateway-cache"],
        "miss"
    );
    // Without include_usage the replay strips the usage chunk, like a live stream.
    let mut no_usage = body;
    no_usage.as_object_mut().unwrap().remove("stream_options");
    let frames = sse_payloads(gw.chat(no_usage).await).await;
    assert!(
        frames.iter().all(|f| !f.contains("\"usage\"")),
        "{frames:?}"
    );
    assert_eq!(up.hits_for(CHAT), 2);
}
