//! Prometheus metrics (CONTRACT §6.6, `GET /metrics`).
//!
//! Every routed request ends in one [`LogRecord`]; [`Metrics::record`] turns it
//! into counters and histograms, and the attempt loop reports each upstream
//! attempt through [`Metrics::attempt`]. Gauges that describe state rather than
//! events (circuit breakers, in-flight slots, the request-log writer, plugin
//! timings) are read when `/metrics` is scraped ([`scrape`]).
//!
//! Why the `prometheus` crate: its counters and histograms are plain atomics
//! behind cheap clones, so a request path that keeps those handles pays one
//! relaxed `fetch_add` per counter and never allocates; the text encoder is
//! exact; and a [`prometheus::Registry`] is a value, so every gateway (and every
//! test) has its own instead of sharing a process-global recorder as the
//! `metrics` facade does, where a dynamic label set is also rebuilt (and
//! allocated) on every macro call. Handles are looked up per record in a
//! two-level [`dashmap`] (provider → model) keyed by `&str`, so the common case
//! is two sharded hash look-ups; a new label set is created once.
//!
//! Cardinality is bounded: the `model` label is a catalog or configured model id
//! or `other` (never a raw client string), the `provider` label is a provider
//! instance name from the config, and at most [`MAX_SERIES`] model label sets
//! and [`MAX_SERIES`] key ids are tracked; the rest fold into `other`.

pub mod scrape;
mod series;

use crate::record::LogRecord;
use prometheus::{CounterVec, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};
use series::{KeySeries, ModelSeries, ProviderSeries};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use scrape::handler;
pub use series::{ErrorKind, RequestStatus, CLIENT_GONE};

/// Most distinct label sets per family before new ones fold into `other`.
pub const MAX_SERIES: usize = 10_000;

/// The label used for anything outside the bounded set.
pub const OTHER: &str = "other";
/// The label used when a request never reached routing.
pub const NONE: &str = "none";

/// End-to-end latency buckets (seconds), as the Go gateway, plus 60 s.
const DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Time-to-first-token buckets (seconds).
const TTFT_BUCKETS: &[f64] = &[0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0];

/// The metric families of one gateway.
pub(crate) struct Families {
    pub requests: IntCounterVec,
    pub duration: HistogramVec,
    pub ttft: HistogramVec,
    pub tokens_in: IntCounterVec,
    pub tokens_out: IntCounterVec,
    pub cost: CounterVec,
    pub cache_hits: IntCounterVec,
    pub provider_errors: IntCounterVec,
    pub attempts: IntCounterVec,
    pub attempt_duration: HistogramVec,
    pub rate_limited: IntCounterVec,
    pub key_requests: IntCounterVec,
    pub key_tokens: IntCounterVec,
    pub key_cost: CounterVec,
    pub stream_cancels: IntCounterVec,
}

/// All metrics of one gateway.
pub struct Metrics {
    pub(crate) registry: Registry,
    pub(crate) f: Families,
    providers: dashmap::DashMap<Box<str>, Arc<ProviderSeries>>,
    keys: dashmap::DashMap<Box<str>, Arc<KeySeries>>,
    /// Model label sets created so far (all providers).
    model_sets: AtomicUsize,
    /// Known model ids → their interned label.
    model_labels: dashmap::DashMap<Box<str>, Arc<str>>,
    catalog: std::sync::OnceLock<Arc<ferro_types::catalog::Catalog>>,
    pub(crate) scrape: scrape::ScrapeState,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("providers", &self.providers.len())
            .field("keys", &self.keys.len())
            .finish()
    }
}

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let v = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| unreachable_metric(name, &e));
    if let Err(e) = r.register(Box::new(v.clone())) {
        tracing::error!(metric = name, error = %e, "metric not registered");
    }
    v
}

fn float_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> CounterVec {
    let v = CounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| unreachable_metric(name, &e));
    if let Err(e) = r.register(Box::new(v.clone())) {
        tracing::error!(metric = name, error = %e, "metric not registered");
    }
    v
}

fn histogram_vec(
    r: &Registry,
    name: &str,
    help: &str,
    buckets: &[f64],
    labels: &[&str],
) -> HistogramVec {
    let v = HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets.to_vec()),
        labels,
    )
    .unwrap_or_else(|e| unreachable_metric(name, &e));
    if let Err(e) = r.register(Box::new(v.clone())) {
        tracing::error!(metric = name, error = %e, "metric not registered");
    }
    v
}

/// Metric names and label names are constants of this module, validated by the
/// unit tests; an invalid one is a programming error caught before release.
#[allow(clippy::panic)]
fn unreachable_metric(name: &str, e: &prometheus::Error) -> ! {
    panic!("invalid metric definition `{name}`: {e}")
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new();
        let f = Families {
            requests: counter_vec(
                &r,
                "gateway_requests_total",
                "Routed requests by provider, model and outcome (success, error, rejected).",
                &["provider", "model", "status"],
            ),
            duration: histogram_vec(
                &r,
                "gateway_request_duration_seconds",
                "End-to-end request duration in seconds (streams: until the last byte).",
                DURATION_BUCKETS,
                &["provider", "model"],
            ),
            ttft: histogram_vec(
                &r,
                "gateway_time_to_first_token_seconds",
                "Streaming requests: time from arrival to the first upstream byte.",
                TTFT_BUCKETS,
                &["provider", "model"],
            ),
            tokens_in: counter_vec(
                &r,
                "gateway_tokens_input_total",
                "Prompt tokens sent to providers.",
                &["provider", "model"],
            ),
            tokens_out: counter_vec(
                &r,
                "gateway_tokens_output_total",
                "Completion tokens received from providers.",
                &["provider", "model"],
            ),
            cost: float_vec(
                &r,
                "gateway_request_cost_usd_total",
                "Cost of served requests in USD (catalog prices; unpriced models add nothing).",
                &["provider", "model"],
            ),
            cache_hits: counter_vec(
                &r,
                "gateway_cache_hits_total",
                "Requests answered from the response cache.",
                &["provider", "model"],
            ),
            provider_errors: counter_vec(
                &r,
                "gateway_provider_errors_total",
                "Failed upstream attempts and refusals by provider and error type.",
                &["provider", "error_type"],
            ),
            attempts: counter_vec(
                &r,
                "gateway_upstream_attempts_total",
                "Upstream calls (retries and failovers included) by provider and outcome.",
                &["provider", "outcome"],
            ),
            attempt_duration: histogram_vec(
                &r,
                "gateway_upstream_attempt_duration_seconds",
                "Duration of one upstream attempt until its answer (streams: first byte).",
                DURATION_BUCKETS,
                &["provider"],
            ),
            rate_limited: counter_vec(
                &r,
                "gateway_rate_limit_rejections_total",
                "Requests answered 429 by key type (ip, plugin, provider, upstream).",
                &["key_type"],
            ),
            key_requests: counter_vec(
                &r,
                "gateway_key_requests_total",
                "Routed requests by API key id.",
                &["key_id"],
            ),
            key_tokens: counter_vec(
                &r,
                "gateway_key_tokens_total",
                "Tokens by API key id and direction (input, output).",
                &["key_id", "type"],
            ),
            key_cost: float_vec(
                &r,
                "gateway_key_cost_usd_total",
                "Cost in USD by API key id.",
                &["key_id"],
            ),
            stream_cancels: counter_vec(
                &r,
                "gateway_stream_cancellations_total",
                "Streams the client abandoned before their end.",
                &["provider"],
            ),
        };
        let scrape = scrape::ScrapeState::new(&r);
        Metrics {
            registry: r,
            f,
            providers: dashmap::DashMap::new(),
            keys: dashmap::DashMap::new(),
            model_sets: AtomicUsize::new(0),
            model_labels: dashmap::DashMap::new(),
            catalog: std::sync::OnceLock::new(),
            scrape,
        }
    }

    /// The series of one provider label (created on first sight).
    pub(crate) fn provider(&self, name: &str) -> Arc<ProviderSeries> {
        let name = if name.is_empty() { NONE } else { name };
        if let Some(p) = self.providers.get(name) {
            return p.clone();
        }
        let label = if self.providers.len() >= MAX_SERIES {
            OTHER
        } else {
            name
        };
        self.providers
            .entry(label.into())
            .or_insert_with(|| Arc::new(ProviderSeries::new(&self.f, label)))
            .clone()
    }

    fn model(&self, p: &ProviderSeries, model_label: &str) -> Arc<ModelSeries> {
        if let Some(m) = p.models.get(model_label) {
            return m.clone();
        }
        let label = if self.model_sets.load(Ordering::Relaxed) >= MAX_SERIES {
            OTHER
        } else {
            model_label
        };
        p.models
            .entry(label.into())
            .or_insert_with(|| {
                self.model_sets.fetch_add(1, Ordering::Relaxed);
                Arc::new(ModelSeries::new(&self.f, &p.name, label))
            })
            .clone()
    }

    fn key(&self, id: &str) -> Arc<KeySeries> {
        let id = if id.is_empty() { "anonymous" } else { id };
        if let Some(k) = self.keys.get(id) {
            return k.clone();
        }
        let label = if self.keys.len() >= MAX_SERIES {
            OTHER
        } else {
            id
        };
        self.keys
            .entry(label.into())
            .or_insert_with(|| Arc::new(KeySeries::new(&self.f, label)))
            .clone()
    }

    /// Counts one finished request. `facts` fills in what an error record
    /// lacks (the provider of the last attempt, the routed model's label).
    pub fn record(&self, rec: &LogRecord, facts: &RequestFacts) {
        let provider = if rec.provider.is_empty() {
            facts.provider.as_deref().unwrap_or(NONE)
        } else {
            &rec.provider
        };
        let fallback;
        let model = match (&facts.model_label, rec.model.is_empty()) {
            (Some(l), _) => &**l,
            (None, true) => NONE,
            (None, false) => {
                fallback = self.catalog_label(&rec.model);
                &*fallback
            }
        };
        let status = RequestStatus::of(rec, facts.attempts);
        let p = self.provider(provider);
        self.model(&p, model).observe(rec, status);
        if rec.stream && rec.error_message.is_some() && facts.cancelled {
            p.stream_cancelled();
        }
        if rec.status == 429 {
            let kind = if facts.saturated {
                "provider"
            } else if facts.attempts > 0 {
                "upstream"
            } else {
                "plugin"
            };
            self.rate_limited(kind);
        }
        self.key(&rec.api_key_id).observe(rec);
    }

    /// A record emitted outside a request scope: the model's label from the
    /// catalog alone.
    fn catalog_label(&self, model: &str) -> Arc<str> {
        series::catalog_label(&self.model_labels, self.catalog.get().map(|c| &**c), model)
    }

    /// The model catalog was loaded (used for labels of unscoped records).
    pub fn set_catalog(&self, catalog: Arc<ferro_types::catalog::Catalog>) {
        self.catalog_loaded(catalog.len());
        let _ = self.catalog.set(catalog);
    }

    /// The model catalog was loaded with `models` entries.
    pub fn catalog_loaded(&self, models: usize) {
        self.scrape.catalog_loads.inc();
        self.scrape
            .catalog_models
            .set(i64::try_from(models).unwrap_or(i64::MAX));
    }

    /// One 429 of `key_type`.
    pub fn rate_limited(&self, key_type: &str) {
        if let Ok(c) = self
            .f
            .rate_limited
            .get_metric_with_label_values(&[key_type])
        {
            c.inc();
        }
    }

    /// One upstream attempt of `provider` ended after `took`; `err` when it failed.
    pub fn attempt(&self, provider: &ProviderSeries, took: Duration, err: Option<ErrorKind>) {
        provider.attempt(took, err);
    }

    /// A target was skipped without an attempt (open circuit, full queue).
    pub fn refused(&self, provider: &str, why: ErrorKind) {
        self.provider(provider).error(why);
    }

    /// The label of a routed model: the id itself when the catalog or the
    /// config knows it, else `other`.
    pub fn model_label(&self, rt: &crate::state::Runtime, model: &str) -> Arc<str> {
        series::model_label(&self.model_labels, rt, model)
    }
}

/// What the request path learned about a request besides its record.
#[derive(Debug, Clone, Default)]
pub struct RequestFacts {
    /// Upstream attempts made.
    pub attempts: u32,
    /// Provider of the last attempt.
    pub provider: Option<Arc<str>>,
    /// Label of the routed model (`None`: the request never reached routing).
    pub model_label: Option<Arc<str>>,
    /// The last refusal was a full concurrency queue.
    pub saturated: bool,
    /// A stream ended because the client went away.
    pub cancelled: bool,
}

#[cfg(test)]
mod tests;
