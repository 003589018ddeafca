//! Observed latency per target, for the least-latency strategy: the median of
//! a small ring of recent samples (updated lock-free enough: one short mutex).

use std::sync::Mutex;
use std::time::Duration;

const WINDOW: usize = 64;

/// Recent latencies of one target.
#[derive(Debug, Default)]
pub struct LatencyStats {
    ring: Mutex<(Vec<u32>, usize)>,
}

impl LatencyStats {
    pub fn record(&self, d: Duration) {
        let us = d.as_micros().min(u32::MAX as u128) as u32;
        let mut g = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        let (ring, next) = &mut *g;
        if ring.len() < WINDOW {
            ring.push(us);
        } else {
            ring[*next] = us;
        }
        *next = (*next + 1) % WINDOW;
    }

    /// Median of the window, `None` before the first sample.
    pub fn p50(&self) -> Option<Duration> {
        let g = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        if g.0.is_empty() {
            return None;
        }
        let mut v = g.0.clone();
        let mid = v.len() / 2;
        let (_, m, _) = v.select_nth_unstable(mid);
        Some(Duration::from_micros(u64::from(*m)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median() {
        let s = LatencyStats::default();
        assert_eq!(s.p50(), None);
        for ms in [5, 1, 9] {
            s.record(Duration::from_millis(ms));
        }
        assert_eq!(s.p50(), Some(Duration::from_millis(5)));
    }
}
