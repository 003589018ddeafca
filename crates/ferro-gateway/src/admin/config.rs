//! `/admin/config*` (CONTRACT §5.8): read the scrubbed active config, replace
//! it, reset it to the boot config, list its history and roll back.
//!
//! A change is applied exactly like a file reload: strict decode, validation,
//! `Runtime::build` with the process environment, then one atomic swap of
//! `AppState::runtime` (in-flight requests finish on the old runtime). It is
//! persisted (history + active config, one transaction) *before* the swap, so a
//! restart comes back on the active version: at boot the config store wins over
//! the file, which wins over the defaults ([`boot_config`]).

use super::scrub::{has_marker, scrub};
use super::{admin_error, audit, control, json, ok, read_body, store_error};
use crate::auth::Identity;
use crate::error::GwError;
use crate::middleware::RequestCtx;
use crate::state::{AppState, Runtime};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Extension;
use ferro_config::{Config, Format};
use ferro_store::{time, ConfigStore};
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;

type HResult = Result<Response, GwError>;

/// Which config a boot runs: the stored active one if it still builds, else the
/// file's (or none: env defaults). Returns the config, warnings, and whether
/// the config store's version won.
pub fn boot_config(
    store: &Arc<dyn ConfigStore>,
    file: Option<Config>,
    env: &dyn Fn(&str) -> Option<String>,
    catalog: &Arc<ferro_types::catalog::Catalog>,
) -> Result<(Option<Config>, Vec<String>, bool), String> {
    let s = store.clone();
    let stored = ferro_store::block_on(async move { s.active_config().await })
        .and_then(|r| r)
        .map_err(|e| format!("CONFIG_STORE: cannot read the active config: {e}"))?;
    let Some(text) = stored else {
        return Ok((file, Vec::new(), false));
    };
    let parsed = Config::parse(&text, Format::Json)
        .and_then(|c| Runtime::build(Some(c.clone()), env, catalog.clone()).map(|_| c));
    match parsed {
        Ok(c) => Ok((
            Some(c),
            vec!["config: running the active config from the config store (set via /admin/config)".to_owned()],
            true,
        )),
        Err(e) => Ok((
            file,
            vec![format!(
                "config: the stored active config no longer builds ({e}); using the file/default config"
            )],
            false,
        )),
    }
}

/// The config as JSON with every field of CONTRACT §5.8 present; without a
/// config, the env defaults (`fallback` over one target per provider).
fn full_json(state: &AppState, cfg: Option<&Config>) -> Value {
    let mut v = match cfg {
        Some(c) => serde_json::to_value(c).unwrap_or_else(|_| json!({})),
        None => {
            let rt = state.runtime.load();
            let targets: Vec<Value> = rt
                .router
                .targets
                .iter()
                .map(|t| json!({"virtual_key": t.name}))
                .collect();
            json!({"strategy": {"mode": "fallback"}, "targets": targets})
        }
    };
    if let Value::Object(m) = &mut v {
        m.entry("apiVersion").or_insert_with(|| json!("v1"));
        for (k, d) in [
            ("strategy", json!({})),
            ("targets", json!([])),
            ("plugins", json!([])),
            ("aliases", json!({})),
            ("mcp_servers", json!([])),
            ("observability", json!({})),
            ("compatibility", json!({})),
        ] {
            m.entry(k).or_insert(d);
        }
    }
    v
}

pub async fn get_config(State(state): State<Arc<AppState>>) -> HResult {
    let rt = state.runtime.load_full();
    Ok(ok(scrub(&full_json(&state, rt.config.as_ref()))))
}

fn invalid_config(msg: impl Into<String>) -> GwError {
    admin_error(400, "invalid_config", msg)
}

/// Validates and builds `cfg`, persists it, then swaps it in. Returns the version.
async fn apply(
    state: &AppState,
    who: &Identity,
    cfg: Option<Config>,
    rolled_back_from: Option<i64>,
    persist_active: bool,
) -> Result<i64, GwError> {
    let cp = control(state)?;
    let prev = state.runtime.load_full();
    let (rt, warnings) =
        Runtime::rebuild(cfg.clone(), &*state.env, state.catalog.clone(), Some(&prev))
            .map_err(|e| invalid_config(e.0.join("; ")))?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    let text = match &cfg {
        Some(c) => {
            serde_json::to_string(c).map_err(|_| invalid_config("config cannot be serialised"))?
        }
        None => "null".to_owned(),
    };
    let actor = super::actor(who);
    let version = cp
        .stores
        .config
        .commit(
            &text,
            Some(&actor),
            rolled_back_from,
            persist_active.then_some(text.as_str()),
        )
        .await
        .map_err(store_error)?;
    state.runtime.store(Arc::new(rt));
    cp.config_managed
        .store(persist_active, std::sync::atomic::Ordering::SeqCst);
    Ok(version)
}

async fn replace(
    state: Arc<AppState>,
    who: Identity,
    ctx: RequestCtx,
    headers: HeaderMap,
    body: Body,
    create: bool,
) -> HResult {
    let cp = control(&state)?;
    let bytes = read_body(&state, &headers, body).await?;
    let v: Value = serde_json::from_slice(&bytes)
        .map_err(|e| admin_error(400, "invalid_request", format!("invalid request body: {e}")))?;
    if has_marker(&v) {
        return Err(admin_error(
            400,
            "redacted_secret",
            "the config contains a [REDACTED] marker: send the real values (or ${VAR} references), not the scrubbed view",
        ));
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| invalid_config("config is not UTF-8"))?;
    let cfg = Config::parse(text, Format::Json).map_err(|e| invalid_config(e.0.join("; ")))?;
    let action = if create {
        "config.create"
    } else {
        "config.update"
    };
    let _one = cp.config_lock.lock().await;
    match apply(&state, &who, Some(cfg), None, true).await {
        Ok(v) => {
            audit(
                &cp,
                Some(&who),
                Some(&ctx),
                action,
                None,
                "ok",
                Some(format!("version={v}")),
            )
            .await;
            Ok(if create {
                json(StatusCode::CREATED, &json!({"status": "created"}))
            } else {
                ok(json!({"status": "updated"}))
            })
        }
        Err(e) => {
            let outcome = if e.0.status >= 500 { "error" } else { "denied" };
            audit(
                &cp,
                Some(&who),
                Some(&ctx),
                action,
                None,
                outcome,
                Some(e.0.message.to_string()),
            )
            .await;
            Err(e)
        }
    }
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    Extension(who): Extension<Identity>,
    Extension(ctx): Extension<RequestCtx>,
    headers: HeaderMap,
    body: Body,
) -> HResult {
    replace(state, who, ctx, headers, body, true).await
}

pub async fn update(
    State(state): State<Arc<AppState>>,
    Extension(who): Extension<Identity>,
    Extension(ctx): Extension<RequestCtx>,
    headers: HeaderMap,
    body: Body,
) -> HResult {
    replace(state, who, ctx, headers, body, false).await
}

/// `DELETE /admin/config`: back to the boot-time (file / defaults) config.
pub async fn reset(
    State(state): State<Arc<AppState>>,
    Extension(who): Extension<Identity>,
    Extension(ctx): Extension<RequestCtx>,
) -> HResult {
    let cp = control(&state)?;
    let _one = cp.config_lock.lock().await;
    let v = apply(&state, &who, cp.boot_config.clone(), None, false).await?;
    audit(
        &cp,
        Some(&who),
        Some(&ctx),
        "config.delete",
        None,
        "ok",
        Some(format!("version={v}")),
    )
    .await;
    Ok(ok(json!({"status": "deleted"})))
}

fn stored_config(text: &str) -> Result<Option<Config>, GwError> {
    if text.trim() == "null" {
        return Ok(None);
    }
    Config::parse(text, Format::Json).map(Some).map_err(|e| {
        invalid_config(format!(
            "the stored version no longer decodes: {}",
            e.0.join("; ")
        ))
    })
}

pub async fn history(State(state): State<Arc<AppState>>) -> HResult {
    let cp = control(&state)?;
    let entries = cp.stores.config.history().await.map_err(store_error)?;
    let data: Vec<Value> = entries
        .iter()
        .map(|e| {
            let cfg = stored_config(&e.config_json).ok().flatten();
            let mut m = serde_json::Map::new();
            m.insert("version".into(), json!(e.version));
            m.insert("updated_at".into(), json!(time::format(e.updated_at)));
            m.insert("config".into(), scrub(&full_json(&state, cfg.as_ref())));
            if let Some(r) = e.rolled_back_from {
                m.insert("rolled_back_from".into(), json!(r));
            }
            if let Some(a) = &e.actor {
                m.insert("actor".into(), json!(a));
            }
            Value::Object(m)
        })
        .collect();
    let n = data.len();
    Ok(ok(json!({"data": data, "summary": {"total_versions": n}})))
}

pub async fn rollback(
    State(state): State<Arc<AppState>>,
    Extension(who): Extension<Identity>,
    Extension(ctx): Extension<RequestCtx>,
    Path(version): Path<String>,
) -> HResult {
    let cp = control(&state)?;
    let version: i64 =
        version.parse().ok().filter(|v| *v > 0).ok_or_else(|| {
            admin_error(400, "invalid_request", "version must be a positive integer")
        })?;
    let _one = cp.config_lock.lock().await;
    let entry = cp
        .stores
        .config
        .history_entry(version)
        .await
        .map_err(store_error)?
        .ok_or_else(|| {
            admin_error(
                404,
                "resource_not_found",
                format!("config version {version} not found"),
            )
        })?;
    let history = cp.stores.config.history().await.map_err(store_error)?;
    let latest = history.last().map_or(version, |e| e.version);
    let cfg = stored_config(&entry.config_json)?;
    let persist = cfg.is_some();
    let new_version = apply(&state, &who, cfg, Some(latest), persist).await?;
    audit(
        &cp,
        Some(&who),
        Some(&ctx),
        "config.rollback",
        None,
        "ok",
        Some(format!("to={version} version={new_version}")),
    )
    .await;
    Ok(ok(json!({
        "status": "rolled_back",
        "rolled_back_to": version,
        "current_history_size": history.len() + 1,
    })))
}
