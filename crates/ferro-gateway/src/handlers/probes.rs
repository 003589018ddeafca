//! `/health`, `/livez`, `/readyz`: answered from memory, never by calling an upstream.

use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use serde_json::json;
use std::sync::Arc;

/// Build identity shown by `/health` and `ferrogw version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const COMMIT: &str = match option_env!("FERRO_GIT_COMMIT") {
    Some(c) => c,
    None => "unknown",
};
pub const BUILT: &str = match option_env!("FERRO_BUILD_DATE") {
    Some(c) => c,
    None => "unknown",
};

/// The circuit state of the targets served by instance `name` (the worst one).
fn circuit_of(rt: &crate::state::Runtime, name: &str) -> &'static str {
    let mut state = "closed";
    for (t, p) in rt.router.targets.iter().zip(&rt.router.policies) {
        if t.instance.as_ref().is_some_and(|i| i.name == name) {
            match p.circuit_state() {
                "open" => return "open",
                "half-open" => state = "half-open",
                _ => {}
            }
        }
    }
    state
}

pub async fn health(State(state): State<Arc<AppState>>) -> Response {
    let rt = state.runtime.load_full();
    let providers: Vec<_> = rt
        .router
        .instances
        .iter()
        .map(|p| {
            let catalog_models: usize = p
                .catalog_providers()
                .iter()
                .map(|c| rt.router.catalog().provider_model_ids(c).count())
                .sum::<usize>()
                + p.models.len();
            json!({"name": p.name, "status": "available", "circuit": circuit_of(&rt, &p.name), "models": catalog_models})
        })
        .collect();
    let (status, code) = if providers.is_empty() {
        ("no_providers", StatusCode::SERVICE_UNAVAILABLE)
    } else {
        ("ok", StatusCode::OK)
    };
    (
        code,
        Json(json!({"status": status, "providers": providers, "version": VERSION, "commit": COMMIT, "built": BUILT})),
    )
        .into_response()
}

pub async fn livez() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let rt = state.runtime.load_full();
    let targets: Vec<_> = rt
        .router
        .targets
        .iter()
        .zip(&rt.router.policies)
        .map(
            |(t, p)| json!({"name": t.name, "routable": t.instance.is_some() && !p.circuit_open()}),
        )
        .collect();
    let routable = rt
        .router
        .targets
        .iter()
        .zip(&rt.router.policies)
        .any(|(t, p)| t.instance.is_some() && !p.circuit_open());
    if !routable {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not_ready", "reason": "no routable targets"})),
        )
            .into_response();
    }
    let providers: Vec<_> = rt
        .router
        .instances
        .iter()
        .map(|p| json!({"name": p.name, "circuit": circuit_of(&rt, &p.name)}))
        .collect();
    Json(json!({"status": "ready", "providers": providers, "targets": targets})).into_response()
}
