//! `POST /token`: an OAuth 2.0 token endpoint for the JWT-bearer grant
//! (RFC 7523), as Google's `oauth2.googleapis.com/token` serves service
//! accounts. It checks the shape, not the signature: a form body with
//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` and an
//! `assertion` of three base64url segments whose header says `RS256` and whose
//! claims carry `iss`, the cloud-platform `scope`, `aud`, and `iat` < `exp` ≤
//! `iat` + 3600. It answers `{"access_token":"ya29.mock-N","expires_in":3599,
//! "token_type":"Bearer"}` and remembers the token; refusals are 400
//! `{"error":"invalid_grant","error_description":…}`.

use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{json, Value};

use crate::body::MockBody;
use crate::openai::{json as json_response, next_id};
use crate::server::Shared;

const GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

fn refuse(description: &str) -> Response<MockBody> {
    json_response(
        StatusCode::BAD_REQUEST,
        Bytes::from(
            json!({"error": "invalid_grant", "error_description": description}).to_string(),
        ),
    )
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `application/x-www-form-urlencoded` value decoding.
fn form_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                out.push(hex(*b.get(i + 1)?)? * 16 + hex(*b.get(i + 2)?)?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Unpadded base64url decoding.
fn b64url(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        } as u32)
    };
    let bytes = s.as_bytes();
    if bytes.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= val(*c)? << (18 - 6 * i);
        }
        out.push((n >> 16) as u8);
        if chunk.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if chunk.len() > 3 {
            out.push(n as u8);
        }
    }
    Some(out)
}

fn segment(s: &str) -> Option<Value> {
    serde_json::from_slice(&b64url(s)?).ok()
}

fn check(assertion: &str) -> Result<(), &'static str> {
    let segs: Vec<&str> = assertion.split('.').collect();
    let [h, c, sig] = segs.as_slice() else {
        return Err("assertion is not a JWT");
    };
    let header = segment(h).ok_or("malformed JWT header")?;
    if header["alg"] != "RS256" {
        return Err("JWT must be signed with RS256");
    }
    let claims = segment(c).ok_or("malformed JWT claims")?;
    if b64url(sig).is_none_or(|s| s.len() < 128) {
        return Err("Invalid JWT Signature.");
    }
    if claims["iss"].as_str().is_none_or(str::is_empty) {
        return Err("JWT has no issuer");
    }
    if !claims["scope"]
        .as_str()
        .is_some_and(|s| s.contains("https://www.googleapis.com/auth/cloud-platform"))
    {
        return Err("JWT scope does not include cloud-platform");
    }
    if !claims["aud"]
        .as_str()
        .is_some_and(|s| s.ends_with("/token"))
    {
        return Err("JWT audience is not the token endpoint");
    }
    let (Some(iat), Some(exp)) = (claims["iat"].as_u64(), claims["exp"].as_u64()) else {
        return Err("JWT needs iat and exp");
    };
    if exp <= iat || exp - iat > 3600 {
        return Err("Invalid JWT: Token must be a short-lived token (60 minutes)");
    }
    Ok(())
}

/// Answers `POST /token`.
pub(crate) fn respond(shared: &Arc<Shared>, body: &Bytes) -> Response<MockBody> {
    let Ok(text) = std::str::from_utf8(body) else {
        return refuse("body is not a form");
    };
    let mut grant = None;
    let mut assertion = None;
    for kv in text.split('&') {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        match k {
            "grant_type" => grant = form_decode(v),
            "assertion" => assertion = form_decode(v),
            _ => {}
        }
    }
    if grant.as_deref() != Some(GRANT) {
        return json_response(
            StatusCode::BAD_REQUEST,
            Bytes::from(json!({"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}).to_string()),
        );
    }
    if let Err(e) = check(assertion.as_deref().unwrap_or("")) {
        return refuse(e);
    }
    let token = format!("ya29.mock-{}", next_id(shared));
    shared.gemini.issue(token.clone());
    json_response(
        StatusCode::OK,
        Bytes::from(
            json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"}).to_string(),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoders() {
        assert_eq!(b64url("eyJhIjoxfQ").unwrap(), br#"{"a":1}"#);
        assert_eq!(form_decode("a%3Ab+c").unwrap(), "a:b c");
        assert!(form_decode("%zz").is_none());
        assert!(check("a.b").is_err());
    }
}
