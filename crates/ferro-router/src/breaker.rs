//! Per-target circuit breaker (CONTRACT §5.3): `failure_threshold` consecutive
//! failures open it; after `timeout` it lets `max_half_threshold` probes through
//! (half-open); `success_threshold` successes close it, a failure re-opens it.
//!
//! State sits behind a short `std::sync::Mutex` (never held across an await):
//! a breaker is touched twice per attempt, far below contention levels that
//! would justify a lock-free design.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Breaker settings with the contract's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    pub failure_threshold: u32,
    pub success_threshold: u32,
    pub max_half_open: u32,
    pub timeout: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            success_threshold: 1,
            max_half_open: 1,
            timeout: Duration::from_secs(30),
        }
    }
}

/// Observable breaker state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

impl CircuitState {
    pub fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
            CircuitState::HalfOpen => "half-open",
        }
    }
}

#[derive(Debug)]
struct Inner {
    state: CircuitState,
    failures: u32,
    successes: u32,
    in_flight_probes: u32,
    opened_at: Option<Instant>,
}

/// A circuit breaker.
#[derive(Debug)]
pub struct Breaker {
    cfg: BreakerConfig,
    inner: Mutex<Inner>,
}

impl Breaker {
    pub fn new(cfg: BreakerConfig) -> Breaker {
        Breaker {
            cfg,
            inner: Mutex::new(Inner {
                state: CircuitState::Closed,
                failures: 0,
                successes: 0,
                in_flight_probes: 0,
                opened_at: None,
            }),
        }
    }

    pub fn config(&self) -> BreakerConfig {
        self.cfg
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Current state (an open breaker whose timeout passed reports half-open).
    pub fn state(&self) -> CircuitState {
        let g = self.lock();
        match g.state {
            CircuitState::Open if g.opened_at.is_some_and(|t| t.elapsed() >= self.cfg.timeout) => {
                CircuitState::HalfOpen
            }
            s => s,
        }
    }

    /// Whether the breaker would refuse a call now (for ordering candidates).
    pub fn is_open(&self) -> bool {
        self.state() == CircuitState::Open
    }

    /// Asks to make a call. `true` = go ahead (a half-open probe slot is taken
    /// and must be returned by `on_success` / `on_failure`).
    pub fn try_acquire(&self) -> bool {
        let mut g = self.lock();
        if g.state == CircuitState::Open {
            if g.opened_at.is_some_and(|t| t.elapsed() >= self.cfg.timeout) {
                g.state = CircuitState::HalfOpen;
                g.successes = 0;
                g.in_flight_probes = 0;
            } else {
                return false;
            }
        }
        if g.state == CircuitState::HalfOpen {
            if g.in_flight_probes >= self.cfg.max_half_open.max(1) {
                return false;
            }
            g.in_flight_probes += 1;
        }
        true
    }

    pub fn on_success(&self) {
        let mut g = self.lock();
        match g.state {
            CircuitState::Closed => g.failures = 0,
            CircuitState::HalfOpen => {
                g.in_flight_probes = g.in_flight_probes.saturating_sub(1);
                g.successes += 1;
                if g.successes >= self.cfg.success_threshold.max(1) {
                    g.state = CircuitState::Closed;
                    g.failures = 0;
                    g.opened_at = None;
                }
            }
            CircuitState::Open => {}
        }
    }

    pub fn on_failure(&self) {
        let mut g = self.lock();
        match g.state {
            CircuitState::Closed => {
                g.failures += 1;
                if g.failures >= self.cfg.failure_threshold.max(1) {
                    g.state = CircuitState::Open;
                    g.opened_at = Some(Instant::now());
                }
            }
            CircuitState::HalfOpen => {
                g.in_flight_probes = g.in_flight_probes.saturating_sub(1);
                g.state = CircuitState::Open;
                g.opened_at = Some(Instant::now());
                g.successes = 0;
            }
            CircuitState::Open => {}
        }
    }

    /// A call that neither succeeded nor failed (client gone, 4xx): frees a probe slot.
    pub fn on_neutral(&self) {
        let mut g = self.lock();
        if g.state == CircuitState::HalfOpen {
            g.in_flight_probes = g.in_flight_probes.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_half_open_closed() {
        let b = Breaker::new(BreakerConfig {
            failure_threshold: 2,
            success_threshold: 2,
            max_half_open: 1,
            timeout: Duration::from_millis(30),
        });
        assert!(b.try_acquire());
        b.on_failure();
        assert_eq!(b.state(), CircuitState::Closed);
        assert!(b.try_acquire());
        b.on_failure();
        assert_eq!(b.state(), CircuitState::Open);
        assert!(!b.try_acquire());
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(b.state(), CircuitState::HalfOpen);
        assert!(b.try_acquire());
        assert!(!b.try_acquire(), "one probe at a time");
        b.on_success();
        assert!(b.try_acquire());
        b.on_success();
        assert_eq!(b.state(), CircuitState::Closed);
        // a failed probe re-opens
        b.on_failure();
        b.on_failure();
        std::thread::sleep(Duration::from_millis(40));
        assert!(b.try_acquire());
        b.on_failure();
        assert_eq!(b.state(), CircuitState::Open);
    }
}
