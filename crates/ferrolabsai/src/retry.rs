//! The retry policy of CONTRACT §11.4, as pure functions.
//!
//! - 429 is retried for every method (the gateway did not process it);
//! - 408 and ≥ 500 only for idempotent methods (GET, HEAD, PUT, DELETE,
//!   OPTIONS): a POST may already have been processed (and billed);
//! - a connect error (incl. connect timeout) for every method: the request
//!   never left; any other timeout only for idempotent methods;
//! - delay: `Retry-After` seconds capped at 30, else full jitter
//!   `uniform(0, min(0.5·2^(n−1), 8))` s before retry `n` (1-based);
//! - streams are never retried.

use rand::Rng;
use reqwest::header::HeaderMap;
use reqwest::Method;
use std::time::Duration;

/// Default number of extra attempts.
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// Longest `Retry-After` the client will wait.
pub const RETRY_AFTER_MAX: Duration = Duration::from_secs(30);
const BACKOFF_BASE_S: f64 = 0.5;
const BACKOFF_MAX_S: f64 = 8.0;

/// Whether `method` may be re-sent after an ambiguous failure.
pub(crate) fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
    )
}

/// Whether a response with `status` may be retried for `method`.
pub(crate) fn retry_status(method: &Method, status: u16) -> bool {
    if status == 429 {
        return true;
    }
    is_idempotent(method) && (status == 408 || status >= 500)
}

/// Whether a transport failure may be retried for `method`.
pub(crate) fn retry_transport(method: &Method, connect: bool, timeout: bool) -> bool {
    connect || (timeout && is_idempotent(method))
}

/// `Retry-After` as numeric seconds (the HTTP-date form is ignored); `None`
/// when absent, not a number, negative or not finite.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let s = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    let secs: f64 = s.trim().parse().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Duration::try_from_secs_f64(secs).ok()
}

/// Upper bound of the jitter window before 1-based retry `attempt`.
pub(crate) fn backoff_cap(attempt: u32) -> f64 {
    let exp = attempt.saturating_sub(1).min(16) as i32;
    (BACKOFF_BASE_S * 2f64.powi(exp)).min(BACKOFF_MAX_S)
}

/// Delay before 1-based retry `attempt`.
pub(crate) fn delay(attempt: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(d) = retry_after {
        return d.min(RETRY_AFTER_MAX);
    }
    let cap = backoff_cap(attempt);
    Duration::from_secs_f64(rand::thread_rng().gen_range(0.0..=cap))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn status_policy() {
        for m in [Method::GET, Method::POST, Method::PUT, Method::DELETE] {
            assert!(retry_status(&m, 429), "{m}");
        }
        assert!(!retry_status(&Method::POST, 500));
        assert!(!retry_status(&Method::POST, 503));
        assert!(!retry_status(&Method::POST, 408));
        assert!(retry_status(&Method::GET, 500));
        assert!(retry_status(&Method::PUT, 502));
        assert!(retry_status(&Method::DELETE, 408));
        assert!(retry_status(&Method::HEAD, 504));
        assert!(retry_status(&Method::OPTIONS, 599));
        assert!(!retry_status(&Method::GET, 400));
        assert!(!retry_status(&Method::GET, 404));
        assert!(!retry_status(&Method::PATCH, 500));
    }

    #[test]
    fn transport_policy() {
        assert!(retry_transport(&Method::POST, true, false));
        assert!(retry_transport(&Method::POST, true, true));
        assert!(!retry_transport(&Method::POST, false, true));
        assert!(retry_transport(&Method::GET, false, true));
        assert!(!retry_transport(&Method::GET, false, false));
    }

    #[test]
    fn retry_after_parsing_and_cap() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        for (v, want) in [
            ("3", Some(Duration::from_secs(3))),
            ("1.5", Some(Duration::from_millis(1500))),
            ("0", Some(Duration::ZERO)),
            ("-1", None),
            ("NaN", None),
            ("inf", None),
            ("Wed, 21 Oct 2015 07:28:00 GMT", None),
        ] {
            h.insert("retry-after", HeaderValue::from_static(v));
            assert_eq!(retry_after(&h), want, "{v}");
        }
        assert_eq!(delay(1, Some(Duration::from_secs(120))), RETRY_AFTER_MAX);
        assert_eq!(
            delay(1, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn full_jitter_bounds() {
        assert_eq!(backoff_cap(1), 0.5);
        assert_eq!(backoff_cap(2), 1.0);
        assert_eq!(backoff_cap(3), 2.0);
        assert_eq!(backoff_cap(5), 8.0);
        assert_eq!(backoff_cap(60), 8.0);
        for attempt in 1..6 {
            for _ in 0..200 {
                let d = delay(attempt, None).as_secs_f64();
                assert!((0.0..=backoff_cap(attempt)).contains(&d));
            }
        }
    }
}
