//! `GET /admin/logs/stats` (CONTRACT §6.3): aggregates over the request log —
//! totals, latency and TTFT percentiles, breakdowns by stage / provider /
//! model, the most frequent errors and a bucketed time series.
//!
//! Computed in the gateway from one filtered scan (at most [`SCAN_MAX`] newest
//! rows, reported as `series.truncated`) so both engines give identical numbers
//! (percentiles are not portable SQL).

use super::logs::filter_of;
use super::{admin_error, control, int_param, ok, query, store_error};
use crate::error::GwError;
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use ferro_store::{time, LogRow};
use http::Uri;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Most rows one stats call reads.
pub const SCAN_MAX: i64 = 200_000;
/// Most entries of `top_errors`.
pub const TOP_ERRORS: usize = 8;

/// `{p50,p95,p99,max,mean,count}` by nearest rank, or `null` without samples.
pub fn percentiles(mut v: Vec<f64>) -> Value {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return Value::Null;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let rank = |p: f64| v[((p * n as f64).ceil() as usize).clamp(1, n) - 1];
    let mean = v.iter().sum::<f64>() / n as f64;
    json!({
        "p50": rank(0.50), "p95": rank(0.95), "p99": rank(0.99),
        "max": v[n - 1], "mean": mean, "count": n,
    })
}

#[derive(Default)]
struct Group {
    count: u64,
    errors: u64,
    tokens: i64,
    cost: f64,
    unpriced: u64,
}

impl Group {
    fn add(&mut self, r: &LogRow) {
        self.count += 1;
        self.errors += u64::from(is_error(r));
        self.tokens += r.total_tokens;
        match r.cost_usd {
            Some(c) => self.cost += c,
            None => self.unpriced += 1,
        }
    }
    fn json(&self) -> Value {
        json!({"count": self.count, "errors": self.errors, "tokens": self.tokens, "cost_usd": self.cost, "unpriced": self.unpriced})
    }
}

fn is_error(r: &LogRow) -> bool {
    r.stage == "on_error" || r.status >= 400
}

fn groups(rows: &[LogRow], key: impl Fn(&LogRow) -> &str, limit: usize) -> Value {
    let mut m: HashMap<String, Group> = HashMap::new();
    for r in rows {
        let k = key(r);
        let k = if k.is_empty() { "unknown" } else { k };
        m.entry(k.to_owned()).or_default().add(r);
    }
    let mut v: Vec<(String, Group)> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(&b.0)));
    if limit > 0 {
        v.truncate(limit);
    }
    Value::Object(
        v.into_iter()
            .map(|(k, g)| (k, g.json()))
            .collect::<Map<_, _>>(),
    )
}

/// The whole stats object for `rows` (newest first), `buckets` points ending at `now`.
pub fn compute(
    rows: &[LogRow],
    limit: usize,
    buckets: usize,
    since: Option<i64>,
    now: i64,
    truncated: bool,
) -> Map<String, Value> {
    let mut out = Map::new();
    let (mut prompt, mut completion, mut cost, mut unpriced, mut errors) =
        (0i64, 0i64, 0f64, 0u64, 0u64);
    for r in rows {
        prompt += r.prompt_tokens;
        completion += r.completion_tokens;
        errors += u64::from(is_error(r));
        match r.cost_usd {
            Some(c) => cost += c,
            None => unpriced += 1,
        }
    }
    out.insert(
        "summary".into(),
        json!({
            "total_entries": rows.len(), "error_entries": errors,
            "total_tokens": rows.iter().map(|r| r.total_tokens).sum::<i64>(),
            "prompt_tokens": prompt, "completion_tokens": completion,
            "cost_usd": cost, "unpriced_requests": unpriced,
        }),
    );
    out.insert(
        "latency_ms".into(),
        percentiles(rows.iter().filter_map(|r| r.duration_ms).collect()),
    );
    out.insert(
        "ttft_ms".into(),
        percentiles(rows.iter().filter_map(|r| r.ttft_ms).collect()),
    );
    out.insert("by_stage".into(), groups(rows, |r| &r.stage, 0));
    out.insert("by_provider".into(), groups(rows, |r| &r.provider, limit));
    out.insert("by_model".into(), groups(rows, |r| &r.model, limit));
    let mut errs: HashMap<&str, u64> = HashMap::new();
    for r in rows {
        if let Some(m) = r.error_message.as_deref().filter(|m| !m.is_empty()) {
            *errs.entry(m).or_default() += 1;
        }
    }
    let mut errs: Vec<(&str, u64)> = errs.into_iter().collect();
    errs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    errs.truncate(TOP_ERRORS);
    out.insert(
        "top_errors".into(),
        Value::Array(
            errs.into_iter()
                .map(|(m, c)| json!({"message": m, "count": c}))
                .collect(),
        ),
    );
    out.insert(
        "series".into(),
        series(rows, buckets, since, now, truncated),
    );
    out
}

fn series(rows: &[LogRow], buckets: usize, since: Option<i64>, now: i64, truncated: bool) -> Value {
    if buckets == 0 {
        return json!({"points": [], "truncated": truncated});
    }
    let oldest = rows.iter().map(|r| r.created_at).min();
    let start = since
        .or(oldest)
        .unwrap_or(now - 3600 * time::SECOND)
        .min(now);
    let end = now.max(start + 1);
    let width = ((end - start) as u128).div_ceil(buckets as u128).max(1) as i64;
    let mut pts: Vec<[i64; 4]> = vec![[0; 4]; buckets];
    for r in rows {
        if r.created_at < start || r.created_at > end {
            continue;
        }
        let i = (((r.created_at - start) / width) as usize).min(buckets - 1);
        pts[i][0] += 1;
        pts[i][1] += i64::from(is_error(r));
        pts[i][2] += r.prompt_tokens;
        pts[i][3] += r.completion_tokens;
    }
    let points: Vec<Value> = pts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            json!({
                "start": time::format(start + i as i64 * width),
                "requests": p[0], "errors": p[1], "prompt_tokens": p[2], "completion_tokens": p[3],
            })
        })
        .collect();
    json!({"points": points, "truncated": truncated, "start": time::format(start), "end": time::format(end)})
}

pub async fn handler(State(state): State<Arc<AppState>>, uri: Uri) -> Result<Response, GwError> {
    let cp = control(&state)?;
    let q = query(&uri);
    let limit = int_param(&q, "limit")?.unwrap_or(0);
    if !(0..=100).contains(&limit) {
        return Err(admin_error(
            400,
            "invalid_request",
            "`limit` must be between 0 and 100",
        ));
    }
    let buckets = int_param(&q, "buckets")?.unwrap_or(0);
    if !(0..=120).contains(&buckets) {
        return Err(admin_error(
            400,
            "invalid_request",
            "`buckets` must be between 0 and 120",
        ));
    }
    let (f, _) = filter_of(&q, true)?;
    let rows = cp
        .stores
        .logs
        .scan_logs(&f, SCAN_MAX)
        .await
        .map_err(store_error)?;
    let truncated = rows.len() as i64 >= SCAN_MAX;
    let mut out = compute(
        &rows,
        limit as usize,
        buckets as usize,
        f.since,
        time::now(),
        truncated,
    );
    let s = |k: &str| q.get(k).cloned().unwrap_or_default();
    out.insert(
        "filters".into(),
        json!({
            "limit": limit, "buckets": buckets, "stage": s("stage"),
            "model": s("model"), "provider": s("provider"), "since": s("since"),
        }),
    );
    Ok(ok(Value::Object(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(i: i64, provider: &str, err: bool) -> LogRow {
        LogRow {
            stage: if err { "on_error" } else { "after_request" }.into(),
            provider: provider.into(),
            model: "m".into(),
            status: if err { 502 } else { 200 },
            prompt_tokens: 2,
            completion_tokens: 1,
            total_tokens: 3,
            cost_usd: (!err).then_some(0.5),
            error_message: err.then(|| format!("e{}", i % 2)),
            created_at: i * time::SECOND,
            duration_ms: Some(i as f64),
            ttft_ms: None,
            ..Default::default()
        }
    }

    #[test]
    fn percentiles_nearest_rank() {
        let p = percentiles((1..=100).map(f64::from).collect());
        assert_eq!(
            (
                p["p50"].as_f64(),
                p["p95"].as_f64(),
                p["p99"].as_f64(),
                p["max"].as_f64()
            ),
            (Some(50.0), Some(95.0), Some(99.0), Some(100.0))
        );
        assert_eq!(p["count"], 100);
        assert_eq!(percentiles(vec![]), Value::Null);
    }

    #[test]
    fn aggregates() {
        let rows: Vec<LogRow> = (1..=10)
            .map(|i| row(i, if i <= 7 { "a" } else { "b" }, i % 5 == 0))
            .collect();
        let s = compute(&rows, 1, 5, Some(0), 10 * time::SECOND, false);
        assert_eq!(s["summary"]["total_entries"], 10);
        assert_eq!(s["summary"]["error_entries"], 2);
        assert_eq!(s["summary"]["unpriced_requests"], 2);
        assert_eq!(s["summary"]["cost_usd"], 4.0);
        assert_eq!(s["by_provider"].as_object().map(|m| m.len()), Some(1));
        assert_eq!(s["by_provider"]["a"]["count"], 7);
        assert_eq!(s["by_stage"]["on_error"]["errors"], 2);
        assert_eq!(s["top_errors"][0]["count"], 1);
        assert_eq!(s["ttft_ms"], Value::Null);
        let pts = s["series"]["points"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(pts.len(), 5);
        assert_eq!(
            pts.iter()
                .map(|p| p["requests"].as_i64().unwrap_or(0))
                .sum::<i64>(),
            10
        );
    }
}
