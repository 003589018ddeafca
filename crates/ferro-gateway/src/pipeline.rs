//! The one attempt loop every routed surface runs (CONTRACT §5.2–§5.3): the
//! strategy's order, circuit breakers (open targets skipped while a healthy one
//! exists), per-target concurrency caps with bounded queues, retries with
//! full-jitter backoff or the upstream's `Retry-After`, failover in pool modes,
//! and the request deadline over all of it. The caller supplies one attempt as a
//! closure; the request body it sends is a `Bytes` reused across attempts.

use crate::error::gateway_timeout;
use crate::state::Runtime;
use ferro_providers::ProviderInstance;
use ferro_router::policy::MAX_RETRY_AFTER;
use ferro_router::{Resolution, RouteInput, TargetId};
use ferro_types::{ApiError, ErrorOrigin, ErrorType};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::OwnedSemaphorePermit;

/// The attempts planned for one request.
#[derive(Debug, Clone)]
pub struct Plan {
    pub order: Vec<TargetId>,
    pub pool: bool,
}

/// A successful attempt.
pub struct Outcome<T> {
    pub value: T,
    pub target: TargetId,
    pub instance: Arc<ProviderInstance>,
    /// Upstream calls made, all targets included.
    pub attempts: u32,
    /// The concurrency slot, held until the caller drops it (streams keep it
    /// for their whole life).
    pub permit: Option<OwnedSemaphorePermit>,
}

fn unavailable() -> ApiError {
    ApiError::new(
        503,
        ErrorType::UpstreamError,
        "upstream_unavailable",
        "no healthy provider is available for this request",
    )
    .with_retry_after(1)
}

fn saturated() -> ApiError {
    ApiError::new(
        429,
        ErrorType::RateLimitError,
        "provider_saturated",
        "the provider is at its concurrency limit; retry shortly",
    )
    .with_retry_after(1)
}

/// Orders the eligible targets for this request and drops open circuits while a
/// closed one remains.
pub fn plan(rt: &Runtime, res: &Resolution<'_>, input: RouteInput<'_>) -> Result<Plan, ApiError> {
    let router = &rt.router;
    let price = |t: TargetId| {
        router
            .instance(t)
            .and_then(|i| router.pricing_entry(i, &res.model))
            .and_then(|e| e.pricing.input_per_m_tokens)
    };
    crate::observe::note_model(rt, &res.model);
    let order = router
        .strategy
        .order(&res.candidates, input, &router.policies, &price);
    if order.is_empty() {
        return Err(unavailable());
    }
    let healthy: Vec<TargetId> = order
        .iter()
        .copied()
        .filter(|t| !router.policies[*t].circuit_open())
        .collect();
    if healthy.is_empty() {
        return Err(unavailable());
    }
    Ok(Plan {
        order: healthy,
        pool: router.strategy.is_pool(),
    })
}

/// How an error bears on the breaker, retries and failover.
struct Verdict {
    trips_breaker: bool,
    retryable: bool,
    fails_over: bool,
}

fn judge(e: &ApiError, retry: &ferro_router::RetryPolicy) -> Verdict {
    match e.origin {
        ErrorOrigin::Transport => Verdict {
            trips_breaker: true,
            retryable: true,
            fails_over: true,
        },
        ErrorOrigin::Upstream(s) => Verdict {
            trips_breaker: s >= 500 || (300..400).contains(&s),
            retryable: retry.retries_status(s),
            fails_over: s >= 500 || matches!(s, 300..=399 | 401 | 403 | 404 | 408 | 429),
        },
        ErrorOrigin::Deadline | ErrorOrigin::Gateway => Verdict {
            trips_breaker: false,
            retryable: false,
            fails_over: false,
        },
    }
}

/// Runs `attempt` over the plan until one succeeds.
pub async fn execute<T, F, Fut>(
    rt: &Runtime,
    plan: &Plan,
    deadline: Option<Instant>,
    mut attempt: F,
) -> Result<Outcome<T>, ApiError>
where
    F: FnMut(TargetId, Arc<ProviderInstance>) -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let mut last: Option<ApiError> = None;
    let mut attempts = 0u32;
    for &tid in &plan.order {
        let Some(inst) = rt.router.instance(tid).cloned() else {
            continue;
        };
        let policy = &rt.router.policies[tid];
        let health = &policy.health;
        let permit = match &health.limiter {
            None => None,
            Some(l) => match l.acquire().await {
                Ok(p) => Some(p),
                Err(_) => {
                    crate::observe::refused(&inst, crate::metrics::ErrorKind::Saturated);
                    last = Some(saturated());
                    if plan.pool {
                        continue;
                    }
                    break;
                }
            },
        };
        let mut failover = true;
        for n in 1..=policy.retry.attempts.max(1) {
            if let Some(b) = &health.breaker {
                if !b.try_acquire() {
                    crate::observe::refused(&inst, crate::metrics::ErrorKind::CircuitOpen);
                    last.get_or_insert_with(unavailable);
                    break;
                }
            }
            attempts += 1;
            let t0 = Instant::now();
            let probe = crate::observe::attempt_start(&inst);
            let fut = attempt(tid, inst.clone());
            let res = match deadline {
                Some(d) => tokio::time::timeout_at(d.into(), fut)
                    .await
                    .unwrap_or_else(|_| Err(gateway_timeout())),
                None => fut.await,
            };
            let target = rt.router.targets.get(tid).map_or("", |t| t.name.as_str());
            crate::observe::attempt_end(probe, target, &inst, res.as_ref().err());
            let e = match res {
                Ok(value) => {
                    if let Some(b) = &health.breaker {
                        b.on_success();
                    }
                    health.latency.record(t0.elapsed());
                    return Ok(Outcome {
                        value,
                        target: tid,
                        instance: inst,
                        attempts,
                        permit,
                    });
                }
                Err(e) => e,
            };
            let v = judge(&e, &policy.retry);
            if let Some(b) = &health.breaker {
                if v.trips_breaker {
                    b.on_failure();
                } else {
                    b.on_neutral();
                }
            }
            if e.origin == ErrorOrigin::Deadline {
                return Err(e);
            }
            failover = v.fails_over;
            let wait = e
                .retry_after
                .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER))
                .unwrap_or_else(|| policy.retry.backoff(n + 1));
            last = Some(e);
            if !v.retryable || n == policy.retry.attempts.max(1) {
                break;
            }
            if let Some(d) = deadline {
                if Instant::now() + wait >= d {
                    return Err(gateway_timeout());
                }
            }
            tokio::time::sleep(wait).await;
        }
        if !plan.pool || !failover {
            break;
        }
    }
    Err(last.unwrap_or_else(unavailable))
}
