//! The axum application: routes and layers.

use crate::handlers::{capabilities, chat, models, passthrough, probes, rerank, surfaces};
use crate::middleware;
use crate::state::AppState;
use axum::routing::{any, get, post};
use axum::Router;
use std::sync::Arc;

/// Builds the full application for `state`.
pub fn build(state: Arc<AppState>) -> Router {
    // Routed surfaces: one terminal record per request.
    let routed = Router::new()
        .route("/v1/chat/completions", post(chat::chat_completions))
        .route("/v1/completions", post(chat::completions))
        .route("/v1/embeddings", post(surfaces::embeddings))
        .route("/v1/images/generations", post(surfaces::images))
        .route("/v1/moderations", post(surfaces::moderations))
        .route("/v1/rerank", post(rerank::rerank))
        .route("/v1/{*rest}", any(passthrough::passthrough))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::record::record_layer,
        ));
    let v1 = Router::new()
        .route("/v1/models", get(models::list))
        .route("/v1/models/{*id}", get(models::retrieve))
        .route("/v1/capabilities", get(capabilities::capabilities))
        .merge(routed)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::require_key,
        ));
    let routes = Router::new()
        .route("/health", get(probes::health))
        .route("/livez", get(probes::livez))
        .route("/readyz", get(probes::readyz))
        .route("/metrics", get(crate::metrics::handler))
        .merge(v1)
        .merge(crate::admin::routes(state.clone()))
        .fallback(middleware::not_found)
        .with_state(state.clone());
    // The root layer must wrap the whole router, not each route: axum adds the
    // `Allow` header of a 405 outside per-route layers.
    Router::new()
        .fallback_service(routes)
        .layer(axum::middleware::from_fn_with_state(
            state,
            middleware::root,
        ))
}
