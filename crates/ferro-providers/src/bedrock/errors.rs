//! Bedrock error answers, seen the OpenAI way.
//!
//! Bedrock answers `{"message": "…"}` (some services `{"Message": "…"}`) with
//! the exception name in the `x-amzn-ErrorType` header, which the adapter does
//! not see; the status tells the kind. 424 (`ModelErrorException`: the model
//! failed) is the upstream's failure, seen as 502.

use serde_json::{json, Value};

/// OpenAI `type` and a Bedrock-style `code` for a status.
fn kind(status: u16) -> (&'static str, &'static str) {
    match status {
        400 => ("invalid_request_error", "ValidationException"),
        401 | 403 => ("authentication_error", "AccessDeniedException"),
        404 => ("not_found_error", "ResourceNotFoundException"),
        408 => ("server_error", "ModelTimeoutException"),
        413 => ("invalid_request_error", "RequestTooLarge"),
        429 => ("rate_limit_error", "ThrottlingException"),
        502 => ("server_error", "ModelErrorException"),
        503 => ("server_error", "ServiceUnavailableException"),
        s if s >= 500 => ("server_error", "InternalServerException"),
        _ => ("invalid_request_error", "BedrockError"),
    }
}

/// Native error body → `{"error":{"message","type","code"}}`; `None` when the
/// body is not a Bedrock error (left as is).
pub fn error_body(status: u16, body: &[u8]) -> Option<Vec<u8>> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let message = v
        .get("message")
        .or_else(|| v.get("Message"))
        .and_then(Value::as_str)?;
    let (t, code) = kind(status);
    serde_json::to_vec(&json!({"error": {"message": message, "type": t, "code": code}})).ok()
}

/// 424 (the model itself failed) is a bad gateway, worth failing over.
pub fn map_status(status: u16) -> u16 {
    if status == 424 {
        502
    } else {
        status
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn envelope() {
        let b = error_body(429, br#"{"message":"Too many requests"}"#).unwrap();
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["error"]["type"], "rate_limit_error");
        assert_eq!(v["error"]["code"], "ThrottlingException");
        assert!(error_body(500, b"<html>").is_none());
        assert_eq!(map_status(424), 502);
        assert_eq!(map_status(400), 400);
    }
}
