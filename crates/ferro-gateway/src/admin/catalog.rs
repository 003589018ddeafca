//! Read-only views of the running gateway: `/admin/providers` (+`/catalog`),
//! `/admin/plugins` (+`/catalog`), `/admin/dashboard` and `/admin/health`
//! (CONTRACT §1.5, §6.4–§6.6). All answered from the live runtime and cheap
//! store reads; none calls an upstream.

use super::{control, ok, store_error};
use crate::auth::Identity;
use crate::error::GwError;
use crate::keys::scope_name;
use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use ferro_providers::spec;
use ferro_providers::ProviderInstance;
use ferro_router::Router as RoutingIndex;
use http::{header, HeaderValue};
use serde_json::{json, Value};
use std::sync::Arc;

type HResult = Result<Response, GwError>;

/// Catalog entry of a plugin name (the plugin crate's catalog is the one source).
pub fn plugin(name: &str) -> Option<ferro_plugins::CatalogEntry> {
    ferro_plugins::catalog()
        .into_iter()
        .find(|p| p.name == name)
}

/// Model ids an instance serves: its catalog models, then configured ones.
fn instance_models(router: &RoutingIndex, inst: &ProviderInstance) -> Vec<String> {
    let mut out: Vec<String> = inst
        .catalog_providers()
        .iter()
        .flat_map(|c| router.catalog().provider_model_ids(c).map(str::to_owned))
        .collect();
    for m in &inst.models {
        if !out.contains(m) {
            out.push(m.clone());
        }
    }
    out
}

pub async fn providers(State(state): State<Arc<AppState>>) -> HResult {
    let rt = state.runtime.load_full();
    let list: Vec<Value> = rt
        .router
        .instances
        .iter()
        .map(|inst| {
            let models: Vec<Value> = instance_models(&rt.router, inst)
                .into_iter()
                .map(|id| json!({"id": id, "object": "model", "created": 0, "owned_by": inst.name}))
                .collect();
            json!({"name": inst.name, "models": models})
        })
        .collect();
    Ok(ok(Value::Array(list)))
}

pub async fn providers_catalog(State(state): State<Arc<AppState>>) -> HResult {
    let rt = state.runtime.load_full();
    let list: Vec<Value> = spec::vendors()
        .map(|s| {
            let registered = rt.router.instances.iter().any(|i| i.spec.id == s.id);
            let n: usize = s
                .catalog
                .iter()
                .map(|c| rt.router.catalog().provider_model_ids(c).count())
                .sum();
            json!({"id": s.id, "registered": registered, "catalog_models": n})
        })
        .collect();
    Ok(ok(json!({ "providers": list })))
}

pub async fn plugins(State(state): State<Arc<AppState>>) -> HResult {
    let rt = state.runtime.load_full();
    let list: Vec<Value> = rt
        .config
        .iter()
        .flat_map(|c| c.plugins.iter())
        .map(|p| {
            let kind = if p.kind.is_empty() {
                plugin(&p.name).map_or("", |i| i.kind)
            } else {
                p.kind.as_str()
            };
            json!({"name": p.name, "type": kind, "enabled": p.enabled})
        })
        .collect();
    Ok(ok(Value::Array(list)))
}

pub async fn plugins_catalog() -> HResult {
    let mut r = ok(ferro_plugins::catalog_json()).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(r)
}

pub async fn dashboard(State(state): State<Arc<AppState>>) -> HResult {
    let cp = control(&state)?;
    let rt = state.runtime.load_full();
    let keys = cp.stores.keys.list_keys().await.map_err(store_error)?;
    let now = ferro_store::time::now();
    let logs = cp.stores.logs.count_logs().await.map_err(store_error)?;
    let n = rt.router.instances.len();
    Ok(ok(json!({
        "providers": {"total": n, "available": n},
        "keys": {
            "total": keys.len(),
            "active": keys.iter().filter(|k| k.usable(now)).count(),
            "expired": keys.iter().filter(|k| k.expires_at.is_some_and(|e| e < now)).count(),
            "total_usage": keys.iter().map(|k| k.usage_count).sum::<i64>(),
        },
        "request_logs": {"enabled": true, "total": logs},
    })))
}

pub async fn health(
    State(state): State<Arc<AppState>>,
    Extension(who): Extension<Identity>,
) -> HResult {
    let cp = control(&state)?;
    let rt = state.runtime.load_full();
    let providers: Vec<Value> = rt
        .router
        .instances
        .iter()
        .map(|i| json!({"name": i.name, "status": "available", "models": instance_models(&rt.router, i).len()}))
        .collect();
    let mut components = vec![json!({"name": "API", "status": "healthy"})];
    let mut degraded = false;
    for (name, db) in [
        ("Key store", &cp.stores.dbs[0]),
        ("Config store", &cp.stores.dbs[1]),
        ("Request logs", &cp.stores.dbs[2]),
        ("Audit log", &cp.stores.dbs[0]),
    ] {
        let status = match db.ping().await {
            Ok(()) => "healthy",
            Err(e) => {
                tracing::warn!(component = name, error = %e, "store health check failed");
                degraded = true;
                "unavailable"
            }
        };
        components.push(json!({"name": name, "status": status}));
    }
    let status = if providers.is_empty() {
        "no_providers"
    } else if degraded {
        "degraded"
    } else {
        "healthy"
    };
    let scopes: Vec<&str> = who.scopes.iter().map(|s| scope_name(*s)).collect();
    Ok(ok(json!({
        "status": status,
        "providers": providers,
        "components": components,
        "scopes": scopes,
    })))
}
