//! `GET /admin/audit` (CONTRACT §4.7): the audit trail, newest first.

use super::{admin_error, control, int_param, ok, query, store_error, time_param};
use crate::error::GwError;
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use ferro_store::{time, AuditEntry, AuditFilter};
use http::Uri;
use serde_json::{json, Map, Value};
use std::sync::Arc;

fn entry_json(e: &AuditEntry) -> Value {
    let mut m = Map::new();
    m.insert("occurred_at".into(), json!(time::format(e.occurred_at)));
    m.insert("action".into(), json!(e.action));
    m.insert("actor".into(), json!(e.actor));
    for (k, v) in [("actor_id", &e.actor_id), ("target_id", &e.target_id)] {
        if let Some(v) = v {
            m.insert(k.into(), json!(v));
        }
    }
    m.insert("outcome".into(), json!(e.outcome));
    for (k, v) in [
        ("detail", &e.detail),
        ("source_ip", &e.source_ip),
        ("trace_id", &e.trace_id),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), json!(v));
        }
    }
    Value::Object(m)
}

pub async fn list(State(state): State<Arc<AppState>>, uri: Uri) -> Result<Response, GwError> {
    let cp = control(&state)?;
    let q = query(&uri);
    let limit = int_param(&q, "limit")?.unwrap_or(50);
    if limit <= 0 {
        return Err(admin_error(
            400,
            "invalid_request",
            "`limit` must be between 1 and 200",
        ));
    }
    let limit = limit.min(200);
    let offset = int_param(&q, "offset")?.unwrap_or(0);
    if offset < 0 {
        return Err(admin_error(
            400,
            "invalid_request",
            "`offset` must not be negative",
        ));
    }
    if let Some(o) = q.get("outcome") {
        if !matches!(o.as_str(), "ok" | "denied" | "error") {
            return Err(admin_error(
                400,
                "invalid_request",
                "`outcome` must be ok, denied or error",
            ));
        }
    }
    let f = AuditFilter {
        action: q.get("action").cloned(),
        actor_id: q.get("actor_id").cloned(),
        outcome: q.get("outcome").cloned(),
        since: time_param(&q, "since")?,
    };
    let (rows, total) = cp
        .stores
        .audit
        .list_audit(&f, limit, offset)
        .await
        .map_err(store_error)?;
    let mut filters = Map::new();
    for k in ["action", "actor_id", "outcome", "since"] {
        if let Some(v) = q.get(k) {
            filters.insert(k.into(), json!(v));
        }
    }
    if q.contains_key("limit") {
        filters.insert("limit".into(), json!(limit));
    }
    if offset > 0 {
        filters.insert("offset".into(), json!(offset));
    }
    Ok(ok(json!({
        "data": rows.iter().map(entry_json).collect::<Vec<_>>(),
        "summary": {"total_entries": total, "returned_entries": rows.len()},
        "filters": filters,
    })))
}
