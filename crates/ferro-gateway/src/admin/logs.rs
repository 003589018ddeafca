//! `GET /admin/logs` and `DELETE /admin/logs` (CONTRACT §6.1, §6.2, ★2): the
//! request log, newest first, with every filter including `trace_id`.

use super::{admin_error, audit, control, int_param, ok, query, store_error, time_param};
use crate::auth::Identity;
use crate::error::GwError;
use crate::middleware::RequestCtx;
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use ferro_store::{time, LogFilter, LogRow};
use http::Uri;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// The terminal stages, listed when no `stage` is asked for.
pub const TERMINAL: [&str; 2] = ["after_request", "on_error"];

/// One row as JSON (§6.1 plus `status`, `cache_hit`, `route`, `target`, `stream`).
pub fn row_json(r: &LogRow) -> Value {
    let mut m = Map::new();
    m.insert("trace_id".into(), json!(r.trace_id));
    m.insert("stage".into(), json!(r.stage));
    m.insert("model".into(), json!(r.model));
    m.insert("api_key_id".into(), json!(r.api_key_id));
    m.insert("provider".into(), json!(r.provider));
    m.insert("prompt_tokens".into(), json!(r.prompt_tokens));
    m.insert("completion_tokens".into(), json!(r.completion_tokens));
    m.insert("total_tokens".into(), json!(r.total_tokens));
    if let Some(e) = &r.error_message {
        m.insert("error_message".into(), json!(e));
    }
    m.insert(
        "created_at".into(),
        json!(time::format_micros(r.created_at)),
    );
    m.insert("duration_ms".into(), json!(r.duration_ms));
    m.insert("ttft_ms".into(), json!(r.ttft_ms));
    m.insert("cost_usd".into(), json!(r.cost_usd));
    m.insert("status".into(), json!(r.status));
    m.insert("cache_hit".into(), json!(r.cache_hit));
    m.insert("route".into(), json!(r.route));
    m.insert("target".into(), json!(r.target));
    m.insert("stream".into(), json!(r.stream));
    Value::Object(m)
}

/// The filter shared by list, stats and delete. `default_terminal`: no `stage`
/// means the terminal stages (list, stats) rather than every stage (delete).
pub fn filter_of(
    q: &HashMap<String, String>,
    default_terminal: bool,
) -> Result<(LogFilter, Vec<String>), GwError> {
    let stages: Vec<String> = match q.get("stage").map(String::as_str) {
        None if default_terminal => TERMINAL.iter().map(|s| s.to_string()).collect(),
        None | Some("all") => Vec::new(),
        Some(s) => vec![s.to_owned()],
    };
    let api_key_id = q.get("api_key_id").map(|v| {
        if v == "none" {
            String::new()
        } else {
            v.clone()
        }
    });
    Ok((
        LogFilter {
            stages: stages.clone(),
            model: q.get("model").cloned(),
            provider: q.get("provider").cloned(),
            api_key_id,
            trace_id: q.get("trace_id").cloned(),
            since: time_param(q, "since")?,
            before: None,
        },
        stages,
    ))
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
    let (f, stages) = filter_of(&q, true)?;
    let (rows, total) = cp
        .stores
        .logs
        .list_logs(&f, limit, offset)
        .await
        .map_err(store_error)?;
    let s = |k: &str| q.get(k).cloned().unwrap_or_default();
    Ok(ok(json!({
        "data": rows.iter().map(row_json).collect::<Vec<_>>(),
        "summary": {"total_entries": total, "returned_entries": rows.len()},
        "filters": {
            "limit": limit,
            "offset": offset,
            "stage": s("stage"),
            "stages": stages,
            "model": s("model"),
            "api_key_id": s("api_key_id"),
            "provider": s("provider"),
            "since": s("since"),
            "trace_id": s("trace_id"),
        },
    })))
}

pub async fn purge(
    State(state): State<Arc<AppState>>,
    Extension(who): Extension<Identity>,
    Extension(ctx): Extension<RequestCtx>,
    uri: Uri,
) -> Result<Response, GwError> {
    let cp = control(&state)?;
    let q = query(&uri);
    let Some(before) = time_param(&q, "before")? else {
        return Err(admin_error(
            400,
            "invalid_request",
            "`before` (RFC 3339) is required to delete request logs",
        ));
    };
    let (mut f, _) = filter_of(&q, false)?;
    f.before = Some(before);
    f.since = None;
    f.api_key_id = None;
    f.trace_id = None;
    let n = cp.stores.logs.delete_logs(&f).await.map_err(store_error)?;
    let s = |k: &str| q.get(k).cloned().unwrap_or_default();
    let filters = json!({
        "before": s("before"),
        "stage": s("stage"),
        "model": s("model"),
        "provider": s("provider"),
    });
    audit(
        &cp,
        Some(&who),
        Some(&ctx),
        "logs.purge",
        None,
        "ok",
        Some(format!("deleted={n} {filters}")),
    )
    .await;
    Ok(ok(json!({"deleted": n, "filters": filters})))
}
