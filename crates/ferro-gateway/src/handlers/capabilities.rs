//! `GET /v1/capabilities` (CONTRACT §1.4): for every provider named by a
//! configured (routable) target, how each OpenAI chat parameter reaches it —
//! `forward`, `translate` or `unsupported` — and, for providers whose image
//! surface can only produce some `response_format` values, which ones.
//!
//! Both come from the one declarative matrix ([`ferro_providers::params`]),
//! the same rows the translating adapters enforce
//! `compatibility.on_unsupported_param` with. Keys are target names (for
//! env-registered providers, the provider id); a provider absent from
//! `image_response_formats` is unconstrained.

use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use ferro_providers::params;
use ferro_providers::spec::Operation;
use http::{header, HeaderValue, StatusCode};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// The capabilities document of the running configuration.
pub fn document(state: &AppState) -> Value {
    let rt = state.runtime.load();
    let mut providers = Map::new();
    let mut formats = Map::new();
    for t in &rt.router.targets {
        let Some(inst) = &t.instance else { continue };
        if providers.contains_key(&t.name) {
            continue;
        }
        providers.insert(t.name.clone(), Value::Object(params::profile(inst.spec.id)));
        if inst.spec.supports(Operation::Images) {
            if let Some(f) = params::image_response_formats(inst.spec.id) {
                formats.insert(t.name.clone(), json!(f));
            }
        }
    }
    json!({"providers": providers, "image_response_formats": formats})
}

pub async fn capabilities(State(state): State<Arc<AppState>>) -> Response {
    let body = serde_json::to_vec(&document(&state)).unwrap_or_default();
    let mut resp = (StatusCode::OK, Bytes::from(body)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
