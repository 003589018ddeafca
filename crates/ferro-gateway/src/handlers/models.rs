//! `GET /v1/models` and the native `GET /v1/models/{id}` (★4).

use super::HResult;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use bytes::Bytes;
use ferro_types::ApiError;
use http::{header, HeaderValue};
use std::sync::Arc;

pub async fn list(State(state): State<Arc<AppState>>) -> HResult {
    let rt = state.runtime.load_full();
    let body = Bytes::copy_from_slice(rt.router.models_json());
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

pub async fn retrieve(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> HResult {
    let rt = state.runtime.load_full();
    let info = rt
        .router
        .model_info(&id)
        .ok_or_else(ApiError::model_not_found)?;
    let mut r = Bytes::from(serde_json::to_vec(&info).unwrap_or_default()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(r)
}
