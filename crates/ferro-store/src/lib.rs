//! Ferro's control-plane storage: API keys, dashboard sessions, the audit
//! trail, config history and request logs (CONTRACT §4, §5.8, §6, ★1, ★2).
//!
//! Each kind of data has a trait ([`KeyStore`], [`SessionStore`],
//! [`AuditStore`], [`ConfigStore`], [`LogStore`]) so the gateway never sees an
//! engine. One implementation, [`SqlStore`], serves them all over the [`Db`]
//! seam, on SQLite (the default: files under `FERRO_DATA_DIR`, owner-only, WAL),
//! on SQLite in memory (`memory`) or on PostgreSQL (several gateways sharing
//! one database). Schemas are versioned ([`migrate`]) and safe to apply from
//! concurrent starts.
//!
//! The store holds no policy: key scopes, guards, retention and reporting
//! shapes belong to the gateway. Must not depend on the server.

pub mod audit;
pub mod config;
pub mod db;
pub mod keys;
pub mod logs;
pub mod migrate;
pub mod postgres;
pub mod sessions;
pub mod sqlite;
pub mod time;

pub use audit::{AuditEntry, AuditFilter, AuditStore};
pub use config::{ConfigHistoryEntry, ConfigStore};
pub use db::{Backend, Db};
pub use keys::{KeyRecord, KeyStore, UsageDelta};
pub use logs::{LogFilter, LogRow, LogStore};
pub use migrate::Component;
pub use sessions::{SessionRecord, SessionStore};

use std::path::Path;
use std::sync::Arc;

/// A storage failure. Messages never carry credentials (DSNs are not echoed).
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("database error: {0}")]
    Db(String),
    #[error("unexpected stored data: {0}")]
    Data(String),
    #[error("store file error: {0}")]
    Io(String),
    #[error("store configuration error: {0}")]
    Config(String),
    #[error("conflict: {0}")]
    Conflict(String),
}

/// Result of every store call.
pub type Result<T> = std::result::Result<T, Error>;

/// All the stores, over one database.
#[derive(Clone)]
pub struct SqlStore {
    db: Arc<dyn Db>,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &self.db.backend())
            .finish()
    }
}

impl SqlStore {
    pub fn new(db: Arc<dyn Db>) -> SqlStore {
        SqlStore { db }
    }

    /// A SQLite file (created owner-only), migrated for `components`. Blocking.
    pub fn sqlite(path: &Path, components: &[Component]) -> Result<SqlStore> {
        Ok(SqlStore::new(Arc::new(sqlite::Sqlite::open(
            path, components,
        )?)))
    }

    /// An in-memory database, migrated for `components`.
    pub fn memory(components: &[Component]) -> Result<SqlStore> {
        Ok(SqlStore::new(Arc::new(sqlite::Sqlite::memory(components)?)))
    }

    /// A PostgreSQL database, migrated for `components`. Usable from synchronous
    /// start-up code; connections open lazily.
    pub fn postgres(dsn: &str, components: &[Component]) -> Result<SqlStore> {
        Ok(SqlStore::new(Arc::new(postgres::Postgres::open(
            dsn, components,
        )?)))
    }

    /// Same, from async code.
    pub async fn postgres_async(dsn: &str, components: &[Component]) -> Result<SqlStore> {
        Ok(SqlStore::new(Arc::new(
            postgres::Postgres::open_async(dsn, components).await?,
        )))
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    /// A cheap round trip, for health checks.
    pub async fn ping(&self) -> Result<()> {
        self.db.ping().await
    }

    pub(crate) fn db(&self) -> &dyn Db {
        &*self.db
    }
}

/// Random lowercase hex of `bytes` random bytes.
pub fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut b = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// SHA-256 of `s`, lowercase hex (how keys and session tokens are stored).
pub fn sha256_hex(s: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Runs `fut` to completion from synchronous code — inside or outside a tokio
/// runtime — on a helper thread with its own runtime. For start-up only (it
/// blocks the caller). Connections a PostgreSQL store opens here die with the
/// helper runtime; the pool reopens them on next use.
pub fn block_on<F>(fut: F) -> Result<F::Output>
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    std::thread::scope(|s| {
        s.spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|rt| rt.block_on(fut))
                .map_err(|e| Error::Io(format!("start-up runtime: {e}")))
        })
        .join()
        .map_err(|_| Error::Io("start-up thread panicked".to_owned()))?
    })
}
