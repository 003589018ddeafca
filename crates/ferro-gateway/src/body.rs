//! Reading request bodies: content type, encoding and size checked before and
//! while reading; a stalled body times out.

use axum::body::Body;
use bytes::Bytes;
use ferro_types::{ApiError, ErrorType};
use http::{header, HeaderMap};
use http_body_util::BodyExt;
use std::time::Duration;

/// Longest a client may take to send its body.
pub const BODY_STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads a JSON request body of at most `limit` bytes.
pub async fn read_json(headers: &HeaderMap, body: Body, limit: u64) -> Result<Bytes, ApiError> {
    for single in [
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::CONTENT_ENCODING,
    ] {
        if headers.get_all(&single).iter().nth(1).is_some() {
            return Err(ApiError::invalid_request(format!(
                "duplicate {single} header"
            )));
        }
    }
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("").trim().to_ascii_lowercase();
        let mime = ct.split(';').next().unwrap_or("").trim();
        if mime != "application/json" && !mime.ends_with("+json") {
            return Err(ApiError::new(
                415,
                ErrorType::InvalidRequestError,
                "invalid_request",
                "Content-Type must be application/json",
            ));
        }
    }
    if let Some(enc) = headers.get(header::CONTENT_ENCODING) {
        if !enc.as_bytes().eq_ignore_ascii_case(b"identity") {
            return Err(ApiError::new(
                415,
                ErrorType::InvalidRequestError,
                "invalid_request",
                "Content-Encoding is not supported on request bodies",
            ));
        }
    }
    if let Some(len) = headers.get(header::CONTENT_LENGTH) {
        let len: u64 = len
            .to_str()
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| ApiError::invalid_request("invalid Content-Length"))?;
        if len > limit {
            return Err(ApiError::too_large(limit));
        }
    }
    let limited = http_body_util::Limited::new(body, limit as usize);
    match tokio::time::timeout(BODY_STALL_TIMEOUT, limited.collect()).await {
        Err(_) => Err(ApiError::new(
            408,
            ErrorType::InvalidRequestError,
            "request_timeout",
            "the request body was not received in time",
        )),
        Ok(Err(e)) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(ApiError::too_large(limit))
            } else {
                Err(ApiError::invalid_request("could not read the request body"))
            }
        }
        Ok(Ok(c)) => Ok(c.to_bytes()),
    }
}
