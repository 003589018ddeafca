//! `/admin/keys*` (CONTRACT §4.3, §4.4): issue, list, update, suspend/resume
//! (★9), revoke, rotate and delete stored keys, and the usage listing.
//!
//! Secrets are shown once (create, rotate; `Cache-Control: no-store`) and
//! stored as SHA-256 only. Every mutation holds the control plane's key lock,
//! checks the self-mutation and last-admin guards, writes the store, reloads
//! the in-memory key cache before answering (so a revoke or rotate is effective
//! at once on this instance) and appends an audit entry.

use super::{
    admin_error, audit, control, int_param, ok, query, read_body, store_error, time_param,
};
use crate::auth::Identity;
use crate::error::GwError;
use crate::keys::{display_form, new_record, new_secret};
use crate::middleware::RequestCtx;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use ferro_store::{time, KeyRecord};
use http::{HeaderMap, StatusCode, Uri};
use serde_json::{json, Map, Value};
use std::sync::Arc;

type HResult = Result<Response, GwError>;

const VALID_SCOPES: [&str; 2] = ["admin", "read_only"];

/// The APIKey object: `key` is the display form unless `secret` is given.
pub fn key_json(k: &KeyRecord, secret: Option<&str>) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(k.id));
    m.insert("key".into(), json!(secret.unwrap_or(&k.key_display)));
    m.insert("name".into(), json!(k.name));
    m.insert("scopes".into(), json!(k.scopes));
    m.insert("created_at".into(), json!(time::format(k.created_at)));
    for (name, v) in [
        ("revoked_at", k.revoked_at),
        ("expires_at", k.expires_at),
        ("rotated_at", k.rotated_at),
        ("last_used_at", k.last_used_at),
    ] {
        if let Some(t) = v {
            m.insert(name.into(), json!(time::format(t)));
        }
    }
    m.insert("usage_count".into(), json!(k.usage_count));
    m.insert("active".into(), json!(k.active));
    Value::Object(m)
}

fn not_found() -> GwError {
    admin_error(404, "resource_not_found", "API key not found")
}

/// Validates a `scopes` value: `None` when absent or empty.
fn parse_scopes(v: Option<&Value>) -> Result<Option<Vec<String>>, GwError> {
    let invalid = |s: &str| {
        admin_error(
            400,
            "invalid_scope",
            format!("invalid scope `{s}`: valid scopes are admin, read_only"),
        )
    };
    let arr = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(invalid("(not a list)")),
    };
    let mut out: Vec<String> = Vec::new();
    for s in arr {
        let s = s.as_str().ok_or_else(|| invalid("(not a string)"))?;
        if !VALID_SCOPES.contains(&s) {
            return Err(invalid(ferro_types::json::truncate(s, 64)));
        }
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    Ok((!out.is_empty()).then_some(out))
}

fn parse_time_field(v: Option<&Value>, name: &str) -> Result<Option<i64>, GwError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => time::parse(s).map(Some).ok_or_else(|| {
            admin_error(
                400,
                "invalid_request",
                format!("`{name}` must be an RFC 3339 timestamp"),
            )
        }),
        Some(_) => Err(admin_error(
            400,
            "invalid_request",
            format!("`{name}` must be a string"),
        )),
    }
}

fn body_object(bytes: &[u8]) -> Result<Map<String, Value>, GwError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(admin_error(
            400,
            "invalid_request",
            "invalid request body: expected a JSON object",
        )),
    }
}

fn is_admin_usable(k: &KeyRecord, now: i64) -> bool {
    k.usable(now) && k.scopes.iter().any(|s| s == "admin")
}

/// 409 when `before → after` would leave no usable stored admin key, or when
/// the caller disables or de-scopes its own credential.
async fn guard(
    state: &AppState,
    who: &Identity,
    before: &KeyRecord,
    after: Option<&KeyRecord>,
    self_guarded: bool,
) -> Result<(), GwError> {
    let cp = control(state)?;
    let now = time::now();
    let loses_admin =
        is_admin_usable(before, now) && !after.is_some_and(|a| is_admin_usable(a, now));
    let disables = before.usable(now) && !after.is_some_and(|a| a.usable(now));
    let caller = cp.keys.credential_of(&who.id);
    if self_guarded && caller == before.id && (loses_admin || disables) {
        return Err(admin_error(
            409,
            "self_mutation_forbidden",
            "a credential cannot revoke, delete, disable or de-scope itself",
        ));
    }
    if loses_admin {
        let keys = cp.stores.keys.list_keys().await.map_err(store_error)?;
        let others = keys
            .iter()
            .filter(|k| k.id != before.id && is_admin_usable(k, now))
            .count();
        if others == 0 {
            return Err(admin_error(
                409,
                "last_admin_key",
                "this is the last usable admin key; create another admin key first",
            ));
        }
    }
    Ok(())
}

async fn load(state: &AppState, id: &str) -> Result<KeyRecord, GwError> {
    let cp = control(state)?;
    cp.stores
        .keys
        .get_key(id)
        .await
        .map_err(store_error)?
        .ok_or_else(not_found)
}

async fn refresh(state: &AppState) {
    if let Some(cp) = &state.control {
        if let Err(e) = cp.keys.reload().await {
            tracing::warn!(error = %e, "key cache reload failed; the poller will retry");
        }
    }
}

fn no_store(status: StatusCode, v: Value) -> Response {
    super::json(status, &v)
}

pub async fn list(State(state): State<Arc<AppState>>) -> HResult {
    let cp = control(&state)?;
    let keys = cp.stores.keys.list_keys().await.map_err(store_error)?;
    Ok(ok(Value::Array(
        keys.iter().map(|k| key_json(k, None)).collect(),
    )))
}

pub async fn get_one(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> HResult {
    let k = load(&state, &id).await?;
    Ok(ok(key_json(&k, None)))
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    Extension(who): Extension<Identity>,
    Extension(ctx): Extension<RequestCtx>,
    headers: HeaderMap,
    body: Body,
) -> HResult {
    let cp = control(&state)?;
    let b = body_object(&read_body(&state, &headers, body).await?)?;
    let name = b
        .get("name")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or("");
    if name.is_empty() {
        return Err(admin_error(400, "invalid_request", "`name` is required"));
    }
    let scopes = parse_scopes(b.get("scopes"))?.unwrap_or_else(|| vec!["read_only".to_owned()]);
    let expires_at = parse_time_field(b.get("expires_at"), "expires_at")?;
    let secret = new_secret();
    let rec = new_record(&secret, name.to_owned(), scopes, expires_at);
    {
        let _g = cp.key_lock.lock().await;
        cp.stores.keys.insert_key(&rec).await.map_err(store_error)?;
    }
    refresh(&state).await;
    audit(
        &cp,
        Some(&who),
        Some(&ctx),
        "key.create",
        Some(&rec.id),
        "ok",
        Some(format!("name={}", rec.name)),
    )
    .await;
    Ok(no_store(StatusCode::CREATED, key_json(&rec, Some(&secret))))
}

pub async fn update(
    State(state): State<Arc<AppState>>,
    Extension(who): Extension<Identity>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> HResult {
    let cp = control(&state)?;
    let b = body_object(&read_body(&state, &headers, body).await?)?;
    let scopes = parse_scopes(b.get("scopes"))?;
    let expires_at = parse_time_field(b.get("expires_at"), "expires_at")?;
    let clear = b
        .get("clear_expiration")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let active = match b.get("active") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(v)) => Some(*v),
        Some(_) => {
            return Err(admin_error(
                400,
                "invalid_request",
                "`active` must be a boolean",
            ))
        }
    };
    let g = cp.key_lock.lock().await;
    let before = load(&state, &id).await?;
    let mut after = before.clone();
    if let Some(n) = b
        .get("name")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        after.name = n.to_owned();
    }
    if let Some(s) = scopes {
        after.scopes = s;
    }
    if clear {
        after.expires_at = None;
    } else if expires_at.is_some() {
        after.expires_at = expires_at;
    }
    if let Some(a) = active {
        if after.revoked_at.is_some() && a {
            return Err(admin_error(
                400,
                "invalid_request",
                "a revoked key cannot be resumed",
            ));
        }
        after.active = a;
    }
    if let Err(e) = guard(&state, &who, &before, Some(&after), true).await {
        drop(g);
        audit(
            &cp,
            Some(&who),
            Some(&ctx),
            "key.update",
            Some(&id),
            "denied",
            Some(e.0.code.to_string()),
        )
        .await;
        return Err(e);
    }
    if !cp
        .stores
        .keys
        .update_key(&after)
        .await
        .map_err(store_error)?
    {
        return Err(not_found());
    }
    drop(g);
    refresh(&state).await;
    let detail = match active {
        Some(false) => "suspended",
        Some(true) => "resumed",
        None => "updated",
    };
    audit(
        &cp,
        Some(&who),
        Some(&ctx),
        "key.update",
        Some(&id),
        "ok",
        Some(detail.to_owned()),
    )
    .await;
    // Usage counters may have moved since `before` was read.
    let fresh = load(&state, &id).await.unwrap_or(after);
    Ok(ok(key_json(&fresh, None)))
}

/// Shared path of revoke and delete.
async fn remove(
    state: &AppState,
    who: &Identity,
    ctx: &RequestCtx,
    id: &str,
    action: &str,
) -> Result<(), GwError> {
    let cp = control(state)?;
    let g = cp.key_lock.lock().await;
    let before = load(state, id).await?;
    let after = (action == "key.revoke").then(|| {
        let mut a = before.clone();
        a.revoked_at = Some(a.revoked_at.unwrap_or_else(time::now));
        a.active = false;
        a
    });
    if let Err(e) = guard(state, who, &before, after.as_ref(), true).await {
        drop(g);
        audit(
            &cp,
            Some(who),
            Some(ctx),
            action,
            Some(id),
            "denied",
            Some(e.0.code.to_string()),
        )
        .await;
        return Err(e);
    }
    let done = match &after {
        Some(a) => cp.stores.keys.update_key(a).await,
        None => cp.stores.keys.delete_key(id).await,
    }
    .map_err(store_error)?;
    drop(g);
    if !done {
        return Err(not_found());
    }
    refresh(state).await;
    audit(&cp, Some(who), Some(ctx), action, Some(id), "ok", None).await;
    Ok(())
}

pub async fn revoke(
    State(state): State<Arc<AppState>>,
    Extension(who): Extension<Identity>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
) -> HResult {
    remove(&state, &who, &ctx, &id, "key.revoke").await?;
    Ok(ok(json!({"status": "revoked"})))
}

pub async fn delete(
    State(state): State<Arc<AppState>>,
    Extension(who): Extension<Identity>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
) -> HResult {
    remove(&state, &who, &ctx, &id, "key.delete").await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn rotate(
    State(state): State<Arc<AppState>>,
    Extension(who): Extension<Identity>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
) -> HResult {
    let cp = control(&state)?;
    let secret = new_secret();
    let after = {
        let _g = cp.key_lock.lock().await;
        let mut k = load(&state, &id).await?;
        k.key_hash = ferro_store::sha256_hex(&secret);
        k.key_display = display_form(&secret);
        k.rotated_at = Some(time::now());
        if !cp.stores.keys.update_key(&k).await.map_err(store_error)? {
            return Err(not_found());
        }
        k
    };
    refresh(&state).await;
    audit(
        &cp,
        Some(&who),
        Some(&ctx),
        "key.rotate",
        Some(&id),
        "ok",
        None,
    )
    .await;
    Ok(no_store(StatusCode::OK, key_json(&after, Some(&secret))))
}

/// `GET /admin/keys/usage` (CONTRACT §4.4).
pub async fn usage(State(state): State<Arc<AppState>>, uri: Uri) -> HResult {
    let cp = control(&state)?;
    let q = query(&uri);
    let limit = int_param(&q, "limit")?.unwrap_or(20);
    if limit <= 0 {
        return Err(admin_error(
            400,
            "invalid_request",
            "`limit` must be between 1 and 100",
        ));
    }
    let limit = limit.min(100);
    let offset = int_param(&q, "offset")?.unwrap_or(0);
    if offset < 0 {
        return Err(admin_error(
            400,
            "invalid_request",
            "`offset` must not be negative",
        ));
    }
    let sort = q.get("sort").map_or("usage", String::as_str).to_owned();
    if sort != "usage" && sort != "last_used" {
        return Err(admin_error(
            400,
            "invalid_request",
            "`sort` must be usage or last_used",
        ));
    }
    let active = match q.get("active").map(String::as_str) {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            return Err(admin_error(
                400,
                "invalid_request",
                "`active` must be true or false",
            ))
        }
    };
    let since = time_param(&q, "since")?;
    let all = cp.stores.keys.list_keys().await.map_err(store_error)?;
    let total_keys = all.len();
    let active_keys = all
        .iter()
        .filter(|k| k.active && k.revoked_at.is_none())
        .count();
    let total_usage: i64 = all.iter().map(|k| k.usage_count).sum();
    let mut sel: Vec<&KeyRecord> = all
        .iter()
        .filter(|k| active.is_none_or(|a| (k.active && k.revoked_at.is_none()) == a))
        .filter(|k| since.is_none_or(|s| k.last_used_at.is_some_and(|l| l >= s)))
        .collect();
    let last = |k: &KeyRecord| k.last_used_at.unwrap_or(i64::MIN);
    if sort == "usage" {
        sel.sort_by(|a, b| {
            b.usage_count
                .cmp(&a.usage_count)
                .then(last(b).cmp(&last(a)))
                .then(b.created_at.cmp(&a.created_at))
        });
    } else {
        sel.sort_by(|a, b| {
            last(b)
                .cmp(&last(a))
                .then(b.usage_count.cmp(&a.usage_count))
                .then(b.created_at.cmp(&a.created_at))
        });
    }
    let page: Vec<Value> = sel
        .iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(100))
        .map(|k| key_json(k, None))
        .collect();
    Ok(ok(json!({
        "data": page,
        "summary": {
            "total_keys": total_keys,
            "active_keys": active_keys,
            "total_usage": total_usage,
            "returned_keys": page.len(),
        },
        "filters": {
            "limit": limit,
            "offset": offset,
            "sort": sort,
            "active": active,
            "since": q.get("since"),
        },
    })))
}
