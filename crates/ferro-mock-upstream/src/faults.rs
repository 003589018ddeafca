//! Fault injection: the public [`Fault`] enum and the per-server fault state
//! (one persistent fault plus a FIFO of one-shot faults).
//!
//! The hot path is a single atomic load while no fault is armed.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// A way for the mock to misbehave on a request.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Respond with `status`. `body` defaults to the OpenAI error envelope
    /// `{"error":{"message":"mock failure","type":"server_error","code":null}}`
    /// (served as `application/json`); `retry_after` sets `Retry-After`.
    Status {
        status: u16,
        body: Option<String>,
        retry_after: Option<String>,
    },
    /// Sleep this long before the (otherwise normal) response headers.
    Delay(Duration),
    /// Close the TCP connection without writing any response.
    DropConnection,
    /// Stream requests: send `after_chunks` SSE events (the role chunk
    /// counts as the first), then abort the connection mid-body.
    /// Non-stream requests: send the headers and the first half of the JSON
    /// body, then abort.
    StreamThenError { after_chunks: usize },
    /// `302 Found` with this `Location`.
    Redirect { location: String },
}

/// Default body of [`Fault::Status`].
pub(crate) const DEFAULT_FAULT_BODY: &str =
    r#"{"error":{"message":"mock failure","type":"server_error","code":null}}"#;

#[derive(Default)]
struct Inner {
    persistent: Option<Fault>,
    queue: VecDeque<Fault>,
}

impl Inner {
    fn armed(&self) -> bool {
        self.persistent.is_some() || !self.queue.is_empty()
    }
}

/// Fault state shared by all connections of one server.
#[derive(Default)]
pub(crate) struct FaultState {
    armed: AtomicBool,
    inner: Mutex<Inner>,
}

impl FaultState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn set(&self, fault: Fault) {
        let mut inner = self.lock();
        inner.persistent = Some(fault);
        self.armed.store(true, Ordering::Release);
    }

    pub(crate) fn push(&self, fault: Fault) {
        let mut inner = self.lock();
        inner.queue.push_back(fault);
        self.armed.store(true, Ordering::Release);
    }

    pub(crate) fn clear(&self) {
        let mut inner = self.lock();
        inner.persistent = None;
        inner.queue.clear();
        self.armed.store(false, Ordering::Release);
    }

    /// The fault for the next request: a queued one-shot (consumed) or else
    /// the persistent one. Lock-free when nothing is armed.
    pub(crate) fn next(&self) -> Option<Fault> {
        if !self.armed.load(Ordering::Acquire) {
            return None;
        }
        let mut inner = self.lock();
        if let Some(f) = inner.queue.pop_front() {
            let still = inner.armed();
            self.armed.store(still, Ordering::Release);
            return Some(f);
        }
        inner.persistent.clone()
    }
}

/// What a `POST /__mock/fault` body asks for.
pub(crate) enum FaultCommand {
    Clear,
    Set(Fault),
    Push(Fault),
}

/// Parse the control JSON accepted by `POST /__mock/fault`.
pub(crate) fn parse_command(body: &[u8]) -> Result<FaultCommand, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    let obj = v.as_object().ok_or("expected a JSON object")?;
    if obj.get("clear").and_then(|c| c.as_bool()) == Some(true) {
        return Ok(FaultCommand::Clear);
    }
    let str_field = |k: &str| obj.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    let fault = if let Some(status) = obj.get("status") {
        let status = status
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .filter(|s| (100..=999).contains(s))
            .ok_or("status must be an integer 100..=999")?;
        let retry_after = match obj.get("retry_after") {
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => str_field("retry_after"),
        };
        Fault::Status {
            status,
            body: str_field("body"),
            retry_after,
        }
    } else if let Some(ms) = obj.get("delay_ms") {
        let ms = ms
            .as_u64()
            .ok_or("delay_ms must be a non-negative integer")?;
        Fault::Delay(Duration::from_millis(ms))
    } else if obj.get("drop").and_then(|d| d.as_bool()) == Some(true) {
        Fault::DropConnection
    } else if let Some(n) = obj.get("stream_error_after") {
        let n = n
            .as_u64()
            .ok_or("stream_error_after must be a non-negative integer")?;
        Fault::StreamThenError {
            after_chunks: usize::try_from(n).unwrap_or(usize::MAX),
        }
    } else if let Some(location) = str_field("redirect") {
        Fault::Redirect { location }
    } else {
        return Err(
            "expected one of status, delay_ms, drop, stream_error_after, redirect, clear".into(),
        );
    };
    if obj.get("once").and_then(|o| o.as_bool()) == Some(true) {
        Ok(FaultCommand::Push(fault))
    } else {
        Ok(FaultCommand::Set(fault))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shots_run_fifo_before_persistent() {
        let s = FaultState::default();
        assert!(s.next().is_none());
        s.set(Fault::DropConnection);
        s.push(Fault::Delay(Duration::from_millis(1)));
        s.push(Fault::Redirect {
            location: "x".into(),
        });
        assert!(matches!(s.next(), Some(Fault::Delay(_))));
        assert!(matches!(s.next(), Some(Fault::Redirect { .. })));
        assert!(matches!(s.next(), Some(Fault::DropConnection)));
        assert!(matches!(s.next(), Some(Fault::DropConnection)));
        s.clear();
        assert!(s.next().is_none());
    }

    #[test]
    fn one_shot_alone_disarms_after_use() {
        let s = FaultState::default();
        s.push(Fault::DropConnection);
        assert!(s.next().is_some());
        assert!(s.next().is_none());
        assert!(!s.armed.load(Ordering::Acquire));
    }

    #[test]
    fn parses_control_commands() {
        assert!(matches!(
            parse_command(br#"{"status":503,"retry_after":2}"#),
            Ok(FaultCommand::Set(Fault::Status { status: 503, retry_after: Some(ref r), .. })) if r == "2"
        ));
        assert!(matches!(
            parse_command(br#"{"delay_ms":100,"once":true}"#),
            Ok(FaultCommand::Push(Fault::Delay(d))) if d == Duration::from_millis(100)
        ));
        assert!(matches!(
            parse_command(br#"{"drop":true}"#),
            Ok(FaultCommand::Set(Fault::DropConnection))
        ));
        assert!(matches!(
            parse_command(br#"{"clear":true}"#),
            Ok(FaultCommand::Clear)
        ));
        assert!(parse_command(br#"{"status":"x"}"#).is_err());
        assert!(parse_command(b"nope").is_err());
        assert!(parse_command(b"{}").is_err());
    }
}
