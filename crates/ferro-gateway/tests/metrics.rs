//! `GET /metrics` (CONTRACT §1.3, §6.6): scraped after known traffic against a
//! counting mock upstream; series and values checked exactly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use ferro_mock_upstream::{Fault, MockUpstream};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

type Labels = BTreeMap<String, String>;

/// Parsed exposition: `name` → list of (labels, value).
struct Scrape(BTreeMap<String, Vec<(Labels, f64)>>);

impl Scrape {
    fn parse(text: &str) -> Scrape {
        let mut m: BTreeMap<String, Vec<(Labels, f64)>> = BTreeMap::new();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|kv| !kv.is_empty())
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap();
                    (k.to_owned(), v.trim_matches('"').to_owned())
                })
                .collect();
            let v = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse().unwrap(),
            };
            m.entry(name.to_owned()).or_default().push((labels, v));
        }
        Scrape(m)
    }

    /// The value of the series `name` whose labels are exactly `labels`.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let want: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.0
            .get(name)?
            .iter()
            .find(|(l, _)| *l == want)
            .map(|(_, v)| *v)
    }

    fn series(&self, name: &str) -> usize {
        self.0.get(name).map_or(0, Vec::len)
    }
}

async fn scrape(gw: &Gw, key: &str) -> Scrape {
    let r = gw
        .client
        .get(format!("{}/metrics", gw.url))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    Scrape::parse(&r.text().await.unwrap())
}

fn fault(status: u16) -> Fault {
    Fault::Status {
        status,
        body: None,
        retry_after: None,
    }
}

async fn openai_gateway(up: &MockUpstream) -> Gw {
    let base = up.url();
    Gw::start(&[("OPENAI_API_KEY", "sk-test"), ("OPENAI_BASE_URL", &base)]).await
}

fn master_id() -> String {
    use sha2::{Digest, Sha256};
    format!("master-key:{}", &hex::encode(Sha256::digest(KEY))[..16])
}

#[tokio::test]
async fn scrape_after_known_traffic() {
    let up = MockUpstream::start().await.unwrap();
    let gw = openai_gateway(&up).await;
    let (mut prompt, mut completion, mut cost) = (0u64, 0u64, 0f64);
    for i in 0..3 {
        let r = gw
            .chat(chat_body("gpt-4o-mini", &format!("hello number {i}")))
            .await;
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        prompt += v["usage"]["prompt_tokens"].as_u64().unwrap();
        completion += v["usage"]["completion_tokens"].as_u64().unwrap();
        cost += v["usage"]["cost_usd"].as_f64().unwrap();
    }
    up.push_fault(fault(500));
    let r = gw.chat(chat_body("gpt-4o-mini", "fail")).await;
    expect_error(r, 502, "upstream_error").await;
    assert_eq!(up.hits(), 4, "one attempt per request");
    // refused before routing: malformed JSON
    let r = gw
        .post("/v1/chat/completions")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // an explicit-prefix model outside the catalog is labelled `other`
    let r = gw.chat(chat_body("openai/ferro-unlisted-model", "x")).await;
    assert_eq!(r.status(), 200);

    let s = scrape(&gw, KEY).await;
    let pm = [("provider", "openai"), ("model", "gpt-4o-mini")];
    let with = |status: &'static str| {
        [
            ("provider", "openai"),
            ("model", "gpt-4o-mini"),
            ("status", status),
        ]
    };
    assert_eq!(s.get("gateway_requests_total", &with("success")), Some(3.0));
    assert_eq!(s.get("gateway_requests_total", &with("error")), Some(1.0));
    assert_eq!(s.get("gateway_requests_total", &with("rejected")), None);
    assert_eq!(
        s.get(
            "gateway_requests_total",
            &[
                ("provider", "none"),
                ("model", "none"),
                ("status", "rejected")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        s.get(
            "gateway_requests_total",
            &[
                ("provider", "openai"),
                ("model", "other"),
                ("status", "success")
            ]
        ),
        Some(1.0),
        "client-chosen ids never become label values"
    );
    assert_eq!(
        s.get("gateway_tokens_input_total", &pm),
        Some(prompt as f64)
    );
    assert_eq!(
        s.get("gateway_tokens_output_total", &pm),
        Some(completion as f64)
    );
    let got_cost = s.get("gateway_request_cost_usd_total", &pm).unwrap();
    assert!((got_cost - cost).abs() < 1e-12, "{got_cost} vs {cost}");
    assert_eq!(
        s.get("gateway_request_duration_seconds_count", &pm),
        Some(4.0)
    );
    assert_eq!(
        s.get(
            "gateway_request_duration_seconds_bucket",
            &[
                ("provider", "openai"),
                ("model", "gpt-4o-mini"),
                ("le", "+Inf")
            ]
        ),
        Some(4.0)
    );
    assert_eq!(
        s.get(
            "gateway_provider_errors_total",
            &[("provider", "openai"), ("error_type", "provider_error")]
        ),
        Some(1.0)
    );
    assert_eq!(s.series("gateway_provider_errors_total"), 1);
    assert_eq!(
        s.get(
            "gateway_upstream_attempts_total",
            &[("provider", "openai"), ("outcome", "success")]
        ),
        Some(4.0)
    );
    assert_eq!(
        s.get(
            "gateway_upstream_attempts_total",
            &[("provider", "openai"), ("outcome", "error")]
        ),
        Some(1.0)
    );
    assert_eq!(
        s.get("gateway_circuit_breaker_state", &[("provider", "openai")]),
        Some(0.0)
    );
    assert_eq!(
        s.get("gateway_key_requests_total", &[("key_id", &master_id())]),
        Some(6.0)
    );
    assert_eq!(
        s.get(
            "gateway_key_tokens_total",
            &[("key_id", &master_id()), ("type", "input")]
        )
        .map(|v| v >= prompt as f64),
        Some(true)
    );
    assert_eq!(s.get("gateway_catalog_loads_total", &[]), Some(1.0));
    assert_eq!(s.series("gateway_time_to_first_token_seconds_count"), 0);
    // every record also reached the request-log writer (the sink is composed)
    let cp = gw.state.control.clone().unwrap();
    cp.logs.flush().await;
    let s = scrape(&gw, KEY).await;
    assert_eq!(s.get("gateway_request_log_written_total", &[]), Some(6.0));
    assert_eq!(s.get("gateway_request_log_dropped_total", &[]), Some(0.0));
    assert_eq!(s.get("gateway_request_log_queue_depth", &[]), Some(0.0));
    assert_eq!(
        s.get("gateway_request_log_queue_capacity", &[]),
        Some(8192.0)
    );
    // the pool counters are process-wide (other tests of this binary add to them)
    assert!(s.get("gateway_upstream_connections_opened_total", &[]) >= Some(1.0));
    assert!(s
        .get("gateway_upstream_connect_failures_total", &[])
        .is_some());
    assert_eq!(
        s.get(
            "gateway_upstream_connections_in_use",
            &[("provider", "openai")]
        ),
        Some(0.0)
    );
}

#[tokio::test]
async fn upstream_connections_in_use_while_a_request_waits() {
    let up = MockUpstream::start().await.unwrap();
    let gw = openai_gateway(&up).await;
    up.push_fault(Fault::Delay(Duration::from_millis(1500)));
    let slow = {
        let client = gw.client.clone();
        let url = format!("{}/v1/chat/completions", gw.url);
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(KEY)
                .json(&chat_body("gpt-4o-mini", "slow"))
                .send()
                .await
                .map(|r| r.status().as_u16())
        })
    };
    let t0 = std::time::Instant::now();
    while up.hits() == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "request never arrived"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let s = scrape(&gw, KEY).await;
    assert_eq!(
        s.get(
            "gateway_upstream_connections_in_use",
            &[("provider", "openai")]
        ),
        Some(1.0),
        "the waiting request holds one upstream connection"
    );
    assert_eq!(slow.await.unwrap().unwrap(), 200);
    let s = scrape(&gw, KEY).await;
    assert_eq!(
        s.get(
            "gateway_upstream_connections_in_use",
            &[("provider", "openai")]
        ),
        Some(0.0),
        "released once the body was read"
    );
}

#[tokio::test]
async fn streams_count_time_to_first_token_and_tokens() {
    let up = MockUpstream::start().await.unwrap();
    let gw = openai_gateway(&up).await;
    let r = gw
        .chat(json!({"model": "gpt-4o-mini", "stream": true,
            "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "stream please"}]}))
        .await;
    assert_eq!(r.status(), 200);
    let payloads = sse_payloads(r).await;
    let usage = payloads
        .iter()
        .filter_map(|p| serde_json::from_str::<Value>(p).ok())
        .find(|v| v["usage"].is_object())
        .map(|v| v["usage"].clone())
        .unwrap();
    let pm = [("provider", "openai"), ("model", "gpt-4o-mini")];
    let mut s = scrape(&gw, KEY).await;
    // the record is emitted when the relay ends, which may trail the last byte
    for _ in 0..40 {
        if s.get("gateway_time_to_first_token_seconds_count", &pm) == Some(1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        s = scrape(&gw, KEY).await;
    }
    assert_eq!(
        s.get("gateway_time_to_first_token_seconds_count", &pm),
        Some(1.0)
    );
    assert_eq!(
        s.get(
            "gateway_requests_total",
            &[
                ("provider", "openai"),
                ("model", "gpt-4o-mini"),
                ("status", "success")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        s.get("gateway_tokens_output_total", &pm),
        usage["completion_tokens"].as_f64()
    );
    assert_eq!(
        s.get(
            "gateway_upstream_attempts_total",
            &[("provider", "openai"), ("outcome", "success")]
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn read_only_scope_and_methods() {
    let up = MockUpstream::start().await.unwrap();
    let gw = openai_gateway(&up).await;
    let url = format!("{}/metrics", gw.url);
    let r = gw.client.get(&url).send().await.unwrap();
    expect_error(r, 401, "missing_api_key").await;
    let r = gw
        .client
        .get(&url)
        .bearer_auth("fgw_nope")
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "invalid_api_key").await;
    let (_, ro) = gw.create_key("scraper", &["read_only"]).await;
    let r = gw.client.get(&url).bearer_auth(&ro).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("# TYPE gateway_build_info gauge"));
    let r = gw.client.head(&url).bearer_auth(&ro).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = gw.client.post(&url).bearer_auth(KEY).send().await.unwrap();
    expect_error(r, 405, "method_not_supported").await;
}

#[tokio::test]
async fn door_rejections_are_counted_by_key_type() {
    let up = MockUpstream::start().await.unwrap();
    let base = up.url();
    let gw = Gw::start(&[
        ("OPENAI_API_KEY", "sk-test"),
        ("OPENAI_BASE_URL", &base),
        ("RATE_LIMIT_RPS", "1"),
        ("RATE_LIMIT_BURST", "1"),
    ])
    .await;
    let unauth = || {
        gw.client
            .post(format!("{}/v1/chat/completions", gw.url))
            .body(chat_body("gpt-4o-mini", "x").to_string())
            .send()
    };
    assert_eq!(unauth().await.unwrap().status(), 401);
    assert_eq!(unauth().await.unwrap().status(), 429);
    let s = scrape(&gw, KEY).await;
    assert_eq!(
        s.get("gateway_rate_limit_rejections_total", &[("key_type", "ip")]),
        Some(1.0)
    );
}

#[tokio::test]
async fn plugin_timings_and_rejections() {
    let up = MockUpstream::start().await.unwrap();
    let cfg = format!(
        r#"
providers:
  - {{name: openai, type: openai, base_url: "{}/v1", api_key: k}}
targets:
  - virtual_key: openai
plugins:
  - name: word-filter
    type: guardrail
    stage: before_request
    enabled: true
    config: {{blocked_words: [forbidden]}}
"#,
        up.url()
    );
    let gw = Gw::start_with_config(&[], Some(&cfg)).await;
    let r = gw.chat(chat_body("gpt-4o-mini", "a forbidden thing")).await;
    assert_eq!(r.status(), 400);
    let r = gw.chat(chat_body("gpt-4o-mini", "fine")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(up.hits(), 1, "the denied request never went upstream");
    let s = scrape(&gw, KEY).await;
    let l = [("plugin", "word-filter"), ("stage", "before_request")];
    // plugin counters are process-wide: other tests in this binary add to them
    assert!(s.get("gateway_plugin_calls_total", &l).unwrap() >= 2.0);
    assert!(s.get("gateway_plugin_denials_total", &l).unwrap() >= 1.0);
    assert!(s.get("gateway_plugin_duration_seconds_total", &l).unwrap() > 0.0);
    // refused before routing: no provider, and no model label either
    assert_eq!(
        s.get(
            "gateway_requests_total",
            &[
                ("provider", "none"),
                ("model", "none"),
                ("status", "rejected")
            ]
        ),
        Some(1.0)
    );
}
