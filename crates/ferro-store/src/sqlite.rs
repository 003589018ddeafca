//! SQLite engine (also the `memory` backend, as an in-memory database).
//!
//! One connection per database behind a mutex, used from `spawn_blocking`: the
//! control plane's writes are batched (request logs, key usage) and its reads are
//! admin calls, so one connection is plenty and keeps transactions trivially
//! serial. Files are created owner-only (0600) before SQLite writes a byte, and
//! run in WAL mode so readers never wait for the log writer.

use crate::db::{Backend, Db, Param, Row, Stmt, StmtOut, Value};
use crate::migrate::{Component, LEDGER};
use crate::{time, Error};
use async_trait::async_trait;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

/// A SQLite database.
#[derive(Clone)]
pub struct Sqlite {
    conn: Arc<Mutex<Connection>>,
    backend: Backend,
}

impl std::fmt::Debug for Sqlite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sqlite")
            .field("backend", &self.backend)
            .finish()
    }
}

fn err(e: rusqlite::Error) -> Error {
    Error::Db(e.to_string())
}

/// Creates `path` owner-only if missing, and tightens it if it exists.
fn create_owner_only(path: &Path) -> Result<(), Error> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::Io(format!("{}: {e}", dir.display())))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(|e| Error::Io(format!("{}: {e}", dir.display())))?;
            }
        }
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
        .map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
    }
    Ok(())
}

impl Sqlite {
    /// Opens (creating owner-only) the database file at `path` and migrates
    /// `components`. Blocking: call at start-up or from `spawn_blocking`.
    pub fn open(path: &Path, components: &[Component]) -> Result<Sqlite, Error> {
        create_owner_only(path)?;
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        Self::finish(conn, Backend::Sqlite, components)
    }

    /// An in-memory database (the `memory` backend).
    pub fn memory(components: &[Component]) -> Result<Sqlite, Error> {
        let conn = Connection::open_in_memory().map_err(err)?;
        Self::finish(conn, Backend::Memory, components)
    }

    fn finish(
        mut conn: Connection,
        backend: Backend,
        components: &[Component],
    ) -> Result<Sqlite, Error> {
        conn.set_prepared_statement_cache_capacity(64);
        for c in components {
            migrate(&mut conn, *c)?;
        }
        Ok(Sqlite {
            conn: Arc::new(Mutex::new(conn)),
            backend,
        })
    }

    fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave the connection itself broken
        // (an open transaction is rolled back when its guard drops), so go on.
        conn.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Applies the pending migrations of `component` under `BEGIN IMMEDIATE`, which
/// takes SQLite's write lock first: a second process starting at the same time
/// waits (busy timeout), then finds the ledger up to date.
fn migrate(conn: &mut Connection, component: Component) -> Result<(), Error> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(err)?;
    tx.execute_batch(LEDGER).map_err(err)?;
    let applied: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = ?1",
            [component.name()],
            |r| r.get(0),
        )
        .map_err(err)?;
    for m in component
        .migrations()
        .iter()
        .filter(|m| m.version > applied)
    {
        tx.execute_batch(&m.sql_for(false)).map_err(|e| {
            Error::Db(format!(
                "migration {} v{}: {e}",
                component.name(),
                m.version
            ))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (component, version, name, applied_at) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![component.name(), m.version, m.name, time::now()],
        )
        .map_err(err)?;
    }
    tx.commit().map_err(err)
}

impl ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Param::Int(v) => ToSqlOutput::from(*v),
            Param::Real(v) => ToSqlOutput::from(*v),
            Param::Text(v) => ToSqlOutput::from(v.as_str()),
            Param::Bool(v) => ToSqlOutput::from(i64::from(*v)),
            Param::NullInt | Param::NullReal | Param::NullText => {
                ToSqlOutput::from(rusqlite::types::Null)
            }
        })
    }
}

fn run_one(conn: &Connection, stmt: &Stmt) -> Result<StmtOut, Error> {
    let mut st = conn.prepare_cached(&stmt.sql).map_err(err)?;
    let ncols = st.column_count();
    let returns_rows = ncols > 0;
    let mut rows = st
        .query(rusqlite::params_from_iter(stmt.params.iter()))
        .map_err(err)?;
    let mut out: Vec<Row> = Vec::new();
    while let Some(r) = rows.next().map_err(err)? {
        let mut row = Vec::with_capacity(ncols);
        for i in 0..ncols {
            row.push(match r.get_ref(i).map_err(err)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(v) => Value::Int(v),
                ValueRef::Real(v) => Value::Real(v),
                ValueRef::Text(t) | ValueRef::Blob(t) => {
                    Value::Text(String::from_utf8_lossy(t).into_owned())
                }
            });
        }
        out.push(row);
    }
    drop(rows);
    drop(st);
    let is_select = returns_rows
        && stmt
            .sql
            .trim_start()
            .get(..6)
            .is_some_and(|p| p.eq_ignore_ascii_case("select"));
    let affected = if is_select { 0 } else { conn.changes() };
    Ok(StmtOut {
        rows: out,
        affected,
    })
}

#[async_trait]
impl Db for Sqlite {
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn run(&self, stmts: Vec<Stmt>, atomic: bool) -> Result<Vec<StmtOut>, Error> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = Sqlite::lock(&conn);
            if atomic {
                let tx = guard.transaction().map_err(err)?;
                let out = stmts
                    .iter()
                    .map(|s| run_one(&tx, s))
                    .collect::<Result<Vec<_>, _>>()?;
                tx.commit().map_err(err)?;
                Ok(out)
            } else {
                stmts.iter().map(|s| run_one(&guard, s)).collect()
            }
        })
        .await
        .map_err(|e| Error::Db(format!("sqlite worker failed: {e}")))?
    }
}
