//! Per-target concurrency cap with a bounded wait queue (CONTRACT §5.3):
//! at most `max_concurrency` calls in flight, at most `queue_size` waiting;
//! anything beyond is shed at once (429 `provider_saturated`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The concurrency limiter of one target.
#[derive(Debug)]
pub struct Limiter {
    sem: Arc<Semaphore>,
    max_queue: usize,
    waiting: AtomicUsize,
    max: usize,
}

/// The limiter refused: in-flight cap and queue both full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Saturated;

impl Limiter {
    pub fn new(max_concurrency: usize, queue_size: usize) -> Limiter {
        Limiter {
            sem: Arc::new(Semaphore::new(max_concurrency.max(1))),
            max_queue: queue_size,
            waiting: AtomicUsize::new(0),
            max: max_concurrency.max(1),
        }
    }

    /// Calls in flight now.
    pub fn in_flight(&self) -> usize {
        self.max - self.sem.available_permits()
    }

    /// Takes a slot, waiting in the queue if there is room.
    pub async fn acquire(&self) -> Result<OwnedSemaphorePermit, Saturated> {
        if let Ok(p) = self.sem.clone().try_acquire_owned() {
            return Ok(p);
        }
        // Reserve a queue place first so the queue bound is exact under races.
        let prev = self.waiting.fetch_add(1, Ordering::AcqRel);
        if prev >= self.max_queue {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(Saturated);
        }
        let res = self.sem.clone().acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        res.map_err(|_| Saturated)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sheds_beyond_queue() {
        let l = Arc::new(Limiter::new(1, 1));
        let p1 = l.acquire().await.unwrap();
        let l2 = l.clone();
        let waiter = tokio::spawn(async move { l2.acquire().await.map(|_| ()) });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert_eq!(l.acquire().await.err(), Some(Saturated));
        drop(p1);
        assert!(waiter.await.unwrap().is_ok());
    }
}
