//! `GET /metrics`: the read-only credential check and the Prometheus text
//! exposition, with state gauges refreshed at scrape time (circuit breakers,
//! concurrency slots, the request-log writer, plugin timings).

use crate::auth::{bearer, AuthFailure, Identity, Scope};
use crate::error::{error_response, GwError};
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use ferro_types::{ApiError, ErrorType};
use http::{header, HeaderValue, StatusCode};
use prometheus::{
    CounterVec, Gauge, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};
use std::sync::{Arc, Mutex};

/// Gauges and mirrored counters refreshed on each scrape.
pub(crate) struct ScrapeState {
    /// Serialises scrapes: mirrored counters are advanced by deltas.
    lock: Mutex<()>,
    circuit: IntGaugeVec,
    in_flight: IntGaugeVec,
    log_written: IntCounter,
    log_dropped: IntCounter,
    log_failed: IntCounter,
    log_queue_depth: IntGauge,
    log_queue_capacity: IntGauge,
    upstream_in_use: IntGaugeVec,
    upstream_opened: IntCounter,
    upstream_connect_failed: IntCounter,
    plugin_calls: IntCounterVec,
    plugin_denials: IntCounterVec,
    plugin_failures: IntCounterVec,
    plugin_seconds: CounterVec,
    pub(crate) catalog_models: IntGauge,
    pub(crate) catalog_loads: IntCounter,
}

fn reg<C: prometheus::core::Collector + Clone + 'static>(r: &Registry, c: C) -> C {
    if let Err(e) = r.register(Box::new(c.clone())) {
        tracing::error!(error = %e, "metric not registered");
    }
    c
}

#[allow(clippy::panic)]
fn bad(name: &str, e: prometheus::Error) -> ! {
    panic!("invalid metric definition `{name}`: {e}")
}

fn gauge_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    reg(
        r,
        IntGaugeVec::new(Opts::new(name, help), labels).unwrap_or_else(|e| bad(name, e)),
    )
}

fn gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    reg(
        r,
        IntGauge::new(name, help).unwrap_or_else(|e| bad(name, e)),
    )
}

fn counter(r: &Registry, name: &str, help: &str) -> IntCounter {
    reg(
        r,
        IntCounter::new(name, help).unwrap_or_else(|e| bad(name, e)),
    )
}

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    reg(
        r,
        IntCounterVec::new(Opts::new(name, help), labels).unwrap_or_else(|e| bad(name, e)),
    )
}

impl ScrapeState {
    pub(crate) fn new(r: &Registry) -> ScrapeState {
        let build = gauge_vec(
            r,
            "gateway_build_info",
            "Build of this gateway (always 1).",
            &["version", "commit"],
        );
        use crate::handlers::probes::{COMMIT, VERSION};
        if let Ok(g) = build.get_metric_with_label_values(&[VERSION, COMMIT]) {
            g.set(1);
        }
        let start_time = reg(
            r,
            Gauge::new(
                "process_start_time_seconds",
                "Start time of the process since the Unix epoch in seconds.",
            )
            .unwrap_or_else(|e| bad("process_start_time_seconds", e)),
        );
        start_time.set(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0),
        );
        ScrapeState {
            lock: Mutex::new(()),
            circuit: gauge_vec(
                r,
                "gateway_circuit_breaker_state",
                "Circuit breaker state per target (0=closed 1=open 2=half_open).",
                &["provider"],
            ),
            in_flight: gauge_vec(
                r,
                "gateway_target_in_flight",
                "Upstream calls holding a concurrency slot, per target with a concurrency cap.",
                &["provider"],
            ),
            log_written: counter(
                r,
                "gateway_request_log_written_total",
                "Request-log rows written by the batched writer.",
            ),
            log_dropped: counter(
                r,
                "gateway_request_log_dropped_total",
                "Request-log rows dropped because the writer queue was full.",
            ),
            log_failed: counter(
                r,
                "gateway_request_log_failed_total",
                "Request-log rows the store refused (after one retry).",
            ),
            log_queue_depth: gauge(
                r,
                "gateway_request_log_queue_depth",
                "Request-log records queued for the batched writer.",
            ),
            log_queue_capacity: gauge(
                r,
                "gateway_request_log_queue_capacity",
                "Request-log records the writer queue holds before it drops (see gateway_request_log_dropped_total).",
            ),
            upstream_in_use: gauge_vec(
                r,
                "gateway_upstream_connections_in_use",
                "Upstream requests holding a pooled connection (sent, until the response body is read), per provider instance.",
                &["provider"],
            ),
            upstream_opened: counter(
                r,
                "gateway_upstream_connections_opened_total",
                "Connections the upstream pool opened (a low rate against gateway_requests_total means keep-alive reuse).",
            ),
            upstream_connect_failed: counter(
                r,
                "gateway_upstream_connect_failures_total",
                "Upstream connection attempts that failed (refused, reset, TLS, timeout).",
            ),
            plugin_calls: counter_vec(
                r,
                "gateway_plugin_calls_total",
                "Plugin hook invocations by plugin and stage.",
                &["plugin", "stage"],
            ),
            plugin_denials: counter_vec(
                r,
                "gateway_plugin_denials_total",
                "Plugin hook denials by plugin and stage.",
                &["plugin", "stage"],
            ),
            plugin_failures: counter_vec(
                r,
                "gateway_plugin_failures_total",
                "Plugin hook failures (fail-open ones included) by plugin and stage.",
                &["plugin", "stage"],
            ),
            plugin_seconds: reg(
                r,
                CounterVec::new(
                    Opts::new(
                        "gateway_plugin_duration_seconds_total",
                        "Time spent in plugin hooks by plugin and stage (divide by calls for the mean).",
                    ),
                    &["plugin", "stage"],
                )
                .unwrap_or_else(|e| bad("gateway_plugin_duration_seconds_total", e)),
            ),
            catalog_models: reg(
                r,
                IntGauge::new("gateway_catalog_models", "Models in the loaded catalog.")
                    .unwrap_or_else(|e| bad("gateway_catalog_models", e)),
            ),
            catalog_loads: counter(
                r,
                "gateway_catalog_loads_total",
                "Model catalog loads (the embedded snapshot or FERRO_MODEL_CATALOG_PATH).",
            ),
        }
    }
}

/// Advances a counter mirroring a monotonic source to `to`.
fn mirror(c: &IntCounter, to: u64) {
    let now = c.get();
    if to > now {
        c.inc_by(to - now);
    }
}

/// Renders the exposition for `state`.
pub fn render(state: &AppState) -> String {
    let m = &state.obs.metrics;
    let s = &m.scrape;
    let _guard = s.lock.lock().unwrap_or_else(|p| p.into_inner());
    let rt = state.runtime.load();
    s.circuit.reset();
    s.in_flight.reset();
    for (t, p) in rt.router.targets.iter().zip(&rt.router.policies) {
        let v = match p.circuit_state() {
            "open" => 1,
            "half-open" => 2,
            _ => 0,
        };
        if let Ok(g) = s.circuit.get_metric_with_label_values(&[&t.name]) {
            g.set(v);
        }
        if let Some(l) = &p.health.limiter {
            if let Ok(g) = s.in_flight.get_metric_with_label_values(&[&t.name]) {
                g.set(i64::try_from(l.in_flight()).unwrap_or(i64::MAX));
            }
        }
    }
    s.upstream_in_use.reset();
    for inst in &rt.router.instances {
        if inst.spec.wire == ferro_providers::spec::Wire::Mock {
            continue;
        }
        if let Ok(g) = s
            .upstream_in_use
            .get_metric_with_label_values(&[&inst.name])
        {
            let n = inst.busy.load(std::sync::atomic::Ordering::Relaxed);
            g.set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }
    {
        use std::sync::atomic::Ordering::Relaxed;
        mirror(
            &s.upstream_opened,
            ferro_providers::client::POOL.opened.load(Relaxed),
        );
        mirror(
            &s.upstream_connect_failed,
            ferro_providers::client::POOL.failed.load(Relaxed),
        );
    }
    if let Some(cp) = &state.control {
        use std::sync::atomic::Ordering::Relaxed;
        let st = cp.logs.stats();
        s.log_queue_depth
            .set(i64::try_from(cp.logs.queue_depth()).unwrap_or(i64::MAX));
        s.log_queue_capacity
            .set(i64::try_from(crate::logwriter::QUEUE_CAPACITY).unwrap_or(i64::MAX));
        mirror(&s.log_written, st.written.load(Relaxed));
        mirror(&s.log_dropped, st.dropped.load(Relaxed));
        mirror(&s.log_failed, st.failed.load(Relaxed));
    }
    // per-plugin, per-stage counters of the plugin engine (process-wide)
    for p in ferro_plugins::stats() {
        let l = [p.plugin, p.stage];
        if let Ok(c) = s.plugin_calls.get_metric_with_label_values(&l) {
            mirror(&c, p.calls);
        }
        if let Ok(c) = s.plugin_denials.get_metric_with_label_values(&l) {
            mirror(&c, p.denials);
        }
        if let Ok(c) = s.plugin_failures.get_metric_with_label_values(&l) {
            mirror(&c, p.failures);
        }
        if let Ok(c) = s.plugin_seconds.get_metric_with_label_values(&l) {
            let now = c.get();
            if p.total_seconds > now {
                c.inc_by(p.total_seconds - now);
            }
        }
    }
    let families = m.registry.gather();
    prometheus::TextEncoder::new()
        .encode_to_string(&families)
        .unwrap_or_default()
}

fn deny(status: u16, code: &'static str, message: &'static str) -> GwError {
    let kind = if status == 403 {
        ErrorType::PermissionError
    } else {
        ErrorType::AuthenticationError
    };
    GwError(ApiError::new(status, kind, code, message))
}

/// The caller's identity: stored keys, the master key and (with the control
/// plane) dashboard sessions.
fn identity(state: &AppState, headers: &http::HeaderMap) -> Result<Identity, GwError> {
    if let Some(cp) = &state.control {
        return crate::admin::authenticate(state, cp, headers);
    }
    match bearer(headers) {
        Ok(t) => state
            .auth
            .authenticate(t)
            .ok_or_else(|| deny(401, "invalid_api_key", "invalid API key")),
        Err(AuthFailure::Missing) => Err(deny(
            401,
            "missing_api_key",
            "missing API key: send Authorization: Bearer <key>",
        )),
        Err(_) => Err(deny(401, "invalid_api_key", "invalid API key")),
    }
}

/// `GET /metrics` (read-only scope; CONTRACT §1.3).
pub async fn handler(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let id = match identity(&state, req.headers()) {
        Ok(id) => id,
        Err(resp) => {
            // ★12: failed authentication pays the per-IP toll.
            let ip = crate::middleware::client_ip(&state, &req);
            if !state.door.scope_all && !state.door.admit(ip) {
                return error_response(
                    &ApiError::new(
                        429,
                        ErrorType::RateLimitError,
                        "rate_limit_exceeded",
                        "too many requests from this address",
                    )
                    .with_retry_after(1),
                );
            }
            return resp.into_response();
        }
    };
    if !id.has(Scope::ReadOnly) {
        return deny(
            403,
            "insufficient_scope",
            "this route needs the `read_only` scope",
        )
        .into_response();
    }
    let body = render(&state);
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
