//! Per-target resilience settings and state, compiled from `targets[]`
//! (CONTRACT §5.3). The stateful part ([`TargetHealth`]: breaker, limiter,
//! latency) is carried over a reload when a target keeps its name and settings,
//! so a config change does not reset open circuits or in-flight counts.

use crate::breaker::{Breaker, BreakerConfig};
use crate::limiter::Limiter;
use crate::stats::LatencyStats;
use ferro_config::{parse_duration, Target as TargetConfig};
use rand::Rng;
use std::sync::Arc;
use std::time::Duration;

/// Largest upstream `Retry-After` the gateway will wait for.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// When and how a target's calls are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts on this target (1 = no retry).
    pub attempts: u32,
    /// Statuses that are retried; empty = the default set (408, 429, 5xx).
    pub on_status: Vec<u16>,
    pub initial_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 1,
            on_status: Vec::new(),
            initial_backoff: Duration::from_millis(100),
        }
    }
}

impl RetryPolicy {
    /// Whether an upstream answer with `status` is retried. Transport errors
    /// (connect, reset, timeout) always are.
    pub fn retries_status(&self, status: u16) -> bool {
        if self.on_status.is_empty() {
            status == 408 || status == 429 || status >= 500
        } else {
            self.on_status.contains(&status)
        }
    }

    /// Full-jitter exponential backoff before attempt `n` (n ≥ 2).
    pub fn backoff(&self, n: u32) -> Duration {
        let base = self.initial_backoff.as_millis() as u64;
        let cap = base
            .saturating_mul(1u64 << (n.saturating_sub(2)).min(16))
            .min(10_000);
        if cap == 0 {
            return Duration::ZERO;
        }
        Duration::from_millis(rand::thread_rng().gen_range(0..=cap))
    }
}

/// Stateful health of one target.
#[derive(Debug)]
pub struct TargetHealth {
    pub breaker: Option<Breaker>,
    pub limiter: Option<Limiter>,
    pub latency: LatencyStats,
    limiter_cfg: Option<(usize, usize)>,
}

/// Compiled resilience settings of one target.
#[derive(Debug, Clone)]
pub struct TargetPolicy {
    pub retry: RetryPolicy,
    /// Load-balance weight (unset = 1, 0 = drained).
    pub weight: f64,
    pub health: Arc<TargetHealth>,
}

impl TargetPolicy {
    /// Compiles a target's settings, reusing `prev` health when compatible.
    pub fn compile(t: Option<&TargetConfig>, prev: Option<&TargetPolicy>) -> TargetPolicy {
        let retry = t
            .and_then(|t| t.retry.as_ref())
            .map(|r| RetryPolicy {
                attempts: u32::try_from(r.attempts.max(1)).unwrap_or(1),
                on_status: r.on_status_codes.clone(),
                initial_backoff: Duration::from_millis(r.initial_backoff_ms.unwrap_or(100)),
            })
            .unwrap_or_default();
        let breaker_cfg = t.and_then(|t| t.circuit_breaker.as_ref()).map(|cb| {
            let d = BreakerConfig::default();
            BreakerConfig {
                failure_threshold: cb.failure_threshold.unwrap_or(d.failure_threshold),
                success_threshold: cb.success_threshold.unwrap_or(d.success_threshold),
                max_half_open: cb.max_half_threshold.unwrap_or(d.max_half_open),
                timeout: cb
                    .timeout
                    .as_deref()
                    .and_then(|s| parse_duration(s).ok())
                    .unwrap_or(d.timeout),
            }
        });
        let limiter_cfg = t.and_then(|t| t.concurrency.as_ref()).map(|c| {
            (
                c.max_concurrency as usize,
                c.queue_size.unwrap_or(1000) as usize,
            )
        });
        let reuse = prev.filter(|p| {
            p.health.breaker.as_ref().map(Breaker::config) == breaker_cfg
                && p.health.limiter_cfg == limiter_cfg
        });
        let health = match reuse {
            Some(p) => p.health.clone(),
            None => Arc::new(TargetHealth {
                breaker: breaker_cfg.map(Breaker::new),
                limiter: limiter_cfg.map(|(m, q)| Limiter::new(m, q)),
                latency: LatencyStats::default(),
                limiter_cfg,
            }),
        };
        TargetPolicy {
            retry,
            weight: t.and_then(|t| t.weight).unwrap_or(1.0),
            health,
        }
    }

    pub fn circuit_open(&self) -> bool {
        self.health.breaker.as_ref().is_some_and(Breaker::is_open)
    }

    pub fn circuit_state(&self) -> &'static str {
        self.health
            .breaker
            .as_ref()
            .map(|b| b.state().as_str())
            .unwrap_or("closed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_retry_set_and_backoff_bounds() {
        let p = RetryPolicy {
            attempts: 3,
            on_status: vec![],
            initial_backoff: Duration::from_millis(100),
        };
        assert!(p.retries_status(503) && p.retries_status(429) && p.retries_status(408));
        assert!(!p.retries_status(400) && !p.retries_status(401));
        for _ in 0..100 {
            assert!(p.backoff(2) <= Duration::from_millis(100));
            assert!(p.backoff(3) <= Duration::from_millis(200));
        }
        let only = RetryPolicy {
            on_status: vec![503],
            ..p
        };
        assert!(only.retries_status(503) && !only.retries_status(500));
    }
}
