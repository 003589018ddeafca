//! `/admin/logs` (CONTRACT §6). The gateway answers 501 without a log store.

use crate::client::FerroClient;
use crate::error::Result;
use crate::types::admin::{Ack, LogEntry, LogPurge, LogQuery, LogStats, LogStatsQuery, Page};
use reqwest::Method;

/// The request log.
#[derive(Debug, Clone, Copy)]
pub struct Logs<'a> {
    pub(crate) client: &'a FerroClient,
}

impl Logs<'_> {
    /// `GET /admin/logs`: newest first, `{data, summary, filters}`.
    pub async fn list(&self, q: &LogQuery) -> Result<Page<LogEntry>> {
        let url = self.client.url_q(
            "/admin/logs",
            &[
                ("limit", Some(q.limit.to_string())),
                ("offset", Some(q.offset.to_string())),
                ("stage", q.stage.clone()),
                ("provider", q.provider.clone()),
                ("model", q.model.clone()),
                ("since", q.since.clone()),
                ("api_key_id", q.api_key_id.clone()),
                ("trace_id", q.trace_id.clone()),
            ],
        )?;
        self.client.call(Method::GET, url, None).await
    }

    /// `GET /admin/logs/stats`: totals, latency/TTFT percentiles, breakdowns.
    pub async fn stats(&self, q: &LogStatsQuery) -> Result<LogStats> {
        let url = self.client.url_q(
            "/admin/logs/stats",
            &[
                ("buckets", q.buckets.map(|v| v.to_string())),
                ("limit", q.limit.map(|v| v.to_string())),
                ("since", q.since.clone()),
                ("stage", q.stage.clone()),
                ("model", q.model.clone()),
                ("provider", q.provider.clone()),
            ],
        )?;
        self.client.call(Method::GET, url, None).await
    }

    /// `DELETE /admin/logs`: purges rows (`before` is required by the gateway)
    /// → `{"deleted": N, "filters": …}`.
    pub async fn delete(&self, q: &LogPurge) -> Result<Ack> {
        let url = self.client.url_q(
            "/admin/logs",
            &[
                ("before", q.before.clone()),
                ("stage", q.stage.clone()),
                ("model", q.model.clone()),
                ("provider", q.provider.clone()),
            ],
        )?;
        self.client.call(Method::DELETE, url, None).await
    }
}
