//! Anthropic error bodies and statuses, seen the OpenAI way.
//!
//! Anthropic answers `{"type":"error","error":{"type":"…","message":"…"}}`
//! (also as the `error` SSE event). The envelope keeps the message, maps the
//! error type onto OpenAI's vocabulary and keeps Anthropic's type as `code`,
//! so a client can still tell `overloaded_error` from `api_error`.

use serde::Deserialize;

/// Anthropic's "overloaded" status.
pub const OVERLOADED: u16 = 529;

#[derive(Deserialize)]
struct Body {
    error: Detail,
}

/// The `error` object of an Anthropic error body or `error` event.
#[derive(Deserialize, Debug, Clone, Default)]
pub struct Detail {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// Parses `{"type":"error","error":{…}}` (also without the outer `type`).
pub fn parse(body: &[u8]) -> Option<Detail> {
    serde_json::from_slice::<Body>(body).ok().map(|b| b.error)
}

/// OpenAI `type` for an Anthropic error type.
pub fn openai_type(kind: &str) -> &'static str {
    match kind {
        "invalid_request_error" | "request_too_large" => "invalid_request_error",
        "authentication_error" => "authentication_error",
        "permission_error" => "permission_error",
        "not_found_error" => "not_found_error",
        "rate_limit_error" => "rate_limit_error",
        "overloaded_error" | "api_error" | "timeout_error" => "server_error",
        _ => "upstream_error",
    }
}

/// Native error body → `{"error":{"message","type","code"}}`; `None` when the
/// body is not an Anthropic error (left as is).
pub fn error_body(_status: u16, body: &[u8]) -> Option<Vec<u8>> {
    let d = parse(body)?;
    let kind = d.kind.as_deref().unwrap_or("api_error");
    let message = d
        .message
        .as_deref()
        .unwrap_or("the upstream provider failed");
    serde_json::to_vec(&serde_json::json!({
        "error": {"message": message, "type": openai_type(kind), "code": kind}
    }))
    .ok()
}

/// Anthropic 529 (overloaded) is a 503: temporary, worth retrying elsewhere.
pub fn map_status(status: u16) -> u16 {
    if status == OVERLOADED {
        503
    } else {
        status
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn envelope_and_status() {
        let b = error_body(
            529,
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["error"]["message"], "Overloaded");
        assert_eq!(v["error"]["type"], "server_error");
        assert_eq!(v["error"]["code"], "overloaded_error");
        assert_eq!(map_status(529), 503);
        assert_eq!(map_status(401), 401);
        assert!(error_body(500, b"<html>").is_none());
    }
}
