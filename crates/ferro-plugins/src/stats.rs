//! Per-plugin, per-stage latency and outcome counters, process-wide and
//! monotonic across config reloads, for the metrics exporter.

use crate::Stage;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Counters of one plugin at one stage. `stage` is `before_request`,
/// `after_request` (JSON answers and stream deltas), `on_error` or `log`.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginStat {
    /// Plugin name.
    pub plugin: &'static str,
    /// Stage name.
    pub stage: &'static str,
    /// Hook invocations.
    pub calls: u64,
    /// Denials.
    pub denials: u64,
    /// Failures (panics included), fail-open ones too.
    pub failures: u64,
    /// Total time spent in the hook.
    pub total_seconds: f64,
    /// Slowest single invocation.
    pub max_seconds: f64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    calls: AtomicU64,
    denials: AtomicU64,
    failures: AtomicU64,
    nanos: AtomicU64,
    max_nanos: AtomicU64,
}

/// How a timed hook ended.
pub(crate) enum Ended {
    Ok,
    Denied,
    Failed,
}

impl Counters {
    pub(crate) fn record(&self, took: Duration, ended: Ended) {
        let n = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.nanos.fetch_add(n, Ordering::Relaxed);
        self.max_nanos.fetch_max(n, Ordering::Relaxed);
        match ended {
            Ended::Ok => {}
            Ended::Denied => {
                self.denials.fetch_add(1, Ordering::Relaxed);
            }
            Ended::Failed => {
                self.failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

type Registry = Mutex<BTreeMap<(&'static str, &'static str), Arc<Counters>>>;

fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(Default::default)
}

/// The counters of `plugin` at `stage` (created on first use; taken at build
/// time, so the request path never locks).
pub(crate) fn counters(plugin: &'static str, stage: &'static str) -> Arc<Counters> {
    let mut r = registry().lock().unwrap_or_else(|p| p.into_inner());
    r.entry((plugin, stage)).or_default().clone()
}

/// Stage key of the log hook.
pub(crate) const LOG: &str = "log";

pub(crate) fn stage_key(s: Stage) -> &'static str {
    s.as_str()
}

/// A snapshot of every plugin's counters, sorted by plugin then stage.
pub fn stats() -> Vec<PluginStat> {
    let r = registry().lock().unwrap_or_else(|p| p.into_inner());
    r.iter()
        .map(|((plugin, stage), c)| PluginStat {
            plugin,
            stage,
            calls: c.calls.load(Ordering::Relaxed),
            denials: c.denials.load(Ordering::Relaxed),
            failures: c.failures.load(Ordering::Relaxed),
            total_seconds: c.nanos.load(Ordering::Relaxed) as f64 / 1e9,
            max_seconds: c.max_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_accumulate() {
        let c = counters("stats-test", "before_request");
        c.record(Duration::from_micros(3), Ended::Ok);
        c.record(Duration::from_micros(5), Ended::Denied);
        let s = stats()
            .into_iter()
            .find(|s| s.plugin == "stats-test")
            .unwrap_or_else(|| panic!("registered"));
        assert_eq!((s.calls, s.denials, s.failures), (2, 1, 0));
        assert!((s.max_seconds - 5e-6).abs() < 1e-9);
    }
}

/// One plugin hook call, as reported to the hook observer (per hook, never
/// per stream chunk).
#[derive(Debug, Clone, Copy)]
pub struct HookCall {
    /// Plugin name (`rate-limit`, `pii-redact`, …).
    pub plugin: &'static str,
    /// `before_request`, `after_request`, `on_error` or `log`.
    pub stage: &'static str,
    /// How long the hook ran.
    pub took: std::time::Duration,
    /// `ok`, `denied` or `failed`.
    pub outcome: &'static str,
}

static OBSERVER: std::sync::OnceLock<fn(&HookCall)> = std::sync::OnceLock::new();

/// Installs the process-wide hook observer (the gateway's tracing installs
/// one when spans are exported; without it a hook call costs nothing extra).
/// Returns `false` when one was already installed.
pub fn observe_hooks(f: fn(&HookCall)) -> bool {
    OBSERVER.set(f).is_ok()
}

pub(crate) fn observer() -> Option<fn(&HookCall)> {
    OBSERVER.get().copied()
}
