//! State that outlives one config: budget stores (persisted under
//! `FERRO_DATA_DIR`) and the optional Redis backend.
//!
//! # Redis (`REDIS_URL`)
//!
//! When `REDIS_URL` is set (`redis://host:port[/db]`), the `rate-limit` buckets,
//! the `budget` spend and reservations and the `response-cache` entries live in
//! Redis, so every gateway instance sharing it enforces one limit. Every
//! read-modify-write is one Lua script (`EVALSHA`), so concurrent requests on
//! any number of instances cannot both take the last token or the last cent.
//! Keys start with `FERRO_REDIS_PREFIX` (default `ferro:`).
//!
//! When Redis cannot be reached (connect refused, timeout after
//! [`OP_TIMEOUT`]), the call is counted in [`redis_counters`] and, for one
//! second, Redis is not tried again; meanwhile `FERRO_REDIS_FAIL_MODE` decides:
//! `open` (default) keeps enforcing with this instance's own in-memory state
//! (limits then hold per instance rather than globally), `closed` refuses the
//! requests that need the shared state with 500 `plugin_error`. The response
//! cache always treats an unreachable Redis as a miss. The gateway keeps
//! serving either way, and returns to Redis as soon as it answers again.

use crate::builtin::budget_store::LocalBudget;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Longest a single Redis call may take before it counts as unreachable.
pub const OP_TIMEOUT: Duration = Duration::from_millis(500);
/// How long Redis is left alone after a failure.
const BACKOFF_MS: u64 = 1000;

/// What limits do while Redis is unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    /// Fall back to this instance's in-memory state.
    Open,
    /// Refuse with 500 `plugin_error`.
    Closed,
}

static ERRORS: AtomicU64 = AtomicU64::new(0);
static FALLBACKS: AtomicU64 = AtomicU64::new(0);

/// `(redis_errors, redis_fallbacks)` since start: failed Redis calls, and
/// decisions taken without Redis because of them.
pub fn redis_counters() -> (u64, u64) {
    (
        ERRORS.load(Ordering::Relaxed),
        FALLBACKS.load(Ordering::Relaxed),
    )
}

pub(crate) fn count_fallback() {
    FALLBACKS.fetch_add(1, Ordering::Relaxed);
}

/// The Redis backend: a lazily connected, auto-reconnecting multiplexed
/// connection, a key prefix and the fail mode.
pub struct Redis {
    client: redis::Client,
    conn: tokio::sync::OnceCell<ConnectionManager>,
    prefix: String,
    mode: FailMode,
    down_until_ms: AtomicU64,
}

/// Redis could not answer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unreachable;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Redis {
    fn new(url: &str, prefix: String, mode: FailMode) -> Result<Redis, String> {
        let client =
            redis::Client::open(url).map_err(|e| format!("REDIS_URL: invalid URL: {e}"))?;
        Ok(Redis {
            client,
            conn: tokio::sync::OnceCell::new(),
            prefix,
            mode,
            down_until_ms: AtomicU64::new(0),
        })
    }

    /// The fail mode.
    pub fn mode(&self) -> FailMode {
        self.mode
    }

    /// `<prefix><parts joined by ':'>`.
    pub(crate) fn key(&self, parts: &[&str]) -> String {
        let mut k = self.prefix.clone();
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                k.push(':');
            }
            k.push_str(p);
        }
        k
    }

    async fn connection(&self) -> Result<ConnectionManager, Unreachable> {
        if now_ms() < self.down_until_ms.load(Ordering::Relaxed) {
            return Err(Unreachable);
        }
        let cfg = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(OP_TIMEOUT))
            .set_response_timeout(Some(OP_TIMEOUT))
            .set_number_of_retries(1);
        let client = self.client.clone();
        let conn = tokio::time::timeout(
            OP_TIMEOUT * 2,
            self.conn
                .get_or_try_init(|| ConnectionManager::new_with_config(client, cfg)),
        )
        .await;
        match conn {
            Ok(Ok(c)) => Ok(c.clone()),
            _ => Err(self.failed("connect")),
        }
    }

    fn failed(&self, what: &str) -> Unreachable {
        ERRORS.fetch_add(1, Ordering::Relaxed);
        self.down_until_ms
            .store(now_ms() + BACKOFF_MS, Ordering::Relaxed);
        tracing::warn!("redis {what} failed; using the fallback for 1s");
        Unreachable
    }

    /// Runs a Lua script (EVALSHA, loading it on NOSCRIPT).
    pub(crate) async fn script<T: redis::FromRedisValue>(
        &self,
        script: &redis::Script,
        keys: &[&str],
        args: &[String],
    ) -> Result<T, Unreachable> {
        let mut conn = self.connection().await?;
        let mut inv = script.prepare_invoke();
        for k in keys {
            inv.key(*k);
        }
        for a in args {
            inv.arg(a.as_str());
        }
        match tokio::time::timeout(OP_TIMEOUT, inv.invoke_async(&mut conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                tracing::debug!("redis script: {e}");
                Err(self.failed("script"))
            }
            Err(_) => Err(self.failed("script (timeout)")),
        }
    }

    /// Runs one command.
    pub(crate) async fn cmd<T: redis::FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
    ) -> Result<T, Unreachable> {
        let mut conn = self.connection().await?;
        match tokio::time::timeout(OP_TIMEOUT, cmd.query_async(&mut conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                tracing::debug!("redis command: {e}");
                Err(self.failed("command"))
            }
            Err(_) => Err(self.failed("command (timeout)")),
        }
    }
}

struct Inner {
    data_dir: Option<PathBuf>,
    redis: Option<Redis>,
    budgets: Mutex<HashMap<String, Arc<LocalBudget>>>,
    /// The journal flusher thread has been started.
    flusher: std::sync::Once,
}

/// State shared by every chain built from it: carry it from one config to the
/// next so budgets and Redis connections survive reloads.
#[derive(Clone)]
pub struct Shared(Arc<Inner>);

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("data_dir", &self.0.data_dir)
            .field("redis", &self.0.redis.as_ref().map(|r| &r.prefix))
            .finish()
    }
}

impl Shared {
    /// Process state from `FERRO_DATA_DIR` (default `./ferro-data`),
    /// `REDIS_URL`, `FERRO_REDIS_PREFIX` and `FERRO_REDIS_FAIL_MODE`.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Shared, Vec<String>> {
        let get = |k: &str| {
            env(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let data_dir = get("FERRO_DATA_DIR").unwrap_or_else(|| "./ferro-data".to_owned());
        let mut errs = Vec::new();
        let mode = match get("FERRO_REDIS_FAIL_MODE").as_deref() {
            None | Some("open") => FailMode::Open,
            Some("closed") => FailMode::Closed,
            Some(other) => {
                errs.push(format!(
                    "FERRO_REDIS_FAIL_MODE: unknown value `{other}` (allowed: open, closed)"
                ));
                FailMode::Open
            }
        };
        let prefix = get("FERRO_REDIS_PREFIX").unwrap_or_else(|| "ferro:".to_owned());
        let redis = match get("REDIS_URL") {
            None => None,
            Some(url) => match Redis::new(&url, prefix, mode) {
                Ok(r) => Some(r),
                Err(e) => {
                    errs.push(e);
                    None
                }
            },
        };
        if !errs.is_empty() {
            return Err(errs);
        }
        Ok(Shared::with(Some(PathBuf::from(data_dir)), redis))
    }

    /// In-memory state only; budgets persist under `data_dir` when given.
    pub fn local(data_dir: Option<PathBuf>) -> Shared {
        Shared::with(data_dir, None)
    }

    fn with(data_dir: Option<PathBuf>, redis: Option<Redis>) -> Shared {
        Shared(Arc::new(Inner {
            data_dir,
            redis,
            budgets: Mutex::new(HashMap::new()),
            flusher: std::sync::Once::new(),
        }))
    }

    /// The Redis backend, when configured.
    pub fn redis(&self) -> Option<&Redis> {
        self.0.redis.as_ref()
    }

    /// The local budget store `store_id` (opened, and its journal replayed, once).
    pub(crate) fn budget_store(&self, store_id: &str) -> Result<Arc<LocalBudget>, String> {
        let mut m = self.0.budgets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = m.get(store_id) {
            return Ok(s.clone());
        }
        let s = Arc::new(LocalBudget::open(self.0.data_dir.as_deref(), store_id)?);
        m.insert(store_id.to_owned(), s.clone());
        if self.0.data_dir.is_some() {
            self.start_flusher();
        }
        Ok(s)
    }

    /// Writes every budget store's buffered journal lines (called at shutdown;
    /// a background thread also does it every
    /// [`FLUSH_EVERY`](crate::builtin::budget_store::FLUSH_EVERY)).
    pub fn flush(&self) {
        flush_all(&self.0);
    }

    /// One thread per `Shared` writes the budget journals off the request
    /// path; it ends when the last handle to this state is dropped.
    fn start_flusher(&self) {
        self.0.flusher.call_once(|| {
            let weak = Arc::downgrade(&self.0);
            let spawned = std::thread::Builder::new()
                .name("ferro-budget-journal".into())
                .spawn(move || loop {
                    std::thread::sleep(crate::builtin::budget_store::FLUSH_EVERY);
                    match weak.upgrade() {
                        Some(inner) => flush_all(&inner),
                        None => break,
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(
                    "budget journal flusher not started ({e}); spend is written when stores close"
                );
            }
        });
    }
}

fn flush_all(inner: &Inner) {
    let stores: Vec<Arc<LocalBudget>> = inner
        .budgets
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .values()
        .cloned()
        .collect();
    for s in stores {
        s.flush();
    }
}
