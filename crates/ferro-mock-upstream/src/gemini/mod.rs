//! The Google wires: a deterministic Gemini API and Vertex AI, for testing the
//! gateway's native translation end to end.
//!
//! Routes (POST only):
//! * Gemini API: `…/models/{m}:generateContent`, `:streamGenerateContent`
//!   (SSE with `?alt=sse`, frames ending in `\r\n\r\n` like Google's),
//!   `:embedContent`, `:batchEmbedContents`;
//! * Vertex AI: `…/projects/{p}/locations/{r}/publishers/google/models/{m}:`
//!   the same generate methods and `:predict` (text embeddings), and
//!   `…/publishers/anthropic/models/{m}:rawPredict` / `:streamRawPredict`
//!   (Claude on Vertex, answered by the Anthropic mock);
//! * `POST /token`: an OAuth token endpoint for service accounts (see
//!   [`token`]); the tokens it issues are the only Bearer tokens Vertex
//!   routes accept.
//!
//! Like the real APIs the mock checks credentials — Gemini: `x-goog-api-key`
//! (or `?key=`) present (else 403 `PERMISSION_DENIED`) and not [`BAD_KEY`]
//! (else 400 `API_KEY_INVALID`); Vertex: an issued Bearer token or an API key
//! (else 401 `UNAUTHENTICATED`) — and refuses unknown fields with 400
//! `INVALID_ARGUMENT` ("Invalid JSON payload received. Unknown name …"). Errors
//! use Google's envelope `{"error":{"code","message","status"}}`. Replies are
//! described in [`generate`] and [`embed`].

// Validation helpers return the ready HTTP refusal as their error: boxing it
// would buy nothing in a test double.
#![allow(clippy::result_large_err)]

mod embed;
mod generate;
mod token;
mod validate;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use serde_json::json;

use crate::body::MockBody;
use crate::openai::json as json_response;
use crate::server::Shared;

/// An API key the mock treats as invalid (like a revoked key).
pub const BAD_KEY: &str = "bad-key";

/// Tokens issued by `/token`, per server.
#[derive(Default)]
pub(crate) struct State {
    tokens: Mutex<HashSet<String>>,
}

impl State {
    fn issue(&self, token: String) {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(token);
    }

    fn knows(&self, token: &str) -> bool {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(token)
    }
}

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Token,
    /// A Google model method; `vertex` when addressed through a project.
    Google {
        vertex: bool,
        model: String,
        method: String,
    },
    /// Claude on Vertex (`rawPredict` / `streamRawPredict`).
    Anthropic {
        model: String,
        stream: bool,
    },
}

fn route(parts: &http::request::Parts) -> Option<Route> {
    if parts.method != Method::POST {
        return None;
    }
    let path = parts.uri.path();
    if path == "/token" {
        return Some(Route::Token);
    }
    let (prefix, method) = path.rsplit_once(':')?;
    let (before, model) = prefix.rsplit_once("/models/")?;
    if model.is_empty() || model.contains('/') {
        return None;
    }
    let vertex = before.contains("/projects/") && before.contains("/locations/");
    if before.ends_with("/publishers/anthropic") {
        return match method {
            "rawPredict" | "streamRawPredict" => Some(Route::Anthropic {
                model: model.to_owned(),
                stream: method == "streamRawPredict",
            }),
            _ => None,
        };
    }
    if vertex && !before.ends_with("/publishers/google") {
        return None;
    }
    match method {
        "generateContent"
        | "streamGenerateContent"
        | "embedContent"
        | "batchEmbedContents"
        | "predict" => Some(Route::Google {
            vertex,
            model: model.to_owned(),
            method: method.to_owned(),
        }),
        _ => None,
    }
}

/// Whether this request is for the Google wires.
pub(crate) fn handles(parts: &http::request::Parts) -> bool {
    route(parts).is_some()
}

/// Google's error envelope with `status` and its HTTP code.
pub(crate) fn google_error(code: StatusCode, status: &str, message: &str) -> Response<MockBody> {
    let body = json!({"error": {"code": code.as_u16(), "message": message, "status": status}});
    json_response(code, Bytes::from(body.to_string()))
}

/// 400 `INVALID_ARGUMENT`.
pub(crate) fn invalid(message: &str) -> Response<MockBody> {
    google_error(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", message)
}

/// The message Google gives for a field it does not know.
pub(crate) fn unknown_field(name: &str) -> Response<MockBody> {
    invalid(&format!(
        "Invalid JSON payload received. Unknown name \"{name}\": Cannot find field."
    ))
}

fn api_key(parts: &http::request::Parts) -> Option<&str> {
    let header = parts
        .headers
        .get("x-goog-api-key")
        .and_then(|v| v.to_str().ok());
    let query = parts
        .uri
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("key=")));
    header.or(query).map(str::trim).filter(|k| !k.is_empty())
}

fn check_key(key: &str) -> Result<(), Response<MockBody>> {
    if key != BAD_KEY {
        return Ok(());
    }
    let body = json!({"error": {
        "code": 400,
        "message": "API key not valid. Please pass a valid API key.",
        "status": "INVALID_ARGUMENT",
        "details": [{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
        }],
    }});
    Err(json_response(
        StatusCode::BAD_REQUEST,
        Bytes::from(body.to_string()),
    ))
}

fn authenticate(
    shared: &Shared,
    parts: &http::request::Parts,
    vertex: bool,
) -> Result<(), Response<MockBody>> {
    if let Some(k) = api_key(parts) {
        return check_key(k);
    }
    if !vertex {
        return Err(google_error(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
        ));
    }
    let bearer = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match bearer {
        Some(t) if shared.gemini.knows(t) => Ok(()),
        _ => Err(google_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        )),
    }
}

/// Answers a Google-wire request (call only when [`handles`] is true).
pub(crate) fn respond(
    shared: &Arc<Shared>,
    parts: &http::request::Parts,
    body: &Bytes,
    abort_after: Option<usize>,
) -> Response<MockBody> {
    let Some(route) = route(parts) else {
        return google_error(StatusCode::NOT_FOUND, "NOT_FOUND", "Not found");
    };
    match route {
        Route::Token => token::respond(shared, body),
        Route::Anthropic { model, stream } => {
            if let Err(r) = authenticate(shared, parts, true) {
                return r;
            }
            generate::claude_on_vertex(shared, parts, body, &model, stream, abort_after)
        }
        Route::Google {
            vertex,
            model,
            method,
        } => {
            if let Err(r) = authenticate(shared, parts, vertex) {
                return r;
            }
            match method.as_str() {
                "generateContent" => {
                    generate::respond(shared, body, &model, vertex, false, abort_after)
                }
                "streamGenerateContent" => {
                    let sse = parts
                        .uri
                        .query()
                        .is_some_and(|q| q.split('&').any(|kv| kv == "alt=sse"));
                    if !sse {
                        return invalid("this mock streams only with alt=sse");
                    }
                    generate::respond(shared, body, &model, vertex, true, abort_after)
                }
                "embedContent" => embed::embed_content(body, &model),
                "batchEmbedContents" => embed::batch(body, &model),
                "predict" if vertex => embed::predict(body),
                _ => google_error(StatusCode::NOT_FOUND, "NOT_FOUND", "Method not found."),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: Method, uri: &str) -> http::request::Parts {
        let (p, _) = http::Request::builder()
            .method(method)
            .uri(uri)
            .body(())
            .unwrap()
            .into_parts();
        p
    }

    #[test]
    fn routes() {
        let r = route(&parts(
            Method::POST,
            "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
        ));
        assert_eq!(
            r,
            Some(Route::Google {
                vertex: false,
                model: "gemini-2.0-flash".into(),
                method: "streamGenerateContent".into()
            })
        );
        let r = route(&parts(
            Method::POST,
            "/v1/projects/p/locations/us-central1/publishers/google/models/text-embedding-004:predict",
        ));
        assert!(matches!(r, Some(Route::Google { vertex: true, .. })));
        let r = route(&parts(
            Method::POST,
            "/v1/projects/p/locations/r/publishers/anthropic/models/claude-sonnet-4@20250514:streamRawPredict",
        ));
        assert!(matches!(r, Some(Route::Anthropic { stream: true, .. })));
        assert_eq!(route(&parts(Method::POST, "/token")), Some(Route::Token));
        assert_eq!(
            route(&parts(Method::GET, "/v1beta/models/x:generateContent")),
            None
        );
        assert_eq!(route(&parts(Method::POST, "/v1/chat/completions")), None);
        assert_eq!(route(&parts(Method::POST, "/v1beta/models/x:other")), None);
    }
}
