//! Request logs (CONTRACT §6.1 plus the ★2 fields): one terminal row per routed
//! request, written in batches by the gateway's log writer, read newest first.

use crate::db::{Cols, Param, Stmt, Value};
use crate::{Result, SqlStore};
use async_trait::async_trait;

/// One request-log row.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogRow {
    pub trace_id: String,
    /// `after_request` (served) or `on_error`.
    pub stage: String,
    /// The surface: `chat`, `embeddings`, …
    pub route: String,
    pub model: String,
    /// Stored key id, `master-key:<16hex>`, `session:<id>` or `""`.
    pub api_key_id: String,
    pub provider: String,
    pub target: String,
    /// HTTP status returned to the client.
    pub status: i64,
    pub stream: bool,
    pub cache_hit: bool,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub cost_usd: Option<f64>,
    pub error_message: Option<String>,
    pub created_at: i64,
    pub duration_ms: Option<f64>,
    pub ttft_ms: Option<f64>,
}

/// Which rows a list, delete or stats call covers; `None` / empty means "any".
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    /// Rows whose stage is one of these (empty: every stage).
    pub stages: Vec<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
    /// `Some("")` selects rows with no key.
    pub api_key_id: Option<String>,
    pub trace_id: Option<String>,
    /// `created_at >= since`.
    pub since: Option<i64>,
    /// `created_at < before`.
    pub before: Option<i64>,
}

#[async_trait]
pub trait LogStore: Send + Sync + 'static {
    async fn insert_logs(&self, rows: &[LogRow]) -> Result<()>;
    /// A page (newest first) and the total matching `f`.
    async fn list_logs(&self, f: &LogFilter, limit: i64, offset: i64)
        -> Result<(Vec<LogRow>, i64)>;
    /// Every row matching `f`, newest first, at most `max` (for aggregates).
    async fn scan_logs(&self, f: &LogFilter, max: i64) -> Result<Vec<LogRow>>;
    async fn delete_logs(&self, f: &LogFilter) -> Result<u64>;
    async fn count_logs(&self) -> Result<i64>;
}

const COLS: &str = "trace_id, stage, route, model, api_key_id, provider, target, status, stream, cache_hit, \
                    prompt_tokens, completion_tokens, total_tokens, cost_usd, error_message, created_at, duration_ms, ttft_ms";
const NCOLS: usize = 18;
/// Rows per multi-row `INSERT` (18 parameters each, well under both engines' limits).
const INSERT_CHUNK: usize = 100;

fn where_clause(f: &LogFilter) -> (String, Vec<Param>) {
    let mut conds: Vec<String> = Vec::new();
    let mut params: Vec<Param> = Vec::new();
    if !f.stages.is_empty() {
        let mut ph = Vec::new();
        for s in &f.stages {
            params.push(s.clone().into());
            ph.push(format!("?{}", params.len()));
        }
        conds.push(format!("stage IN ({})", ph.join(", ")));
    }
    let mut eq = |col: &str, op: &str, p: Param| {
        params.push(p);
        conds.push(format!("{col} {op} ?{}", params.len()));
    };
    if let Some(v) = &f.model {
        eq("model", "=", v.clone().into());
    }
    if let Some(v) = &f.provider {
        eq("provider", "=", v.clone().into());
    }
    if let Some(v) = &f.api_key_id {
        eq("api_key_id", "=", v.clone().into());
    }
    if let Some(v) = &f.trace_id {
        eq("trace_id", "=", v.clone().into());
    }
    if let Some(v) = f.since {
        eq("created_at", ">=", v.into());
    }
    if let Some(v) = f.before {
        eq("created_at", "<", v.into());
    }
    let w = if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    };
    (w, params)
}

fn from_row(r: &[Value]) -> Result<LogRow> {
    let c = Cols(r);
    Ok(LogRow {
        trace_id: c.text(0)?,
        stage: c.text(1)?,
        route: c.text(2)?,
        model: c.text(3)?,
        api_key_id: c.text(4)?,
        provider: c.text(5)?,
        target: c.text(6)?,
        status: c.int(7)?,
        stream: c.boolean(8)?,
        cache_hit: c.boolean(9)?,
        prompt_tokens: c.int(10)?,
        completion_tokens: c.int(11)?,
        total_tokens: c.int(12)?,
        cost_usd: c.opt_real(13)?,
        error_message: c.opt_text(14)?,
        created_at: c.int(15)?,
        duration_ms: c.opt_real(16)?,
        ttft_ms: c.opt_real(17)?,
    })
}

fn params_of(r: &LogRow, out: &mut Vec<Param>) {
    out.extend([
        r.trace_id.clone().into(),
        r.stage.clone().into(),
        r.route.clone().into(),
        r.model.clone().into(),
        r.api_key_id.clone().into(),
        r.provider.clone().into(),
        r.target.clone().into(),
        r.status.into(),
        r.stream.into(),
        r.cache_hit.into(),
        r.prompt_tokens.into(),
        r.completion_tokens.into(),
        r.total_tokens.into(),
        r.cost_usd.into(),
        r.error_message.clone().into(),
        r.created_at.into(),
        r.duration_ms.into(),
        r.ttft_ms.into(),
    ]);
}

/// Rows per statement: full chunks of [`INSERT_CHUNK`], then powers of two, so
/// only eight distinct statements exist and all stay prepared in the engines'
/// statement caches (no SQL text is built or parsed per batch).
const INSERT_SIZES: [usize; 8] = [INSERT_CHUNK, 64, 32, 16, 8, 4, 2, 1];

/// The multi-row `INSERT` for the largest size of [`INSERT_SIZES`] that fits
/// `remaining` (at least 1), and that size.
fn insert_sql(remaining: usize) -> (&'static str, usize) {
    static SQL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let all = SQL.get_or_init(|| {
        INSERT_SIZES
            .iter()
            .map(|&n| {
                let values: Vec<String> = (0..n)
                    .map(|i| {
                        let ph: Vec<String> =
                            (1..=NCOLS).map(|j| format!("?{}", i * NCOLS + j)).collect();
                        format!("({})", ph.join(", "))
                    })
                    .collect();
                format!(
                    "INSERT INTO request_logs ({COLS}) VALUES {}",
                    values.join(", ")
                )
            })
            .collect()
    });
    let i = INSERT_SIZES
        .iter()
        .position(|&n| n <= remaining)
        .unwrap_or(INSERT_SIZES.len() - 1);
    (all[i].as_str(), INSERT_SIZES[i])
}

#[async_trait]
impl LogStore for SqlStore {
    async fn insert_logs(&self, rows: &[LogRow]) -> Result<()> {
        let mut stmts = Vec::new();
        let mut rest = rows;
        while !rest.is_empty() {
            let (sql, n) = insert_sql(rest.len());
            let (chunk, tail) = rest.split_at(n);
            let mut params = Vec::with_capacity(n * NCOLS);
            for r in chunk {
                params_of(r, &mut params);
            }
            stmts.push(Stmt::new(sql, params));
            rest = tail;
        }
        if stmts.is_empty() {
            return Ok(());
        }
        self.db().run(stmts, true).await.map(|_| ())
    }

    async fn list_logs(
        &self,
        f: &LogFilter,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<LogRow>, i64)> {
        let (w, mut params) = where_clause(f);
        let total = match self
            .db()
            .query(
                &format!("SELECT COUNT(*) FROM request_logs{w}"),
                params.clone(),
            )
            .await?
            .first()
        {
            Some(r) => Cols(r).int(0)?,
            None => 0,
        };
        let n = params.len();
        params.push(limit.into());
        params.push(offset.into());
        let sql = format!(
            "SELECT {COLS} FROM request_logs{w} ORDER BY created_at DESC, id DESC LIMIT ?{} OFFSET ?{}",
            n + 1,
            n + 2
        );
        let rows = self.db().query(&sql, params).await?;
        let data = rows.iter().map(|r| from_row(r)).collect::<Result<_>>()?;
        Ok((data, total))
    }

    async fn scan_logs(&self, f: &LogFilter, max: i64) -> Result<Vec<LogRow>> {
        let (w, mut params) = where_clause(f);
        params.push(max.into());
        let sql = format!(
            "SELECT {COLS} FROM request_logs{w} ORDER BY created_at DESC, id DESC LIMIT ?{}",
            params.len()
        );
        let rows = self.db().query(&sql, params).await?;
        rows.iter().map(|r| from_row(r)).collect()
    }

    async fn delete_logs(&self, f: &LogFilter) -> Result<u64> {
        let (w, params) = where_clause(f);
        self.db()
            .execute(&format!("DELETE FROM request_logs{w}"), params)
            .await
    }

    async fn count_logs(&self) -> Result<i64> {
        match self
            .db()
            .query("SELECT COUNT(*) FROM request_logs", vec![])
            .await?
            .first()
        {
            Some(r) => Cols(r).int(0),
            None => Ok(0),
        }
    }
}
