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
                .map(|c| rt.router.catalog().provider_models(c).count())
                .sum::<usize>()
                + p.models.len();
            json!({"name": p.name, "status": "available", "circuit": "closed", "models": catalog_models})
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
        .map(|t| json!({"name": t.name, "routable": t.instance.is_some()}))
        .collect();
    if !rt.router.has_routable_target() {
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
        .map(|p| json!({"name": p.name, "circuit": "closed"}))
        .collect();
    Json(json!({"status": "ready", "providers": providers, "targets": targets})).into_response()
}
