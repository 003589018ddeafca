//! `/v1/*` pass-through to OpenAI-wire providers (CONTRACT §1.4): provider from
//! `X-Provider` or the body's `model`; path traversal refused before any
//! credential is attached; echoed credentials redacted from error answers.

use super::HResult;
use crate::body::read_json;
use crate::error::error_response;
use crate::middleware::RequestCtx;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use bytes::Bytes;
use ferro_providers::spec::Operation;
use ferro_types::json::JsonObject;
use ferro_types::{ApiError, ErrorType};
use futures_util::StreamExt;
use http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use percent_encoding::percent_decode_str;
use std::sync::Arc;

/// Error bodies larger than this are replaced instead of scanned.
const MAX_SCANNED_ERROR_BODY: usize = 256 * 1024;

const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
];

/// True when `path` (decoded up to 8 times) contains a `..` segment or a backslash.
pub fn is_traversal(path: &str) -> bool {
    let mut cur = path.to_owned();
    for _ in 0..8 {
        if cur.split('/').any(|seg| seg == ".." || seg == ".") || cur.contains('\\') {
            return true;
        }
        let next = percent_decode_str(&cur).decode_utf8_lossy().into_owned();
        if next == cur {
            return false;
        }
        cur = next;
    }
    // still changing after 8 passes: refuse
    true
}

fn err(status: u16, kind: ErrorType, code: &'static str, msg: &'static str) -> ApiError {
    ApiError::new(status, kind, code, msg)
}

pub async fn passthrough(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Extension(identity): Extension<crate::auth::Identity>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> HResult {
    let rt = state.runtime.load_full();
    let rest = uri.path().strip_prefix("/v1").unwrap_or(uri.path());
    if is_traversal(rest) || uri.query().is_some_and(is_traversal) {
        return Err(err(
            400,
            ErrorType::InvalidRequestError,
            "invalid_proxy_path",
            "invalid proxy path",
        )
        .into());
    }
    let has_body = !matches!(
        method,
        Method::GET | Method::HEAD | Method::DELETE | Method::OPTIONS
    );
    let bytes = if has_body {
        read_json(&headers, body, rt.max_request_bytes)
            .await
            .or_else(|e| {
                // Non-JSON bodies are allowed through when the provider is named explicitly.
                if e.status == 415 && headers.contains_key("x-provider") {
                    Ok(Bytes::new())
                } else {
                    Err(e)
                }
            })?
    } else {
        Bytes::new()
    };
    let tid = match headers.get("x-provider").and_then(|v| v.to_str().ok()) {
        Some(p) => rt
            .router
            .targets
            .iter()
            .position(|t| t.name == p)
            .ok_or_else(|| {
                err(
                    404,
                    ErrorType::InvalidRequestError,
                    "provider_not_found",
                    "X-Provider does not name a configured target",
                )
            })?,
        None => {
            let model = JsonObject::parse(&bytes).ok().and_then(|o| {
                o.get_non_null("model")
                    .and_then(|m| serde_json::from_str::<String>(m.get()).ok())
            });
            match model {
                Some(m) => rt
                    .router
                    .resolve(&m, Operation::Chat)
                    .map(|r| r.candidates[0])
                    .ok_or_else(ApiError::model_not_found)?,
                None => {
                    return Err(err(
                        400,
                        ErrorType::InvalidRequestError,
                        "provider_not_resolved",
                        "set the X-Provider header or a model in the body",
                    )
                    .into())
                }
            }
        }
    };
    let inst = rt
        .router
        .instance(tid)
        .ok_or_else(|| {
            err(
                404,
                ErrorType::InvalidRequestError,
                "provider_not_found",
                "the provider of this target is not registered",
            )
        })?
        .clone();
    if !inst.spec.proxiable() {
        return Err(err(
            501,
            ErrorType::InvalidRequestError,
            "proxy_not_supported",
            "this provider does not support pass-through",
        )
        .into());
    }

    let mut extra: Vec<(HeaderName, HeaderValue)> = Vec::with_capacity(headers.len() + 3);
    for (k, v) in &headers {
        let name = k.as_str();
        if HOP_BY_HOP.contains(&name)
            || name == "authorization"
            || name == "x-provider"
            || name == "content-length"
            || name == "cookie"
            || inst.headers.iter().any(|(ik, _)| ik == k)
        {
            continue;
        }
        extra.push((k.clone(), v.clone()));
    }
    if let Some(host) = headers.get(header::HOST) {
        extra.push((HeaderName::from_static("x-forwarded-host"), host.clone()));
    }
    extra.push((
        HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_static("http"),
    ));

    let opaque = has_body
        && headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|ct| !ct.as_bytes().starts_with(b"application/json"));
    let mut gov =
        crate::governance::admit_passthrough(&rt, &ctx, &identity, &bytes, opaque).await?;
    let url = inst.passthrough_url(rest, uri.query());
    let body_opt = (has_body && !bytes.is_empty()).then_some(bytes);
    let up = state
        .client
        .send(&inst, method, &url, body_opt, &extra)
        .await
        .map_err(|_| {
            err(
                502,
                ErrorType::ServerError,
                "upstream_error",
                "could not reach the upstream provider",
            )
        });
    let up = gov.check(up).await?;
    gov.finish_passthrough(up.status).await;

    let status = StatusCode::from_u16(up.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut out_headers = HeaderMap::new();
    for (k, v) in &up.headers {
        if HOP_BY_HOP.contains(&k.as_str()) || k == "set-cookie" {
            continue;
        }
        out_headers.append(k.clone(), v.clone());
    }
    if let Ok(v) = HeaderValue::from_str(&inst.name) {
        out_headers.insert(HeaderName::from_static("x-gateway-provider"), v);
    }
    let _ = &ctx;

    if status.is_success() {
        let stream = match up.body {
            ferro_providers::client::UpstreamBody::Stream(s) => s,
            ferro_providers::client::UpstreamBody::Full(b) => {
                futures_util::stream::once(async move { Ok(b) }).boxed()
            }
        };
        let mut resp = Response::new(Body::from_stream(stream));
        *resp.status_mut() = status;
        *resp.headers_mut() = out_headers;
        return Ok(resp);
    }

    // Non-2xx: scan headers and body for credentials the gateway holds.
    for v in out_headers.values_mut() {
        if let Ok(s) = v.to_str() {
            let r = rt.redactor.redact(s);
            if let std::borrow::Cow::Owned(o) = r {
                if let Ok(nv) = HeaderValue::from_str(&o) {
                    *v = nv;
                }
            }
        }
    }
    let compressed = out_headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|e| e.as_bytes() != b"identity");
    let body = match up.into_bytes(MAX_SCANNED_ERROR_BODY).await {
        Ok((_, _, b)) if !compressed => b,
        _ => {
            let mut r = error_response(&err(
                502,
                ErrorType::UpstreamError,
                "upstream_error",
                "the upstream provider returned an error",
            ));
            *r.status_mut() = status;
            if let Ok(v) = HeaderValue::from_str(&inst.name) {
                r.headers_mut()
                    .insert(HeaderName::from_static("x-gateway-provider"), v);
            }
            return Ok(r);
        }
    };
    let text = String::from_utf8_lossy(&body);
    let redacted = rt.redactor.redact(&text).into_owned();
    out_headers.remove(header::CONTENT_LENGTH);
    let mut resp = Response::new(Body::from(redacted));
    *resp.status_mut() = status;
    *resp.headers_mut() = out_headers;
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::is_traversal;

    #[test]
    fn traversal_detection() {
        assert!(!is_traversal("/files/abc"));
        assert!(is_traversal("/../secret"));
        assert!(is_traversal("/a/%2e%2e/b"));
        assert!(is_traversal("/a/%252e%252e/b"));
        assert!(is_traversal("/a\\b"));
        assert!(!is_traversal("/a..b/c"));
    }
}
