//! One error enum mirroring the Python SDK's exception hierarchy (CONTRACT §11.3).
//!
//! | Python | Rust |
//! |---|---|
//! | `FerroAuthError` (401) | [`Error::Auth`] |
//! | `FerroBudgetExceededError` (402) | [`Error::BudgetExceeded`] |
//! | `FerroPermissionError` (403) | [`Error::Permission`] |
//! | `FerroNotFoundError` (404) | [`Error::NotFound`] |
//! | `FerroRateLimitError` (429, `retry_after`) | [`Error::RateLimit`] |
//! | `FerroServerError` (≥ 500) | [`Error::Server`] |
//! | `FerroAPIError` (any other non-2xx) | [`Error::Api`] |
//! | `FerroConnectionError` | [`Error::Connection`] |
//! | `FerroStreamError` | [`Error::Stream`] |
//!
//! Rust additions: [`Error::Decode`] (a 2xx body that is not the expected
//! JSON), [`Error::Config`] (the builder refused a setting) and
//! [`Error::InvalidArgument`] (a call refused before anything was sent).

use crate::secret::SecretString;
use crate::untrusted::{self, Untrusted};
use reqwest::header::HeaderMap;
use serde_json::Value;
use std::fmt;
use std::time::Duration;

/// Longest message kept from a server reply (bytes); the rest is cut.
const MAX_MESSAGE: usize = 2048;

/// What the gateway said about a failed request.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status; `None` for errors raised locally (e.g. no API key, or
    /// `models().retrieve` not finding an id).
    pub status: Option<u16>,
    /// `error.code` (else top-level `code`), e.g. `invalid_api_key`.
    pub code: Option<String>,
    /// `error.message` (else top-level `message`, else the body text), with
    /// the client's own API key redacted if the server echoed it.
    pub message: String,
    /// Header `x-request-id` → body `request_id` → body `trace_id` (validated
    /// like every [`Untrusted`] id).
    pub request_id: Option<Untrusted<String>>,
    /// `Retry-After` in seconds (numeric form only), as sent; set on 429.
    pub retry_after: Option<Duration>,
}

impl ApiError {
    pub(crate) fn local(code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: None,
            code: Some(code.to_owned()),
            message: message.into(),
            request_id: None,
            retry_after: None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        let mut sep = " (";
        if let Some(s) = self.status {
            write!(f, "{sep}status {s}")?;
            sep = ", ";
        }
        if let Some(c) = &self.code {
            write!(f, "{sep}code {c}")?;
            sep = ", ";
        }
        if let Some(r) = &self.request_id {
            write!(f, "{sep}request id {r}")?;
            sep = ", ";
        }
        if sep == ", " {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// Every error the SDK returns.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// 401: missing, unknown, revoked or expired key (also raised locally
    /// when no key is configured at all).
    Auth(ApiError),
    /// 402 `insufficient_quota`: the key's spend limit is exhausted.
    BudgetExceeded(ApiError),
    /// 403 `insufficient_scope`: the key lacks the scope for this route.
    Permission(ApiError),
    /// 404: unknown model, key, config version, route…
    NotFound(ApiError),
    /// 429: rate limited; see [`ApiError::retry_after`].
    RateLimit(ApiError),
    /// ≥ 500: the gateway or its upstream failed.
    Server(ApiError),
    /// Any other non-2xx status (400, 405, 409, 413, 3xx redirects…).
    Api(ApiError),
    /// The gateway could not be reached, or timed out, after all retries.
    Connection {
        /// What went wrong.
        message: String,
        /// Whether it was a timeout.
        timeout: bool,
        /// The transport error, if any.
        source: Option<reqwest::Error>,
    },
    /// A streaming response failed: a malformed frame or an `{"error":…}` frame.
    Stream {
        /// The frame's `error.message`, or what was malformed.
        message: String,
        /// The frame's `error.code` (`stream_error`, `stream_timeout`…).
        code: Option<String>,
        /// The stream's `x-request-id`.
        request_id: Option<Untrusted<String>>,
    },
    /// A successful response whose body is not the expected JSON.
    Decode {
        /// What failed to parse.
        message: String,
        /// The response's `x-request-id`.
        request_id: Option<Untrusted<String>>,
    },
    /// The client builder refused a setting (no HTTPS off loopback, a bad URL…).
    Config {
        /// Why.
        message: String,
    },
    /// A call argument was refused before anything was sent.
    InvalidArgument {
        /// Why.
        message: String,
    },
}

impl Error {
    /// The [`ApiError`] of an HTTP-status error.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Auth(e)
            | Error::BudgetExceeded(e)
            | Error::Permission(e)
            | Error::NotFound(e)
            | Error::RateLimit(e)
            | Error::Server(e)
            | Error::Api(e) => Some(e),
            _ => None,
        }
    }

    /// The HTTP status, when the error came from a response.
    pub fn status(&self) -> Option<u16> {
        self.api_error().and_then(|e| e.status)
    }

    /// The error code (`invalid_api_key`, `stream_error`…), if any.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Stream { code, .. } => code.as_deref(),
            _ => self.api_error().and_then(|e| e.code.as_deref()),
        }
    }

    /// The request id (trace id) the gateway gave this request, if known.
    pub fn request_id(&self) -> Option<&Untrusted<String>> {
        match self {
            Error::Stream { request_id, .. } | Error::Decode { request_id, .. } => {
                request_id.as_ref()
            }
            _ => self.api_error().and_then(|e| e.request_id.as_ref()),
        }
    }

    /// `Retry-After` of a 429, if the gateway sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimit(e) => e.retry_after,
            _ => None,
        }
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        match self {
            Error::Connection { message, .. }
            | Error::Stream { message, .. }
            | Error::Decode { message, .. }
            | Error::Config { message }
            | Error::InvalidArgument { message } => message,
            _ => self.api_error().map(|e| e.message.as_str()).unwrap_or(""),
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Error {
        Error::Config {
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Error {
        Error::InvalidArgument {
            message: message.into(),
        }
    }

    /// Maps a non-2xx response to its variant (CONTRACT §11.3).
    pub(crate) fn from_response(
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
        secret: &SecretString,
    ) -> Error {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let obj = parsed.as_ref().and_then(Value::as_object);
        let err_field = obj.and_then(|o| o.get("error"));
        let inner = err_field.and_then(Value::as_object);
        let str_of = |v: Option<&Value>| -> Option<String> {
            match v? {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            }
        };
        let message = if (300..400).contains(&status) {
            // A redirect's body is not an error message; say what happened.
            Some(default_message(status, headers))
        } else {
            None
        };
        let message = message
            .or_else(|| str_of(inner.and_then(|e| e.get("message"))))
            .or_else(|| err_field.and_then(Value::as_str).map(str::to_owned))
            .filter(|s| !s.is_empty())
            .or_else(|| str_of(obj.and_then(|o| o.get("message"))))
            .or_else(|| {
                let text = String::from_utf8_lossy(body);
                let text = text.trim();
                (!text.is_empty()).then(|| text.to_owned())
            })
            .unwrap_or_else(|| default_message(status, headers));
        let code = str_of(inner.and_then(|e| e.get("code")))
            .or_else(|| str_of(obj.and_then(|o| o.get("code"))));
        let request_id = request_id(headers, obj);
        let retry_after = if status == 429 {
            crate::retry::retry_after(headers)
        } else {
            None
        };
        let e = ApiError {
            status: Some(status),
            code: code.map(|c| clean(secret, &c)),
            message: clean(secret, &message),
            request_id,
            retry_after,
        };
        match status {
            401 => Error::Auth(e),
            402 => Error::BudgetExceeded(e),
            403 => Error::Permission(e),
            404 => Error::NotFound(e),
            429 => Error::RateLimit(e),
            s if s >= 500 => Error::Server(e),
            _ => Error::Api(e),
        }
    }
}

fn default_message(status: u16, headers: &HeaderMap) -> String {
    if (300..400).contains(&status) {
        let to_other = headers.contains_key(reqwest::header::LOCATION);
        return format!(
            "HTTP {status}: redirect not followed{} (the SDK never follows redirects, so credentials are not replayed)",
            if to_other { " to its Location" } else { "" }
        );
    }
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("error");
    format!("HTTP {status} {reason}")
}

/// `x-request-id` header → body `request_id` → body `trace_id`, each validated.
pub(crate) fn request_id(
    headers: &HeaderMap,
    body: Option<&serde_json::Map<String, Value>>,
) -> Option<Untrusted<String>> {
    if let Some(h) = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty())
    {
        if let Some(id) = untrusted::trace_id_from("request_id", h) {
            return Some(id);
        }
    }
    for key in ["request_id", "trace_id"] {
        if let Some(s) = body
            .and_then(|o| o.get(key))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            if let Some(id) = untrusted::trace_id_from("request_id", s) {
                return Some(id);
            }
        }
    }
    None
}

/// Redacts the key and caps the length of a server-supplied string.
pub(crate) fn clean(secret: &SecretString, s: &str) -> String {
    let mut out = secret.redact_in(s);
    if out.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Auth(e) => write!(f, "authentication error: {e}"),
            Error::BudgetExceeded(e) => write!(f, "budget exceeded: {e}"),
            Error::Permission(e) => write!(f, "permission denied: {e}"),
            Error::NotFound(e) => write!(f, "not found: {e}"),
            Error::RateLimit(e) => {
                write!(f, "rate limited: {e}")?;
                if let Some(d) = e.retry_after {
                    write!(f, "; retry after {}s", d.as_secs_f64())?;
                }
                Ok(())
            }
            Error::Server(e) => write!(f, "server error: {e}"),
            Error::Api(e) => write!(f, "API error: {e}"),
            Error::Connection { message, .. } => write!(f, "connection error: {message}"),
            Error::Stream { message, code, .. } => {
                write!(f, "stream error: {message}")?;
                if let Some(c) = code {
                    write!(f, " (code {c})")?;
                }
                Ok(())
            }
            Error::Decode { message, .. } => write!(f, "unexpected response body: {message}"),
            Error::Config { message } => write!(f, "invalid client configuration: {message}"),
            Error::InvalidArgument { message } => write!(f, "invalid argument: {message}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Connection {
                source: Some(s), ..
            } => Some(s),
            _ => None,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn map(status: u16, h: &[(&str, &str)], body: &str) -> Error {
        let mut hm = HeaderMap::new();
        for (k, v) in h {
            hm.insert(
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        Error::from_response(
            status,
            &hm,
            body.as_bytes(),
            &SecretString::from("fgw_client_secret_key"),
        )
    }

    #[test]
    fn envelope_fields_and_precedence() {
        let e = map(
            401,
            &[("x-request-id", "aaaa")],
            r#"{"error":{"message":"bad key","type":"authentication_error","code":"invalid_api_key"},"request_id":"bbbb"}"#,
        );
        assert!(matches!(e, Error::Auth(_)));
        assert_eq!(e.status(), Some(401));
        assert_eq!(e.code(), Some("invalid_api_key"));
        assert_eq!(e.message(), "bad key");
        assert_eq!(e.request_id().unwrap(), "aaaa");
        let e = map(
            404,
            &[],
            r#"{"message":"top","code":"c","request_id":"r1","trace_id":"t1"}"#,
        );
        assert_eq!((e.message(), e.code()), ("top", Some("c")));
        assert_eq!(e.request_id().unwrap(), "r1");
        let e = map(500, &[], r#"{"trace_id":"t1"}"#);
        assert_eq!(e.request_id().unwrap(), "t1");
        assert!(matches!(e, Error::Server(_)));
        let e = map(502, &[], "upstream exploded");
        assert_eq!(e.message(), "upstream exploded");
        let e = map(418, &[], "");
        assert_eq!(e.message(), "HTTP 418 I'm a teapot");
        assert!(matches!(e, Error::Api(_)));
    }

    #[test]
    fn variants_by_status() {
        assert!(matches!(map(402, &[], "{}"), Error::BudgetExceeded(_)));
        assert!(matches!(map(403, &[], "{}"), Error::Permission(_)));
        assert!(matches!(map(409, &[], "{}"), Error::Api(_)));
        assert!(matches!(map(503, &[], "{}"), Error::Server(_)));
        let e = map(429, &[("retry-after", "7")], "{}");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        let e = map(302, &[("location", "http://elsewhere/")], "");
        assert!(e.message().contains("redirect not followed"), "{e}");
    }

    #[test]
    fn echoed_key_is_redacted_and_bad_ids_dropped() {
        let e = map(
            401,
            &[("x-request-id", "not a valid id!")],
            r#"{"error":{"message":"key fgw_client_secret_key is revoked"}}"#,
        );
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("fgw_client_secret_key"), "{shown}");
        assert!(shown.contains("[REDACTED]"));
        assert!(e.request_id().is_none());
    }

    #[test]
    fn long_messages_are_capped() {
        let e = map(400, &[], &"é".repeat(5000));
        assert!(e.message().len() <= MAX_MESSAGE + 4);
    }
}
