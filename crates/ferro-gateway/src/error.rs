//! Turning errors into OpenAI-shaped responses, and the one classifier that maps
//! upstream outcomes to gateway errors (CONTRACT §3.2).

use crate::redact::Redactor;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use ferro_providers::client::UpstreamError;
use ferro_types::{ApiError, ErrorOrigin, ErrorType};
use http::{header, HeaderMap, HeaderValue, StatusCode};

/// An [`ApiError`] as an axum response.
#[derive(Debug)]
pub struct GwError(pub ApiError);

impl From<ApiError> for GwError {
    fn from(e: ApiError) -> Self {
        GwError(e)
    }
}

impl IntoResponse for GwError {
    fn into_response(self) -> Response {
        error_response(&self.0)
    }
}

/// Builds the JSON error response (with `Retry-After` on 429 and when hinted).
pub fn error_response(e: &ApiError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, Bytes::from(e.to_json())).into_response();
    resp.extensions_mut().insert(crate::record::ErrorInfo {
        message: e.message.to_string(),
    });
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let retry = e.retry_after.or((e.status == 429).then_some(1));
    if let Some(r) = retry {
        if let Ok(v) = HeaderValue::from_str(&r.to_string()) {
            h.insert(header::RETRY_AFTER, v);
        }
    }
    resp
}

/// A transport failure talking to the upstream.
pub fn from_transport(e: &UpstreamError) -> ApiError {
    let err = match e {
        UpstreamError::FirstByteTimeout | UpstreamError::IdleTimeout => ApiError::new(
            504,
            ErrorType::UpstreamError,
            "upstream_timeout",
            "the upstream provider did not respond in time",
        ),
        UpstreamError::Connect(_) | UpstreamError::Io(_) => ApiError::new(
            502,
            ErrorType::UpstreamError,
            "upstream_error",
            "could not reach the upstream provider",
        ),
    };
    err.with_origin(ErrorOrigin::Transport)
}

/// The request's overall deadline (`request_timeout`) passed.
pub fn gateway_timeout() -> ApiError {
    ApiError::new(
        504,
        ErrorType::UpstreamError,
        "gateway_timeout",
        "the request timed out",
    )
    .with_origin(ErrorOrigin::Deadline)
}

/// Best-effort message out of an upstream error body (OpenAI or vendor shapes).
fn upstream_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let m = v
        .pointer("/error/message")
        .or_else(|| v.get("message"))
        .or_else(|| v.get("error").filter(|e| e.is_string()))
        .or_else(|| v.get("detail").filter(|e| e.is_string()))?;
    m.as_str()
        .map(|s| ferro_types::json::truncate(s, 1024).to_owned())
}

fn retry_after(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| (s.ceil() as u64).min(3600))
}

/// Maps a non-2xx upstream answer to the gateway's error.
pub fn from_upstream_status(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    redactor: &Redactor,
) -> ApiError {
    let e = classify_status(status, headers, body, redactor);
    let e = match retry_after(headers) {
        Some(r) if e.retry_after.is_none() => e.with_retry_after(r),
        _ => e,
    };
    e.with_origin(ErrorOrigin::Upstream(status))
}

fn classify_status(status: u16, headers: &HeaderMap, body: &[u8], redactor: &Redactor) -> ApiError {
    let msg = |fallback: &'static str| -> std::borrow::Cow<'static, str> {
        match upstream_message(body) {
            Some(m) => redactor.redact(&m).into_owned().into(),
            None => fallback.into(),
        }
    };
    match status {
        401 | 403 => ApiError::new(
            502,
            ErrorType::UpstreamError,
            "upstream_auth_error",
            "the upstream provider rejected the gateway's credentials",
        ),
        400 | 422 => ApiError::new(
            status,
            ErrorType::InvalidRequestError,
            "invalid_request",
            msg("the upstream provider rejected the request"),
        ),
        404 => ApiError::new(
            404,
            ErrorType::InvalidRequestError,
            "model_not_found",
            "the provider that serves this model no longer offers it",
        ),
        408 | 504 => ApiError::new(
            504,
            ErrorType::UpstreamError,
            "upstream_timeout",
            "the upstream provider timed out",
        ),
        429 => {
            let e = ApiError::new(
                429,
                ErrorType::RateLimitError,
                "rate_limit_exceeded",
                msg("the upstream provider is rate limiting requests"),
            );
            e.with_retry_after(retry_after(headers).unwrap_or(1))
        }
        300..=399 => ApiError::new(
            502,
            ErrorType::UpstreamError,
            "upstream_error",
            "the upstream provider answered with a redirect, which the gateway does not follow",
        ),
        s if (400..500).contains(&s) => ApiError::new(
            s,
            ErrorType::InvalidRequestError,
            "invalid_request",
            msg("the upstream provider rejected the request"),
        ),
        _ => ApiError::new(
            502,
            ErrorType::UpstreamError,
            "upstream_error",
            "the upstream provider failed",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_mapping() {
        let r = Redactor::default();
        let h = HeaderMap::new();
        assert_eq!(
            from_upstream_status(401, &h, b"", &r).code,
            "upstream_auth_error"
        );
        assert_eq!(from_upstream_status(500, &h, b"", &r).status, 502);
        assert_eq!(
            from_upstream_status(504, &h, b"", &r).code,
            "upstream_timeout"
        );
        let e = from_upstream_status(400, &h, br#"{"error":{"message":"bad temp"}}"#, &r);
        assert_eq!((e.status, &*e.message), (400, "bad temp"));
        let mut h = HeaderMap::new();
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(from_upstream_status(429, &h, b"", &r).retry_after, Some(7));
    }
}
