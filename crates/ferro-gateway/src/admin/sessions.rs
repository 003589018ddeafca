//! Dashboard sessions (CONTRACT §4.6): `POST /admin/session` exchanges a key or
//! the master key for a `fgws_` token; list, log out, revoke one or all.
//! Session checks themselves live in the key cache (`crate::keys`).

use super::{admin_error, audit, control, ok, store_error};
use crate::auth::Identity;
use crate::error::GwError;
use crate::middleware::RequestCtx;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use ferro_store::time;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Map, Value};
use std::sync::Arc;

type HResult = Result<Response, GwError>;

pub async fn create(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    headers: HeaderMap,
) -> HResult {
    let cp = control(&state)?;
    let who = match crate::auth::bearer(&headers) {
        Ok(t) if !t.starts_with(crate::keys::SESSION_PREFIX) => state.auth.authenticate(t),
        _ => None,
    };
    let Some(who) = who else {
        audit(
            &cp,
            None,
            Some(&ctx),
            "session.create",
            None,
            "denied",
            Some("invalid credential".to_owned()),
        )
        .await;
        return Err(admin_error(401, "invalid_api_key", "invalid API key"));
    };
    let (token, rec) = cp.keys.create_session(&who).await.map_err(store_error)?;
    audit(
        &cp,
        Some(&who),
        Some(&ctx),
        "session.create",
        Some(&rec.id),
        "ok",
        None,
    )
    .await;
    Ok(super::json(
        StatusCode::CREATED,
        &json!({
            "token": token,
            "subject": rec.subject,
            "scopes": rec.scopes,
            "expires_at": time::format(rec.expires_at),
        }),
    ))
}

pub async fn logout(
    State(state): State<Arc<AppState>>,
    Extension(who): Extension<Identity>,
    Extension(ctx): Extension<RequestCtx>,
) -> HResult {
    let cp = control(&state)?;
    let Some(sid) = who.id.strip_prefix("session:") else {
        return Err(admin_error(
            400,
            "not_a_session",
            "the caller is not a dashboard session",
        ));
    };
    cp.stores
        .sessions
        .delete_session(sid)
        .await
        .map_err(store_error)?;
    reload(&state).await;
    audit(
        &cp,
        Some(&who),
        Some(&ctx),
        "session.logout",
        Some(sid),
        "ok",
        None,
    )
    .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn reload(state: &AppState) {
    if let Some(cp) = &state.control {
        if let Err(e) = cp.keys.reload().await {
            tracing::warn!(error = %e, "key cache reload failed; the poller will retry");
        }
    }
}

pub async fn list(State(state): State<Arc<AppState>>) -> HResult {
    let cp = control(&state)?;
    let sessions = cp
        .stores
        .sessions
        .list_sessions()
        .await
        .map_err(store_error)?;
    let data: Vec<Value> = sessions
        .iter()
        .map(|s| {
            let mut m = Map::new();
            m.insert("id".into(), json!(s.id));
            m.insert("credential_id".into(), json!(s.credential_id));
            m.insert("subject".into(), json!(s.subject));
            m.insert("scopes".into(), json!(s.scopes));
            m.insert("created_at".into(), json!(time::format(s.created_at)));
            if let Some(t) = s.last_seen_at {
                m.insert("last_seen_at".into(), json!(time::format(t)));
            }
            m.insert("expires_at".into(), json!(time::format(s.expires_at)));
            Value::Object(m)
        })
        .collect();
    Ok(ok(json!({ "data": data })))
}

pub async fn revoke_all(
    State(state): State<Arc<AppState>>,
    Extension(who): Extension<Identity>,
    Extension(ctx): Extension<RequestCtx>,
) -> HResult {
    let cp = control(&state)?;
    let n = cp
        .stores
        .sessions
        .delete_all_sessions()
        .await
        .map_err(store_error)?;
    reload(&state).await;
    audit(
        &cp,
        Some(&who),
        Some(&ctx),
        "session.revoke_all",
        None,
        "ok",
        Some(format!("revoked={n}")),
    )
    .await;
    Ok(ok(json!({ "revoked": n })))
}

pub async fn revoke(
    State(state): State<Arc<AppState>>,
    Extension(who): Extension<Identity>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
) -> HResult {
    let cp = control(&state)?;
    cp.stores
        .sessions
        .delete_session(&id)
        .await
        .map_err(store_error)?;
    reload(&state).await;
    audit(
        &cp,
        Some(&who),
        Some(&ctx),
        "session.revoke",
        Some(&id),
        "ok",
        None,
    )
    .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}
