//! Root middleware: trace id, security headers, method guards, and the
//! credential check of the `/v1` group.

use crate::auth::{bearer, AuthFailure, Identity};
use crate::error::error_response;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ferro_types::{ApiError, ErrorType};
use http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use rand::RngCore;
use std::sync::Arc;
use std::time::Instant;
use std::time::{SystemTime, UNIX_EPOCH};

/// Per-request facts every handler may read.
#[derive(Debug, Clone)]
pub struct RequestCtx {
    /// 32 lowercase hex chars; also the `X-Request-ID` response header.
    pub trace_id: Arc<str>,
    pub start: Instant,
}

fn is_trace_hex(s: &[u8]) -> bool {
    s.len() == 32 && s.iter().all(u8::is_ascii_hexdigit) && s.iter().any(|&b| b != b'0')
}

/// Trace id per CONTRACT §2.1: inbound `traceparent` wins, then a valid
/// `X-Request-ID` (folded to lowercase), else a fresh one.
pub fn trace_id_for(headers: &HeaderMap) -> String {
    if let Some(tp) = headers.get("traceparent").and_then(|v| v.to_str().ok()) {
        let parts: Vec<&str> = tp.trim().split('-').collect();
        if parts.len() >= 4 && parts[0].len() == 2 && is_trace_hex(parts[1].as_bytes()) {
            return parts[1].to_ascii_lowercase();
        }
    }
    if let Some(rid) = headers.get("x-request-id").map(HeaderValue::as_bytes) {
        if is_trace_hex(rid) {
            return String::from_utf8_lossy(rid).to_ascii_lowercase();
        }
    }
    minted_trace_id(SystemTime::now())
}

/// A fresh trace id that sorts by time: the first 48 bits are the Unix time in
/// milliseconds (big-endian), the other 80 are random. W3C Trace Context asks
/// for the right-most 7 bytes to be random, which holds. Minted ids therefore
/// arrive in the request log's `trace_id` index (SQLite and PostgreSQL B-trees)
/// in near-append order: a batch of rows dirties a page or two of that index
/// instead of one random leaf per row, which was ~1.6 page writes per request.
fn minted_trace_id(now: SystemTime) -> String {
    let ms = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    rand::thread_rng().fill_bytes(&mut b[6..]);
    hex::encode(b)
}

const KNOWN_METHODS: [Method; 9] = [
    Method::CONNECT,
    Method::DELETE,
    Method::GET,
    Method::HEAD,
    Method::OPTIONS,
    Method::PATCH,
    Method::POST,
    Method::PUT,
    Method::TRACE,
];

static SECURITY_HEADERS: [(HeaderName, &str); 5] = [
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=()",
    ),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
];

/// The client IP of a request (peer, or forwarded when the peer is a trusted proxy).
pub fn client_ip(state: &AppState, req: &Request) -> Option<std::net::IpAddr> {
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0);
    state.door.client_ip(peer, req.headers())
}

fn is_probe(path: &str) -> bool {
    matches!(path, "/health" | "/livez" | "/readyz")
}

fn too_many() -> Response {
    error_response(
        &ApiError::new(
            429,
            ErrorType::RateLimitError,
            "rate_limit_exceeded",
            "too many requests from this address",
        )
        .with_retry_after(1),
    )
}

/// Outermost layer: trace id in, `X-Request-ID` and security headers out, JSON
/// 405/501 for method errors, CORS, and the per-IP limiter when it covers every
/// request (`RATE_LIMIT_SCOPE=all`).
pub async fn root(State(state): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let trace_id: Arc<str> = trace_id_for(req.headers()).into();
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .filter(|o| o.to_str().is_ok_and(|o| state.door.cors_allowed(o)))
        .cloned();
    let preflight = req.method() == Method::OPTIONS && req.headers().contains_key(header::ORIGIN);
    let mut resp = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else if state.door.scope_all
        && !is_probe(req.uri().path())
        && !state.door.admit(client_ip(&state, &req))
    {
        too_many()
    } else if !KNOWN_METHODS.contains(req.method()) || req.method() == Method::CONNECT {
        error_response(&ApiError::new(
            501,
            ErrorType::InvalidRequestError,
            "method_not_supported",
            "HTTP method not supported",
        ))
    } else {
        req.extensions_mut().insert(RequestCtx {
            trace_id: trace_id.clone(),
            start: Instant::now(),
        });
        next.run(req).await
    };
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED && !is_json(resp.headers()) {
        let allow = resp.headers().get(header::ALLOW).cloned();
        resp = error_response(&ApiError::method_not_allowed());
        if let Some(a) = allow.and_then(|a| a.to_str().ok().map(normalise_allow)) {
            if let Ok(v) = HeaderValue::from_str(&a) {
                resp.headers_mut().insert(header::ALLOW, v);
            }
        }
    }
    if resp.status() == StatusCode::TOO_MANY_REQUESTS
        && resp
            .extensions()
            .get::<crate::observe::Recorded>()
            .is_none()
    {
        // refused at the door (per-IP limiter), before any routing
        state.obs.metrics.rate_limited("ip");
    }
    let h = resp.headers_mut();
    if let Some(o) = &origin {
        state.door.cors_headers(o, h, preflight);
    }
    if let Ok(v) = HeaderValue::from_str(&trace_id) {
        h.insert(HeaderName::from_static("x-request-id"), v);
    }
    for (k, v) in &SECURITY_HEADERS {
        h.insert(k.clone(), HeaderValue::from_static(v));
    }
    resp
}

fn is_json(h: &HeaderMap) -> bool {
    h.get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

fn normalise_allow(a: &str) -> String {
    a.split(',').map(str::trim).collect::<Vec<_>>().join(", ")
}

/// The "any key" tier of CONTRACT §1.2 for the `/v1` group.
pub async fn require_key(
    State(state): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    if state.settings.allow_unauthenticated {
        if !state.door.scope_all && !state.door.admit(client_ip(&state, &req)) {
            return too_many();
        }
        req.extensions_mut().insert(Identity::anonymous());
        return next.run(req).await;
    }
    let identity = match bearer(req.headers()) {
        Ok(token) => state.auth.authenticate(token).ok_or(AuthFailure::Invalid),
        Err(e) => Err(e),
    };
    // ★12: unauthenticated and failed-auth requests pay the per-IP toll.
    if identity.is_err() && !state.door.scope_all && !state.door.admit(client_ip(&state, &req)) {
        return too_many();
    }
    match identity {
        Ok(id) => {
            req.extensions_mut().insert(id);
            next.run(req).await
        }
        Err(AuthFailure::Missing) => error_response(&ApiError::new(
            401,
            ErrorType::AuthenticationError,
            "missing_api_key",
            "missing API key: send Authorization: Bearer <key>",
        )),
        Err(AuthFailure::Invalid) | Err(AuthFailure::Malformed) => error_response(&ApiError::new(
            401,
            ErrorType::AuthenticationError,
            "invalid_api_key",
            "invalid API key",
        )),
    }
}

/// Unmatched paths: JSON under `/admin` and `/v1`, else the plain-text 404.
pub async fn not_found(req: Request) -> Response {
    let path = req.uri().path();
    if path.starts_with("/admin/") || path == "/admin" {
        return error_response(&ApiError::new(
            404,
            ErrorType::NotFoundError,
            "resource_not_found",
            "not found",
        ));
    }
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Body::from("404 page not found"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_id_rules() {
        let mut h = HeaderMap::new();
        assert_eq!(trace_id_for(&h).len(), 32);
        h.insert(
            "x-request-id",
            HeaderValue::from_static("ABCDEF0123456789ABCDEF0123456789"),
        );
        assert_eq!(trace_id_for(&h), "abcdef0123456789abcdef0123456789");
        h.insert(
            "traceparent",
            HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        );
        assert_eq!(trace_id_for(&h), "4bf92f3577b34da6a3ce929d0e0e4736");
        let mut h = HeaderMap::new();
        h.insert(
            "x-request-id",
            HeaderValue::from_static("00000000000000000000000000000000"),
        );
        assert_ne!(trace_id_for(&h), "00000000000000000000000000000000");
        h.insert("x-request-id", HeaderValue::from_static("<script>"));
        assert_ne!(trace_id_for(&h), "<script>");
    }

    #[test]
    fn minted_trace_ids_sort_by_time_and_stay_unique() {
        let t0 = UNIX_EPOCH + std::time::Duration::from_millis(1_795_000_000_000);
        let a = minted_trace_id(t0);
        let b = minted_trace_id(t0);
        let c = minted_trace_id(t0 + std::time::Duration::from_millis(1));
        assert_eq!(&a[..12], &format!("{:012x}", 1_795_000_000_000u64));
        assert_eq!(&a[..12], &b[..12]);
        assert_ne!(a, b, "80 random bits differ within one millisecond");
        assert!(a < c && b < c, "a later millisecond sorts after");
        assert!(a
            .bytes()
            .all(|x| x.is_ascii_digit() || (b'a'..=b'f').contains(&x)));
        assert!(is_trace_hex(a.as_bytes()));
    }
}
