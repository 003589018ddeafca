//! The audit trail (CONTRACT §4.7): one append-only row per admin mutation or
//! denied attempt, newest first when listed.

use crate::db::{Cols, Param, Value};
use crate::{Result, SqlStore};
use async_trait::async_trait;

/// One audit row.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuditEntry {
    pub occurred_at: i64,
    pub action: String,
    /// `"<name> (<id>)"`, the id alone for the master key, or `unattributed`.
    pub actor: String,
    pub actor_id: Option<String>,
    pub target_id: Option<String>,
    /// `ok`, `denied` or `error`.
    pub outcome: String,
    pub detail: Option<String>,
    pub source_ip: Option<String>,
    pub trace_id: Option<String>,
}

/// Filters of `GET /admin/audit`; `None` means "any".
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor_id: Option<String>,
    pub outcome: Option<String>,
    pub since: Option<i64>,
}

#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    async fn append_audit(&self, e: &AuditEntry) -> Result<()>;
    /// A page of entries (newest first) and the total matching the filter.
    async fn list_audit(
        &self,
        f: &AuditFilter,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<AuditEntry>, i64)>;
}

const COLS: &str =
    "occurred_at, action, actor, actor_id, target_id, outcome, detail, source_ip, trace_id";

fn where_clause(f: &AuditFilter) -> (String, Vec<Param>) {
    let mut conds = Vec::new();
    let mut params: Vec<Param> = Vec::new();
    let mut add = |col: &str, op: &str, p: Param| {
        params.push(p);
        conds.push(format!("{col} {op} ?{}", params.len()));
    };
    if let Some(v) = &f.action {
        add("action", "=", v.clone().into());
    }
    if let Some(v) = &f.actor_id {
        add("actor_id", "=", v.clone().into());
    }
    if let Some(v) = &f.outcome {
        add("outcome", "=", v.clone().into());
    }
    if let Some(v) = f.since {
        add("occurred_at", ">=", v.into());
    }
    let w = if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    };
    (w, params)
}

fn from_row(r: &[Value]) -> Result<AuditEntry> {
    let c = Cols(r);
    Ok(AuditEntry {
        occurred_at: c.int(0)?,
        action: c.text(1)?,
        actor: c.text(2)?,
        actor_id: c.opt_text(3)?,
        target_id: c.opt_text(4)?,
        outcome: c.text(5)?,
        detail: c.opt_text(6)?,
        source_ip: c.opt_text(7)?,
        trace_id: c.opt_text(8)?,
    })
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn append_audit(&self, e: &AuditEntry) -> Result<()> {
        let sql =
            format!("INSERT INTO audit_log ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
        let params: Vec<Param> = vec![
            e.occurred_at.into(),
            e.action.clone().into(),
            e.actor.clone().into(),
            e.actor_id.clone().into(),
            e.target_id.clone().into(),
            e.outcome.clone().into(),
            e.detail.clone().into(),
            e.source_ip.clone().into(),
            e.trace_id.clone().into(),
        ];
        self.db().execute(&sql, params).await.map(|_| ())
    }

    async fn list_audit(
        &self,
        f: &AuditFilter,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<AuditEntry>, i64)> {
        let (w, mut params) = where_clause(f);
        let count_sql = format!("SELECT COUNT(*) FROM audit_log{w}");
        let total = match self.db().query(&count_sql, params.clone()).await?.first() {
            Some(r) => Cols(r).int(0)?,
            None => 0,
        };
        let n = params.len();
        params.push(limit.into());
        params.push(offset.into());
        let sql = format!(
            "SELECT {COLS} FROM audit_log{w} ORDER BY occurred_at DESC, id DESC LIMIT ?{} OFFSET ?{}",
            n + 1,
            n + 2
        );
        let rows = self.db().query(&sql, params).await?;
        let data = rows.iter().map(|r| from_row(r)).collect::<Result<_>>()?;
        Ok((data, total))
    }
}
