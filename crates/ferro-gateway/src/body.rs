//! Reading request bodies: content type, encoding and size checked before and
//! while reading; a stalled body times out.

use crate::error::GwError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{FromRequest, Request};
use bytes::Bytes;
use ferro_types::{ApiError, ErrorType};
use http::{header, HeaderMap};
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::Duration;

/// Longest a client may take to send its body.
pub const BODY_STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Bodies up to this size are copied out of the connection's read buffer (see
/// [`unshare`]).
const UNSHARE_MAX: usize = 64 * 1024;

/// A handler's JSON request body, read by [`read_json`] under the runtime's
/// `max_request_bytes`. As the last extractor it takes the whole request: the
/// head is checked and dropped here, so a handler waiting on an upstream holds
/// neither the headers nor (see [`unshare`]) a slice of hyper's read buffer.
pub struct JsonBody(pub Bytes);

impl FromRequest<Arc<AppState>> for JsonBody {
    type Rejection = GwError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, GwError> {
        let limit = state.runtime.load().max_request_bytes;
        let (parts, body) = req.into_parts();
        let bytes = read_json(&parts.headers, body, limit).await?;
        Ok(JsonBody(bytes))
    }
}

/// A body that arrived in one read shares hyper's per-connection read buffer
/// (8 KiB or more) with the request head; holding it for the whole upstream
/// call would make hyper allocate a second buffer for the connection's next
/// read. A small body is cheaper to copy than that buffer is to keep.
fn unshare(b: Bytes) -> Bytes {
    if b.len() <= UNSHARE_MAX {
        Bytes::copy_from_slice(&b)
    } else {
        b
    }
}

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
        Ok(Ok(c)) => Ok(unshare(c.to_bytes())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_bodies_leave_the_read_buffer_large_ones_keep_it() {
        // a body sliced out of a larger connection buffer, as hyper hands it over
        let conn_buf = Bytes::from(vec![b'x'; 8192]);
        let body = conn_buf.slice(100..400);
        let owned = unshare(body.clone());
        assert_eq!(owned, body);
        assert_ne!(owned.as_ptr(), body.as_ptr(), "small body must be copied");

        let big = Bytes::from(vec![b'y'; UNSHARE_MAX + 1]);
        let kept = unshare(big.clone());
        assert_eq!(kept.as_ptr(), big.as_ptr(), "large body is not copied");
    }
}
