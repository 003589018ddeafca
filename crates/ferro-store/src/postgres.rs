//! PostgreSQL engine: a small lazy connection pool over `tokio-postgres`.
//!
//! Connections are opened on first use, in the runtime that uses them (so a
//! store can be created from synchronous start-up code), and reopened when one
//! breaks. Migrations run on a dedicated connection holding a session advisory
//! lock ([`PG_LOCK_KEY`]): several gateways starting at once against one
//! database apply each migration exactly once. TLS is not built in; use a
//! local socket, a private network or a TLS-terminating proxy.

use crate::db::{to_pg_placeholders, Backend, Db, Param, Row, Stmt, StmtOut, Value};
use crate::migrate::{Component, LEDGER, PG_LOCK_KEY};
use crate::{time, Error};
use async_trait::async_trait;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Mutex;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Config, NoTls};

/// Connections kept per store.
const POOL_SIZE: usize = 4;

/// A PostgreSQL database.
pub struct Postgres {
    config: Config,
    slots: Vec<Mutex<Option<Client>>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the DSN: it may carry a password.
        f.debug_struct("Postgres").finish_non_exhaustive()
    }
}

fn err(e: tokio_postgres::Error) -> Error {
    // `Display` of a tokio-postgres error never includes the password.
    match e.as_db_error() {
        Some(db) => Error::Db(format!("{}: {}", db.code().code(), db.message())),
        None => Error::Db(e.to_string()),
    }
}

async fn connect(config: &Config) -> Result<Client, Error> {
    let (client, conn) = config.connect(NoTls).await.map_err(err)?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::warn!(error = %e, "postgres connection closed");
        }
    });
    Ok(client)
}

impl Postgres {
    /// Parses `dsn` (URL or `key=value` form) and migrates `components`, from
    /// async code.
    pub async fn open_async(dsn: &str, components: &[Component]) -> Result<Postgres, Error> {
        let config = Config::from_str(dsn)
            .map_err(|_| Error::Config("invalid PostgreSQL DSN".to_owned()))?;
        let pg = Postgres {
            config,
            slots: (0..POOL_SIZE).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        };
        pg.migrate(components).await?;
        Ok(pg)
    }

    /// Same, from synchronous start-up code (inside or outside a runtime): the
    /// migration runs on a helper thread with its own runtime; pool connections
    /// are opened later, lazily, by the runtime that uses them.
    pub fn open(dsn: &str, components: &[Component]) -> Result<Postgres, Error> {
        let dsn = dsn.to_owned();
        let components = components.to_vec();
        std::thread::scope(|s| {
            s.spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| Error::Io(e.to_string()))?;
                rt.block_on(async {
                    let pg = Postgres::open_async(&dsn, &components).await?;
                    // Drop this runtime's connections: they die with it.
                    for slot in &pg.slots {
                        *slot.lock().await = None;
                    }
                    Ok(pg)
                })
            })
            .join()
            .map_err(|_| Error::Io("postgres start-up thread panicked".to_owned()))?
        })
    }

    async fn migrate(&self, components: &[Component]) -> Result<(), Error> {
        let mut client = connect(&self.config).await?;
        client
            .execute("SELECT pg_advisory_lock($1)", &[&PG_LOCK_KEY])
            .await
            .map_err(err)?;
        let res = async {
            client.batch_execute(LEDGER).await.map_err(err)?;
            for c in components {
                let tx = client.transaction().await.map_err(err)?;
                let applied: i64 = tx
                    .query_one(
                        "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations WHERE component = $1",
                        &[&c.name()],
                    )
                    .await
                    .map_err(err)?
                    .try_get(0)
                    .map_err(err)?;
                for m in c.migrations().iter().filter(|m| m.version > applied) {
                    tx.batch_execute(&m.sql_for(true)).await.map_err(|e| {
                        Error::Db(format!("migration {} v{}: {}", c.name(), m.version, err(e)))
                    })?;
                    tx.execute(
                        "INSERT INTO schema_migrations (component, version, name, applied_at) VALUES ($1, $2, $3, $4)",
                        &[&c.name(), &m.version, &m.name, &time::now()],
                    )
                    .await
                    .map_err(err)?;
                }
                tx.commit().await.map_err(err)?;
            }
            Ok::<(), Error>(())
        }
        .await;
        let _ = client
            .execute("SELECT pg_advisory_unlock($1)", &[&PG_LOCK_KEY])
            .await;
        res
    }

    /// A free connection slot (or the next one, waited for), connected.
    async fn slot(&self) -> Result<tokio::sync::MutexGuard<'_, Option<Client>>, Error> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.slots.len();
        let mut guard = None;
        for i in 0..n {
            if let Ok(g) = self.slots[(start + i) % n].try_lock() {
                guard = Some(g);
                break;
            }
        }
        let mut guard = match guard {
            Some(g) => g,
            None => self.slots[start % n].lock().await,
        };
        if guard.as_ref().is_none_or(Client::is_closed) {
            *guard = Some(connect(&self.config).await?);
        }
        Ok(guard)
    }
}

fn boxed(p: &Param) -> Box<dyn ToSql + Sync + Send> {
    match p {
        Param::Int(v) => Box::new(*v),
        Param::Real(v) => Box::new(*v),
        Param::Text(v) => Box::new(v.clone()),
        Param::Bool(v) => Box::new(*v),
        Param::NullInt => Box::new(None::<i64>),
        Param::NullReal => Box::new(None::<f64>),
        Param::NullText => Box::new(None::<String>),
    }
}

fn value(row: &tokio_postgres::Row, i: usize) -> Result<Value, Error> {
    let ty = row.columns()[i].type_().clone();
    let v = if ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(i).map(|v| v.map(Value::Int))
    } else if ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(i)
            .map(|v| v.map(|v| Value::Int(v.into())))
    } else if ty == Type::INT2 {
        row.try_get::<_, Option<i16>>(i)
            .map(|v| v.map(|v| Value::Int(v.into())))
    } else if ty == Type::FLOAT8 {
        row.try_get::<_, Option<f64>>(i).map(|v| v.map(Value::Real))
    } else if ty == Type::FLOAT4 {
        row.try_get::<_, Option<f32>>(i)
            .map(|v| v.map(|v| Value::Real(v.into())))
    } else if ty == Type::BOOL {
        row.try_get::<_, Option<bool>>(i)
            .map(|v| v.map(|b| Value::Int(i64::from(b))))
    } else if ty == Type::TEXT || ty == Type::VARCHAR || ty == Type::NAME || ty == Type::BPCHAR {
        row.try_get::<_, Option<String>>(i)
            .map(|v| v.map(Value::Text))
    } else {
        return Err(Error::Data(format!("unsupported column type {ty}")));
    };
    Ok(v.map_err(err)?.unwrap_or(Value::Null))
}

fn returns_rows(sql: &str) -> bool {
    let t = sql.trim_start();
    t.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("select"))
        || sql.to_ascii_uppercase().contains("RETURNING")
}

async fn run_one<C: tokio_postgres::GenericClient>(c: &C, s: &Stmt) -> Result<StmtOut, Error> {
    let sql = to_pg_placeholders(&s.sql);
    let params: Vec<Box<dyn ToSql + Sync + Send>> = s.params.iter().map(boxed).collect();
    let refs: Vec<&(dyn ToSql + Sync)> = params
        .iter()
        .map(|b| b.as_ref() as &(dyn ToSql + Sync))
        .collect();
    if returns_rows(&sql) {
        let rows = c.query(&sql, &refs).await.map_err(err)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let row: Row = (0..r.len())
                .map(|i| value(r, i))
                .collect::<Result<_, _>>()?;
            out.push(row);
        }
        let affected = out.len() as u64;
        Ok(StmtOut {
            rows: out,
            affected,
        })
    } else {
        let affected = c.execute(&sql, &refs).await.map_err(err)?;
        Ok(StmtOut {
            rows: Vec::new(),
            affected,
        })
    }
}

#[async_trait]
impl Db for Postgres {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn run(&self, stmts: Vec<Stmt>, atomic: bool) -> Result<Vec<StmtOut>, Error> {
        let mut guard = self.slot().await?;
        let client = guard
            .as_mut()
            .ok_or_else(|| Error::Db("no postgres connection".to_owned()))?;
        let mut out = Vec::with_capacity(stmts.len());
        if atomic {
            let tx = client.transaction().await.map_err(err)?;
            for s in &stmts {
                out.push(run_one(&tx, s).await?);
            }
            tx.commit().await.map_err(err)?;
        } else {
            for s in &stmts {
                out.push(run_one(&*client, s).await?);
            }
        }
        Ok(out)
    }
}
