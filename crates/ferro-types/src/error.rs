//! The OpenAI error envelope `{"error":{"message","type","code"}}` and the
//! gateway's error value, independent of any HTTP crate (status is a `u16`).

use serde::Serialize;
use std::borrow::Cow;
use std::fmt;

/// The `type` field of the error envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    InvalidRequestError,
    AuthenticationError,
    PermissionError,
    NotFoundError,
    RateLimitError,
    InsufficientQuota,
    ServerError,
    UpstreamError,
    NotImplementedError,
    StreamError,
    TimeoutError,
}

impl ErrorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::InvalidRequestError => "invalid_request_error",
            ErrorType::AuthenticationError => "authentication_error",
            ErrorType::PermissionError => "permission_error",
            ErrorType::NotFoundError => "not_found_error",
            ErrorType::RateLimitError => "rate_limit_error",
            ErrorType::InsufficientQuota => "insufficient_quota",
            ErrorType::ServerError => "server_error",
            ErrorType::UpstreamError => "upstream_error",
            ErrorType::NotImplementedError => "not_implemented_error",
            ErrorType::StreamError => "stream_error",
            ErrorType::TimeoutError => "timeout_error",
        }
    }
}

/// Where an error came from, for retry, failover and circuit-breaker decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorOrigin {
    /// Decided by the gateway (validation, routing, policy).
    #[default]
    Gateway,
    /// The upstream answered with this HTTP status.
    Upstream(u16),
    /// Connecting to or reading from the upstream failed (incl. its timeouts).
    Transport,
    /// The request's own deadline (`request_timeout`) passed.
    Deadline,
}

/// An error the gateway answers with. Carries everything the response needs:
/// status, envelope fields and an optional `Retry-After` hint.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub kind: ErrorType,
    pub code: Cow<'static, str>,
    pub message: Cow<'static, str>,
    pub retry_after: Option<u64>,
    pub origin: ErrorOrigin,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    code: &'a str,
}

impl ApiError {
    pub fn new(
        status: u16,
        kind: ErrorType,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        ApiError {
            status,
            kind,
            code: code.into(),
            message: message.into(),
            retry_after: None,
            origin: ErrorOrigin::Gateway,
        }
    }

    pub fn with_origin(mut self, origin: ErrorOrigin) -> Self {
        self.origin = origin;
        self
    }

    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// 400 `invalid_request_error` / `invalid_request`.
    pub fn invalid_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            400,
            ErrorType::InvalidRequestError,
            "invalid_request",
            message,
        )
    }

    pub fn model_not_found() -> Self {
        Self::new(
            404,
            ErrorType::InvalidRequestError,
            "model_not_found",
            "no configured provider serves the requested model",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            405,
            ErrorType::InvalidRequestError,
            "method_not_supported",
            "method not allowed for this route",
        )
    }

    pub fn too_large(limit: u64) -> Self {
        Self::new(
            413,
            ErrorType::InvalidRequestError,
            "request_too_large",
            format!("request body exceeds the {limit} byte limit"),
        )
    }

    pub fn internal(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(500, ErrorType::ServerError, "internal_error", message)
    }

    /// The JSON envelope bytes.
    pub fn to_json(&self) -> Vec<u8> {
        envelope_json(self.kind.as_str(), &self.code, &self.message)
    }
}

/// Serialises `{"error":{"message","type","code"}}`.
pub fn envelope_json(kind: &str, code: &str, message: &str) -> Vec<u8> {
    let env = Envelope {
        error: Inner {
            message,
            kind,
            code,
        },
    };
    // Serialising three &str fields cannot fail.
    serde_json::to_vec(&env).unwrap_or_else(|_| b"{\"error\":{}}".to_vec())
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_has_exactly_three_string_fields() {
        let e = ApiError::invalid_request("bad \"thing\"");
        let v: serde_json::Value = serde_json::from_slice(&e.to_json()).unwrap_or_default();
        let inner = v["error"].as_object().cloned().unwrap_or_default();
        assert_eq!(inner.len(), 3);
        assert_eq!(inner["message"], "bad \"thing\"");
        assert_eq!(inner["type"], "invalid_request_error");
        assert_eq!(inner["code"], "invalid_request");
    }
}
