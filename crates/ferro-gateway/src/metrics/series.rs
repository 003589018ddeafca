//! Pre-resolved metric handles per label set, so recording a request is a few
//! relaxed atomic adds on handles found by two `&str` look-ups.
//!
//! Handles are `Option`s because `prometheus` reports a label-arity mismatch as
//! a `Result`; the arities are constants of this module (checked by the unit
//! tests), so `None` never happens in practice and costs one branch.

use super::{Families, OTHER};
use crate::record::LogRecord;
use crate::state::Runtime;
use dashmap::DashMap;
use prometheus::{Counter, Histogram, IntCounter};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The `status` label of `gateway_requests_total` (the Go gateway's three values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    /// Served (2xx/3xx; a stream that ended cleanly or was abandoned by its client).
    Success,
    /// Failed after reaching an upstream, or failed in the gateway (5xx).
    Error,
    /// Refused before any upstream call (4xx: validation, guardrails, limits).
    Rejected,
}

/// What the chat relay writes as the error of a stream whose client left.
pub const CLIENT_GONE: &str = "client disconnected";

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Success => "success",
            RequestStatus::Error => "error",
            RequestStatus::Rejected => "rejected",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// Classifies a finished request.
    pub fn of(rec: &LogRecord, attempts: u32) -> RequestStatus {
        if rec.status >= 500 {
            return RequestStatus::Error;
        }
        if rec.status >= 400 {
            return if attempts == 0 {
                RequestStatus::Rejected
            } else {
                RequestStatus::Error
            };
        }
        match rec.error_message.as_deref() {
            Some(m) if rec.stream && m != CLIENT_GONE => RequestStatus::Error,
            _ => RequestStatus::Success,
        }
    }
}

/// The `error_type` label of `gateway_provider_errors_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Upstream answered 5xx (or an unusable answer): the Go gateway's `provider_error`.
    ProviderError,
    /// First-byte, idle or request deadline.
    Timeout,
    /// Connection refused, reset, DNS, TLS.
    Connection,
    /// Upstream answered 429.
    RateLimited,
    /// Upstream answered 401/403, or credentials could not be obtained.
    Auth,
    /// Upstream answered another 4xx.
    ClientError,
    /// Skipped: the target's circuit is open.
    CircuitOpen,
    /// Skipped: the target's concurrency queue is full.
    Saturated,
}

const ERROR_KINDS: usize = 8;

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::ProviderError => "provider_error",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connection => "connection",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Auth => "auth",
            ErrorKind::ClientError => "client_error",
            ErrorKind::CircuitOpen => "circuit_open",
            ErrorKind::Saturated => "saturated",
        }
    }

    /// Classifies a failed attempt.
    pub fn of(e: &ferro_types::ApiError) -> ErrorKind {
        use ferro_types::ErrorOrigin;
        match e.origin {
            ErrorOrigin::Deadline => ErrorKind::Timeout,
            ErrorOrigin::Transport if e.status == 504 => ErrorKind::Timeout,
            ErrorOrigin::Transport => ErrorKind::Connection,
            ErrorOrigin::Upstream(429) => ErrorKind::RateLimited,
            ErrorOrigin::Upstream(401 | 403) => ErrorKind::Auth,
            ErrorOrigin::Upstream(408) => ErrorKind::Timeout,
            ErrorOrigin::Upstream(s) if (400..500).contains(&s) => ErrorKind::ClientError,
            ErrorOrigin::Upstream(_) => ErrorKind::ProviderError,
            ErrorOrigin::Gateway if e.code == "upstream_auth_error" => ErrorKind::Auth,
            ErrorOrigin::Gateway if e.status == 504 => ErrorKind::Timeout,
            ErrorOrigin::Gateway => ErrorKind::ProviderError,
        }
    }
}

type Lazy<T> = OnceLock<Option<T>>;

fn lazy_counter<'a>(
    cell: &'a Lazy<IntCounter>,
    v: &prometheus::IntCounterVec,
    labels: &[&str],
) -> Option<&'a IntCounter> {
    cell.get_or_init(|| v.get_metric_with_label_values(labels).ok())
        .as_ref()
}

/// Handles of one provider label.
pub struct ProviderSeries {
    pub(crate) name: Arc<str>,
    pub(crate) models: DashMap<Box<str>, Arc<ModelSeries>>,
    errors: [Lazy<IntCounter>; ERROR_KINDS],
    outcomes: [Lazy<IntCounter>; 2],
    cancels: Lazy<IntCounter>,
    attempt_duration: Option<Histogram>,
    errors_vec: prometheus::IntCounterVec,
    attempts_vec: prometheus::IntCounterVec,
    cancels_vec: prometheus::IntCounterVec,
}

impl ProviderSeries {
    pub(crate) fn new(f: &Families, name: &str) -> ProviderSeries {
        ProviderSeries {
            name: name.into(),
            models: DashMap::new(),
            errors: Default::default(),
            outcomes: Default::default(),
            cancels: OnceLock::new(),
            attempt_duration: f
                .attempt_duration
                .get_metric_with_label_values(&[name])
                .ok(),
            errors_vec: f.provider_errors.clone(),
            attempts_vec: f.attempts.clone(),
            cancels_vec: f.stream_cancels.clone(),
        }
    }

    pub(crate) fn error(&self, kind: ErrorKind) {
        if let Some(c) = lazy_counter(
            &self.errors[kind as usize],
            &self.errors_vec,
            &[&self.name, kind.as_str()],
        ) {
            c.inc();
        }
    }

    pub(crate) fn attempt(&self, took: Duration, err: Option<ErrorKind>) {
        if let Some(h) = &self.attempt_duration {
            h.observe(took.as_secs_f64());
        }
        let (i, outcome) = match err {
            None => (0, "success"),
            Some(_) => (1, "error"),
        };
        if let Some(c) = lazy_counter(
            &self.outcomes[i],
            &self.attempts_vec,
            &[&self.name, outcome],
        ) {
            c.inc();
        }
        if let Some(k) = err {
            self.error(k);
        }
    }

    pub(crate) fn stream_cancelled(&self) {
        if let Some(c) = lazy_counter(&self.cancels, &self.cancels_vec, &[&self.name]) {
            c.inc();
        }
    }
}

/// Handles of one (provider, model) label pair.
pub struct ModelSeries {
    labels: [Arc<str>; 2],
    requests: [Lazy<IntCounter>; 3],
    ttft: OnceLock<Option<Histogram>>,
    cache_hits: Lazy<IntCounter>,
    duration: Option<Histogram>,
    tokens_in: Option<IntCounter>,
    tokens_out: Option<IntCounter>,
    cost: Option<Counter>,
    vecs: (
        prometheus::IntCounterVec,
        prometheus::HistogramVec,
        prometheus::IntCounterVec,
    ),
}

impl ModelSeries {
    pub(crate) fn new(f: &Families, provider: &str, model: &str) -> ModelSeries {
        let pm = [provider, model];
        ModelSeries {
            labels: [provider.into(), model.into()],
            requests: Default::default(),
            ttft: OnceLock::new(),
            cache_hits: OnceLock::new(),
            duration: f.duration.get_metric_with_label_values(&pm).ok(),
            tokens_in: f.tokens_in.get_metric_with_label_values(&pm).ok(),
            tokens_out: f.tokens_out.get_metric_with_label_values(&pm).ok(),
            cost: f.cost.get_metric_with_label_values(&pm).ok(),
            vecs: (f.requests.clone(), f.ttft.clone(), f.cache_hits.clone()),
        }
    }

    pub(crate) fn observe(&self, rec: &LogRecord, status: RequestStatus) {
        let [p, m] = &self.labels;
        if let Some(c) = lazy_counter(
            &self.requests[status.index()],
            &self.vecs.0,
            &[p, m, status.as_str()],
        ) {
            c.inc();
        }
        if let Some(h) = &self.duration {
            h.observe(rec.duration_ms / 1000.0);
        }
        if let Some(ttft) = rec.ttft_ms {
            let h = self
                .ttft
                .get_or_init(|| self.vecs.1.get_metric_with_label_values(&[p, m]).ok());
            if let Some(h) = h {
                h.observe(ttft / 1000.0);
            }
        }
        if let Some(c) = &self.tokens_in {
            c.inc_by(rec.usage.prompt);
        }
        if let Some(c) = &self.tokens_out {
            c.inc_by(rec.usage.completion);
        }
        if let (Some(c), Some(usd)) = (&self.cost, rec.cost_usd) {
            if usd.is_finite() && usd > 0.0 && !rec.cache_hit {
                c.inc_by(usd);
            }
        }
        if rec.cache_hit {
            if let Some(c) = lazy_counter(&self.cache_hits, &self.vecs.2, &[p, m]) {
                c.inc();
            }
        }
    }
}

/// Handles of one API key id.
pub struct KeySeries {
    requests: Option<IntCounter>,
    tokens_in: Option<IntCounter>,
    tokens_out: Option<IntCounter>,
    cost: Option<Counter>,
}

impl KeySeries {
    pub(crate) fn new(f: &Families, id: &str) -> KeySeries {
        KeySeries {
            requests: f.key_requests.get_metric_with_label_values(&[id]).ok(),
            tokens_in: f
                .key_tokens
                .get_metric_with_label_values(&[id, "input"])
                .ok(),
            tokens_out: f
                .key_tokens
                .get_metric_with_label_values(&[id, "output"])
                .ok(),
            cost: f.key_cost.get_metric_with_label_values(&[id]).ok(),
        }
    }

    pub(crate) fn observe(&self, rec: &LogRecord) {
        if let Some(c) = &self.requests {
            c.inc();
        }
        if let Some(c) = &self.tokens_in {
            c.inc_by(rec.usage.prompt);
        }
        if let Some(c) = &self.tokens_out {
            c.inc_by(rec.usage.completion);
        }
        if let (Some(c), Some(usd)) = (&self.cost, rec.cost_usd) {
            if usd.is_finite() && usd > 0.0 && !rec.cache_hit {
                c.inc_by(usd);
            }
        }
    }
}

fn other() -> Arc<str> {
    static O: OnceLock<Arc<str>> = OnceLock::new();
    O.get_or_init(|| Arc::from(OTHER)).clone()
}

/// `model` itself when the catalog or the config knows it (so a client cannot
/// mint label values), else `other`. Known ids are interned, so the steady
/// state is one look-up and a refcount increment.
pub(crate) fn model_label(
    labels: &DashMap<Box<str>, Arc<str>>,
    rt: &Runtime,
    model: &str,
) -> Arc<str> {
    if let Some(l) = labels.get(model) {
        return l.clone();
    }
    let router = &rt.router;
    let known = router.catalog().by_model_id(model).is_some()
        || router.targets.iter().any(|t| {
            t.models.iter().any(|m| m == model)
                || t.instance
                    .as_ref()
                    .is_some_and(|i| i.models.iter().any(|m| m == model))
        });
    if !known || labels.len() >= super::MAX_SERIES {
        return other();
    }
    labels
        .entry(model.into())
        .or_insert_with(|| Arc::from(model))
        .clone()
}

/// Like [`model_label`] with the catalog alone (no runtime at hand).
pub(crate) fn catalog_label(
    labels: &DashMap<Box<str>, Arc<str>>,
    catalog: Option<&ferro_types::catalog::Catalog>,
    model: &str,
) -> Arc<str> {
    if let Some(l) = labels.get(model) {
        return l.clone();
    }
    let known = catalog.is_some_and(|c| c.by_model_id(model).is_some());
    if !known || labels.len() >= super::MAX_SERIES {
        return other();
    }
    labels
        .entry(model.into())
        .or_insert_with(|| Arc::from(model))
        .clone()
}
