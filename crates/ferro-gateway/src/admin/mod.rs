//! The control plane: `/admin/*` (CONTRACT §1.5, §4, §5.8, §6) and the parts of
//! the process it owns — stores, the stored-key authenticator, the request-log
//! writer and the boot config that `DELETE /admin/config` restores.
//!
//! One submodule per resource; this module holds what they share: the
//! [`ControlPlane`], the admin credential check (read-only vs admin scope, run
//! before the method check), JSON/no-store responses, query parsing and the
//! audit helper. Every error is the OpenAI envelope of `ferro_types::ApiError`.

pub mod audit;
pub mod catalog;
pub mod config;
pub mod keys;
pub mod logs;
pub mod scrub;
pub mod sessions;
pub mod stats;
pub mod stores;

use crate::auth::{bearer, AuthFailure, Identity, Scope};
use crate::error::GwError;
use crate::keys::{SessionFailure, StoredKeys};
use crate::logwriter::LogWriter;
use crate::middleware::RequestCtx;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use ferro_config::Config;
use ferro_store::AuditEntry;
use ferro_types::{ApiError, ErrorType};
use http::{header, HeaderValue, Method, StatusCode};
use std::collections::HashMap;
use std::sync::Arc;
use stores::Stores;

/// Everything the admin API works with, created in `prepare`.
pub struct ControlPlane {
    pub stores: Stores,
    pub keys: Arc<StoredKeys>,
    pub logs: Arc<LogWriter>,
    /// The file / defaults config of this boot (what `DELETE /admin/config` restores).
    pub boot_config: Option<Config>,
    /// `master-key:<16hex>` when `MASTER_KEY` is set.
    pub master_id: Option<String>,
    /// Serialises config changes (validate → build → persist → swap).
    pub config_lock: tokio::sync::Mutex<()>,
    /// True while the active config was set through `/admin/config` (and is
    /// persisted): file reloads then stand aside until `DELETE /admin/config`.
    pub config_managed: std::sync::atomic::AtomicBool,
    /// Serialises key mutations, so the last-admin guard sees a stable set.
    pub key_lock: tokio::sync::Mutex<()>,
    pub retention_days: u32,
    /// The session exchange's own limiter (burst 20, 10 per minute per IP).
    pub session_limiter: governor::DefaultKeyedRateLimiter<std::net::IpAddr>,
}

impl std::fmt::Debug for ControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlane").finish_non_exhaustive()
    }
}

impl ControlPlane {
    /// Whether the running config came from `/admin/config` (file reloads skip).
    pub fn config_managed(&self) -> bool {
        self.config_managed
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Writes what is buffered: queued request logs and key usage. Called on
    /// graceful shutdown after the server drained.
    pub async fn shutdown(&self) {
        self.logs.flush().await;
        self.keys.flush().await;
    }
}

/// Starts the control plane on `state`: loads the key cache, starts its poller
/// and the log writer, registers stored keys and sessions as an authenticator
/// and the log writer as the request sink. Needs a tokio runtime.
pub fn start(
    state: &mut AppState,
    stores: Stores,
    boot_config: Option<Config>,
    config_managed: bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), Vec<String>> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(vec![
            "internal: the control plane must start inside a tokio runtime".to_owned(),
        ]);
    }
    let retention_days = stores::retention_days(env).map_err(|e| vec![e])?;
    let master_id = state.settings.master_key.as_ref().map(|mk| {
        let d = ferro_store::sha256_hex(mk.expose());
        format!("master-key:{}", &d[..16])
    });
    let keys = Arc::new(StoredKeys::new(
        stores.keys.clone(),
        stores.sessions.clone(),
        master_id.clone(),
    ));
    let k = keys.clone();
    ferro_store::block_on(async move { k.reload().await })
        .and_then(|r| r)
        .map_err(|e| vec![format!("API_KEY_STORE: cannot load keys: {e}")])?;
    keys.spawn_background();
    let logs = LogWriter::start(stores.logs.clone(), retention_days);
    state.auth.push(keys.clone());
    state.sink = logs.clone();
    let quota = governor::Quota::per_minute(std::num::NonZeroU32::MIN.saturating_add(9))
        .allow_burst(std::num::NonZeroU32::MIN.saturating_add(19));
    state.control = Some(Arc::new(ControlPlane {
        stores,
        keys,
        logs,
        boot_config,
        master_id,
        config_lock: tokio::sync::Mutex::new(()),
        config_managed: std::sync::atomic::AtomicBool::new(config_managed),
        key_lock: tokio::sync::Mutex::new(()),
        retention_days,
        session_limiter: governor::RateLimiter::keyed(quota),
    }));
    Ok(())
}

/// The `/admin/*` routes (unknown admin paths fall through to the app's JSON 404).
pub fn routes(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/admin/session",
            post(sessions::create).delete(sessions::logout),
        )
        .route(
            "/admin/sessions",
            get(sessions::list).delete(sessions::revoke_all),
        )
        .route(
            "/admin/sessions/{id}",
            axum::routing::delete(sessions::revoke),
        )
        .route("/admin/dashboard", get(catalog::dashboard))
        .route("/admin/keys", get(keys::list).post(keys::create))
        .route("/admin/keys/usage", get(keys::usage))
        .route(
            "/admin/keys/{id}",
            get(keys::get_one).put(keys::update).delete(keys::delete),
        )
        .route("/admin/keys/{id}/revoke", post(keys::revoke))
        .route("/admin/keys/{id}/rotate", post(keys::rotate))
        .route("/admin/logs", get(logs::list).delete(logs::purge))
        .route("/admin/logs/stats", get(stats::handler))
        .route("/admin/providers", get(catalog::providers))
        .route("/admin/providers/catalog", get(catalog::providers_catalog))
        .route("/admin/health", get(catalog::health))
        .route("/admin/plugins", get(catalog::plugins))
        .route("/admin/plugins/catalog", get(catalog::plugins_catalog))
        .route(
            "/admin/config",
            get(config::get_config)
                .post(config::create)
                .put(config::update)
                .delete(config::reset),
        )
        .route("/admin/config/history", get(config::history))
        .route("/admin/config/rollback/{version}", post(config::rollback))
        .route("/admin/audit", get(audit::list))
        .route_layer(axum::middleware::from_fn_with_state(state, require_admin))
}

/// The scope a request needs: reads are read-only, writes admin (CONTRACT §1.5).
fn required_scope(method: &Method, path: &str) -> Scope {
    if method == Method::GET || method == Method::HEAD {
        return Scope::ReadOnly;
    }
    if method == Method::DELETE && path == "/admin/session" {
        return Scope::ReadOnly;
    }
    Scope::Admin
}

/// An admin error with the default `type` of its status (CONTRACT §3.1).
pub fn admin_error(status: u16, code: &'static str, message: impl Into<String>) -> GwError {
    let kind = match status {
        401 => ErrorType::AuthenticationError,
        403 => ErrorType::PermissionError,
        404 => ErrorType::NotFoundError,
        501 => ErrorType::NotImplementedError,
        400..=499 => ErrorType::InvalidRequestError,
        _ => ErrorType::ServerError,
    };
    GwError(ApiError::new(status, kind, code, message.into()))
}

/// A store failure: logged with detail, answered without it.
pub fn store_error(e: ferro_store::Error) -> GwError {
    tracing::error!(error = %e, "control-plane store error");
    admin_error(500, "internal_error", "the control-plane store failed")
}

/// Authenticates an admin request and checks its scope.
pub async fn require_admin(
    State(state): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(cp) = state.control.clone() else {
        return not_enabled().into_response();
    };
    let ip = crate::middleware::client_ip(&state, &req);
    // The session exchange authenticates its own credential (and is audited),
    // behind its own limiter that no setting disables.
    if req.method() == Method::POST && req.uri().path() == "/admin/session" {
        if ip.is_some_and(|ip| cp.session_limiter.check_key(&ip).is_err()) {
            return too_many();
        }
        return next.run(req).await;
    }
    let identity = match authenticate(&state, &cp, req.headers()) {
        Ok(id) => id,
        Err(e) => {
            // ★12: failed authentication pays the per-IP toll.
            if !state.door.scope_all && !state.door.admit(ip) {
                return too_many();
            }
            return e.into_response();
        }
    };
    let need = required_scope(req.method(), req.uri().path());
    if !identity.has(need) {
        return admin_error(
            403,
            "insufficient_scope",
            format!(
                "this route needs the `{}` scope",
                crate::keys::scope_name(need)
            ),
        )
        .into_response();
    }
    req.extensions_mut().insert(identity);
    next.run(req).await
}

fn too_many() -> Response {
    GwError(
        ApiError::new(
            429,
            ErrorType::RateLimitError,
            "rate_limit_exceeded",
            "too many requests from this address",
        )
        .with_retry_after(1),
    )
    .into_response()
}

/// The caller's identity from its bearer credential.
pub fn authenticate(
    state: &AppState,
    cp: &ControlPlane,
    headers: &http::HeaderMap,
) -> Result<Identity, GwError> {
    let token = match bearer(headers) {
        Ok(t) => t,
        Err(AuthFailure::Missing) => {
            return Err(admin_error(
                401,
                "missing_api_key",
                "missing API key: send Authorization: Bearer <key>",
            ))
        }
        Err(_) => return Err(admin_error(401, "invalid_api_key", "invalid API key")),
    };
    if token.starts_with(crate::keys::SESSION_PREFIX) {
        return match cp.keys.session_identity(token) {
            Ok(id) => Ok(id),
            Err(SessionFailure::Invalid) => Err(admin_error(
                401,
                "invalid_session",
                "the session expired or its credential is no longer valid",
            )),
            Err(SessionFailure::Unknown) => {
                Err(admin_error(401, "invalid_api_key", "invalid API key"))
            }
        };
    }
    state
        .auth
        .authenticate(token)
        .ok_or_else(|| admin_error(401, "invalid_api_key", "invalid API key"))
}

/// 501 when the control plane is not running.
pub fn not_enabled() -> GwError {
    admin_error(
        501,
        "not_implemented",
        "the control plane is not enabled on this gateway",
    )
}

/// The control plane, or 501.
pub fn control(state: &AppState) -> Result<Arc<ControlPlane>, GwError> {
    state.control.clone().ok_or_else(not_enabled)
}

/// A JSON response with `Cache-Control: no-store`.
pub fn json(status: StatusCode, v: &serde_json::Value) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_else(|_| b"{}".to_vec());
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// 200 JSON, no-store.
pub fn ok(v: serde_json::Value) -> Response {
    json(StatusCode::OK, &v)
}

/// Query parameters; the last value wins and empty values count as absent.
pub fn query(uri: &http::Uri) -> HashMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// An integer query parameter, or 400.
pub fn int_param(q: &HashMap<String, String>, name: &str) -> Result<Option<i64>, GwError> {
    match q.get(name) {
        None => Ok(None),
        Some(v) => v.trim().parse::<i64>().map(Some).map_err(|_| {
            admin_error(
                400,
                "invalid_request",
                format!("`{name}` must be an integer"),
            )
        }),
    }
}

/// An RFC 3339 query parameter, or 400.
pub fn time_param(q: &HashMap<String, String>, name: &str) -> Result<Option<i64>, GwError> {
    match q.get(name) {
        None => Ok(None),
        Some(v) => ferro_store::time::parse(v).map(Some).ok_or_else(|| {
            admin_error(
                400,
                "invalid_request",
                format!("`{name}` must be an RFC 3339 timestamp"),
            )
        }),
    }
}

/// Reads and strictly parses a JSON body (admin body limit = `max_request_bytes`).
pub async fn read_body(
    state: &AppState,
    headers: &http::HeaderMap,
    body: axum::body::Body,
) -> Result<bytes::Bytes, GwError> {
    let limit = state.runtime.load().max_request_bytes;
    let bytes = crate::body::read_json(headers, body, limit).await?;
    ferro_types::json::validate_strict(&bytes)
        .map_err(|e| admin_error(400, "invalid_request", format!("invalid request body: {e}")))?;
    Ok(bytes)
}

/// The audit `actor` of an identity: the id alone for the master key.
pub fn actor(id: &Identity) -> String {
    if id.id.is_empty() {
        "unattributed".to_owned()
    } else if id.id.starts_with("master-key:") || id.name.is_empty() || id.name == id.id {
        id.id.clone()
    } else {
        format!("{} ({})", id.name, id.id)
    }
}

/// Appends an audit entry; a failure is logged, never returned to the caller.
pub async fn audit(
    cp: &ControlPlane,
    who: Option<&Identity>,
    ctx: Option<&RequestCtx>,
    action: &str,
    target: Option<&str>,
    outcome: &str,
    detail: Option<String>,
) {
    let e = AuditEntry {
        occurred_at: ferro_store::time::now(),
        action: action.to_owned(),
        actor: who.map_or_else(|| "unattributed".to_owned(), actor),
        actor_id: who.map(|w| w.id.clone()).filter(|s| !s.is_empty()),
        target_id: target.map(str::to_owned),
        outcome: outcome.to_owned(),
        detail,
        source_ip: None,
        trace_id: ctx.map(|c| c.trace_id.to_string()),
    };
    if let Err(e) = cp.stores.audit.append_audit(&e).await {
        tracing::warn!(error = %e, action, "could not write the audit trail");
    }
}
