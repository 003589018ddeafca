//! The request-log writer (★2): a [`RequestSink`] that persists one row per
//! routed request without ever making a request wait for the database.
//!
//! `record` is a non-blocking `try_send` into a bounded queue of
//! [`QUEUE_CAPACITY`] records; when the queue is full the record is dropped and
//! counted ([`LogWriter::dropped`]) rather than delaying the client. One
//! background task drains the queue in batches of up to [`BATCH_MAX`] rows per
//! transaction, so under load the writer does few, large writes and a row is
//! visible to `GET /admin/logs` within milliseconds of its response. On a
//! graceful shutdown [`LogWriter::flush`] waits until every queued row is
//! written; a `kill -9` loses at most the rows still queued (≤ `QUEUE_CAPACITY`
//! + one batch). Each record is also passed on to the access log.
//!
//! Retention: rows older than `FERRO_LOG_RETENTION_DAYS` (default 30, `0`
//! keeps everything) are pruned at start and hourly.

use crate::record::{LogRecord, RequestSink};
use ferro_store::{time, LogFilter, LogRow, LogStore};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Records that may wait for the writer; beyond this they are dropped.
pub const QUEUE_CAPACITY: usize = 8192;
/// Rows per write transaction.
pub const BATCH_MAX: usize = 512;
/// How often retention runs.
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);

enum Msg {
    Record(Box<LogRecord>),
    Flush(oneshot::Sender<()>),
}

/// Counters of the writer, shared with its task.
#[derive(Debug, Default)]
pub struct WriterStats {
    pub written: AtomicU64,
    pub dropped: AtomicU64,
    pub failed: AtomicU64,
}

/// The persisting sink.
pub struct LogWriter {
    tx: mpsc::Sender<Msg>,
    stats: Arc<WriterStats>,
}

impl std::fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogWriter")
            .field("stats", &self.stats)
            .finish()
    }
}

/// The row stored for a record: `after_request` when served, `on_error` otherwise.
pub fn row_of(r: LogRecord) -> LogRow {
    let failed = r.status >= 400 || r.error_message.is_some();
    let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    LogRow {
        trace_id: r.trace_id.to_string(),
        stage: if failed { "on_error" } else { "after_request" }.to_owned(),
        route: r.route.to_owned(),
        model: if r.model.len() <= 256 {
            r.model
        } else {
            ferro_types::json::truncate(&r.model, 256).to_owned()
        },
        api_key_id: r.api_key_id,
        provider: r.provider,
        target: r.target,
        status: i64::from(r.status),
        stream: r.stream,
        cache_hit: r.cache_hit,
        prompt_tokens: clamp(r.usage.prompt),
        completion_tokens: clamp(r.usage.completion),
        total_tokens: clamp(r.usage.prompt.saturating_add(r.usage.completion)),
        cost_usd: if r.cache_hit { Some(0.0) } else { r.cost_usd },
        error_message: r
            .error_message
            .as_deref()
            .map(|m| ferro_types::json::truncate(m, 1024).to_owned()),
        created_at: time::from_system(r.created_at),
        duration_ms: Some(r.duration_ms),
        ttft_ms: r.ttft_ms,
    }
}

impl LogWriter {
    /// Starts the writer (and retention) on the current runtime.
    pub fn start(store: Arc<dyn LogStore>, retention_days: u32) -> Arc<LogWriter> {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let stats = Arc::new(WriterStats::default());
        tokio::spawn(write_loop(store.clone(), rx, stats.clone()));
        if retention_days > 0 {
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(PRUNE_INTERVAL);
                loop {
                    tick.tick().await;
                    let before = time::now() - i64::from(retention_days) * 86_400 * time::SECOND;
                    let f = LogFilter {
                        before: Some(before),
                        ..Default::default()
                    };
                    match store.delete_logs(&f).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(rows = n, retention_days, "request logs pruned"),
                        Err(e) => tracing::warn!(error = %e, "request log retention failed"),
                    }
                }
            });
        }
        Arc::new(LogWriter { tx, stats })
    }

    /// Waits until every record queued before this call is written (or failed).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// Records queued and not yet taken by the writer.
    pub fn queue_depth(&self) -> usize {
        QUEUE_CAPACITY.saturating_sub(self.tx.capacity())
    }

    /// Records dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.stats.dropped.load(Ordering::Relaxed)
    }
}

impl RequestSink for LogWriter {
    fn record(&self, rec: LogRecord) {
        // the access line reads the record; no copy on the request path
        crate::record::access_line(&rec);
        if self.tx.try_send(Msg::Record(Box::new(rec))).is_err() {
            let n = self.stats.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(
                    dropped = n,
                    "request log queue full: records dropped to keep requests fast"
                );
            }
        }
    }
}

/// How long the writer waits for more rows before writing a partial batch.
const BATCH_LINGER: Duration = Duration::from_millis(50);

async fn write_loop(
    store: Arc<dyn LogStore>,
    mut rx: mpsc::Receiver<Msg>,
    stats: Arc<WriterStats>,
) {
    let mut msgs: Vec<Msg> = Vec::with_capacity(BATCH_MAX);
    loop {
        msgs.clear();
        if rx.recv_many(&mut msgs, BATCH_MAX).await == 0 {
            return;
        }
        // Linger briefly so a busy gateway writes few large transactions instead
        // of one small one per wake-up (each costs a blocking-pool hop and a WAL
        // commit on the gateway's own cores). Rows stay visible well within 1 s;
        // a flush request (shutdown) is served at once.
        if msgs.len() < BATCH_MAX && !msgs.iter().any(|m| matches!(m, Msg::Flush(_))) {
            tokio::time::sleep(BATCH_LINGER).await;
            while msgs.len() < BATCH_MAX {
                match rx.try_recv() {
                    Ok(m) => msgs.push(m),
                    Err(_) => break,
                }
            }
        }
        let mut rows = Vec::with_capacity(msgs.len());
        let mut waiters = Vec::new();
        for m in msgs.drain(..) {
            match m {
                Msg::Record(r) => rows.push(row_of(*r)),
                Msg::Flush(w) => waiters.push(w),
            }
        }
        if !rows.is_empty() {
            let mut res = store.insert_logs(&rows).await;
            if res.is_err() {
                // one retry: a transient lock or connection blip should not lose rows
                tokio::time::sleep(Duration::from_millis(100)).await;
                res = store.insert_logs(&rows).await;
            }
            match res {
                Ok(()) => {
                    stats
                        .written
                        .fetch_add(rows.len() as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    stats.failed.fetch_add(rows.len() as u64, Ordering::Relaxed);
                    tracing::warn!(error = %e, rows = rows.len(), "request log write failed");
                }
            }
        }
        for w in waiters {
            let _ = w.send(());
        }
    }
}
