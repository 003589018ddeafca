//! Admin API bodies (CONTRACT §1.5, §4–§6). Every field is lenient (defaults
//! when absent) and unknown fields are kept in `extra`.

use super::JsonMap;
use crate::secret::SecretString;
use crate::untrusted::{de, Untrusted};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// An API key record (`GET /admin/keys`, `/admin/keys/{id}`); `key` is the
/// display form (`fgw_ab12...cd34`), never the secret.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Key id.
    #[serde(default)]
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Masked key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `admin`, `read_only`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// RFC 3339.
    #[serde(default)]
    pub created_at: String,
    /// RFC 3339, when revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    /// RFC 3339, when it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// RFC 3339, last rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_at: Option<String>,
    /// RFC 3339, last use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
    /// Successful authentications.
    #[serde(default)]
    pub usage_count: u64,
    /// Not suspended.
    #[serde(default = "yes")]
    pub active: bool,
    /// Other fields.
    #[serde(flatten)]
    pub extra: JsonMap,
}

fn yes() -> bool {
    true
}

/// A key as returned once by create and rotate: `key` is the full secret.
/// It is a [`SecretString`], so printing this struct does not reveal it; pass
/// it to [`FerroClient::with_api_key`](crate::FerroClient::with_api_key) or
/// store it in your secret manager.
#[derive(Debug, Clone, Deserialize)]
pub struct CreatedApiKey {
    /// Key id.
    #[serde(default)]
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// The full secret (`fgw_…`), shown only this once.
    pub key: SecretString,
    /// Scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// RFC 3339.
    #[serde(default)]
    pub created_at: String,
    /// RFC 3339.
    #[serde(default)]
    pub expires_at: Option<String>,
    /// RFC 3339, set by rotate.
    #[serde(default)]
    pub rotated_at: Option<String>,
    /// Active.
    #[serde(default = "yes")]
    pub active: bool,
    /// Other fields.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `POST /admin/keys`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateKeyRequest {
    /// Name (required).
    pub name: String,
    /// Scopes; the gateway defaults to `["read_only"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// RFC 3339 expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

impl CreateKeyRequest {
    /// A key named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        CreateKeyRequest {
            name: name.into(),
            ..Default::default()
        }
    }

    /// Sets `scopes`.
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// Sets `expires_at` (RFC 3339).
    pub fn expires_at(mut self, at: impl Into<String>) -> Self {
        self.expires_at = Some(at.into());
        self
    }
}

/// `PUT /admin/keys/{id}`: only the fields set are sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateKeyRequest {
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// New expiry (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Remove the expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear_expiration: Option<bool>,
    /// Suspend (`false`) or resume (`true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

/// `{data, summary, filters}` pages of the admin listings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The rows.
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
    /// Totals (`total_entries`, `returned_entries`, …).
    #[serde(default)]
    pub summary: JsonMap,
    /// The filters the server applied.
    #[serde(default)]
    pub filters: JsonMap,
    /// Other fields.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// One request-log row (`GET /admin/logs`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Trace id of the request.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de::trace_id"
    )]
    pub trace_id: Option<Untrusted<String>>,
    /// `before_request`, `after_request`, `on_error`.
    #[serde(default)]
    pub stage: String,
    /// Model.
    #[serde(default)]
    pub model: String,
    /// Calling key id.
    #[serde(default)]
    pub api_key_id: String,
    /// Provider.
    #[serde(default)]
    pub provider: String,
    /// Prompt tokens.
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Completion tokens.
    #[serde(default)]
    pub completion_tokens: u64,
    /// Total tokens.
    #[serde(default)]
    pub total_tokens: u64,
    /// Redacted error message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// RFC 3339.
    #[serde(default)]
    pub created_at: String,
    /// Total latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
    /// Time to first token (streams).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<f64>,
    /// Cost in USD (`None` = unpriced).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de::cost_usd"
    )]
    pub cost_usd: Option<Untrusted<f64>>,
    /// Other fields (`status`, `cache_hit`, `route`, `target`, `stream`, …).
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `GET /admin/logs/stats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogStats {
    /// Totals; `summary["cost_usd"]` is reported, not verified.
    #[serde(default)]
    pub summary: JsonMap,
    /// Latency percentiles, or null.
    #[serde(default)]
    pub latency_ms: Option<Value>,
    /// TTFT percentiles, or null.
    #[serde(default)]
    pub ttft_ms: Option<Value>,
    /// Per stage.
    #[serde(default)]
    pub by_stage: BTreeMap<String, Value>,
    /// Per provider.
    #[serde(default)]
    pub by_provider: BTreeMap<String, Value>,
    /// Per model.
    #[serde(default)]
    pub by_model: BTreeMap<String, Value>,
    /// Most frequent errors.
    #[serde(default)]
    pub top_errors: Vec<Value>,
    /// Time series (with `buckets`).
    #[serde(default)]
    pub series: Option<Value>,
    /// Other fields (`filters`, …).
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// The active config (`GET /admin/config`), secrets masked by the server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GatewayConfig {
    /// Routing strategy.
    #[serde(default)]
    pub strategy: JsonMap,
    /// Targets.
    #[serde(default)]
    pub targets: Vec<Value>,
    /// Plugins.
    #[serde(default)]
    pub plugins: Vec<Value>,
    /// Model aliases.
    #[serde(default)]
    pub aliases: BTreeMap<String, String>,
    /// Everything else (`providers`, `mcp_servers`, …).
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// One version in `GET /admin/config/history`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigHistoryEntry {
    /// Version (from 1).
    #[serde(default)]
    pub version: u64,
    /// RFC 3339.
    #[serde(default)]
    pub updated_at: String,
    /// The config of this version.
    #[serde(default)]
    pub config: GatewayConfig,
    /// Set when this version was a rollback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back_from: Option<u64>,
    /// Other fields (`actor`, …).
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// A write's acknowledgement (`{"status":"updated"}`, rollback's
/// `rolled_back_to`, logs purge's `deleted`, …).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    /// `created`, `updated`, `deleted`, `rolled_back`, `revoked`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `GET /admin/dashboard`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    /// `{total, available}`.
    #[serde(default)]
    pub providers: JsonMap,
    /// `{total, active, expired, total_usage}`.
    #[serde(default)]
    pub keys: JsonMap,
    /// `{enabled, total}`.
    #[serde(default)]
    pub request_logs: JsonMap,
    /// Other fields.
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// `GET /admin/health` (deep health).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AdminHealth {
    /// `healthy`, `degraded`, `no_providers`.
    #[serde(default)]
    pub status: String,
    /// Providers and their status.
    #[serde(default)]
    pub providers: Vec<Value>,
    /// Components (`API`, `Key store`, …).
    #[serde(default)]
    pub components: Vec<Value>,
    /// The caller's scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Other fields (`mcp_servers`, …).
    #[serde(flatten)]
    pub extra: JsonMap,
}

/// Query of `GET /admin/keys/usage` (defaults as in the Python SDK).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyUsageQuery {
    /// 1–100 (default 20).
    pub limit: u32,
    /// Offset (default 0).
    pub offset: u32,
    /// `usage` (default) or `last_used`.
    pub sort: String,
    /// Only active / inactive keys.
    pub active: Option<bool>,
    /// RFC 3339: keys used since.
    pub since: Option<String>,
}

impl Default for KeyUsageQuery {
    fn default() -> Self {
        KeyUsageQuery {
            limit: 20,
            offset: 0,
            sort: "usage".into(),
            active: None,
            since: None,
        }
    }
}

/// Query of `GET /admin/logs` (default `limit` 50).
#[derive(Debug, Clone, PartialEq)]
pub struct LogQuery {
    /// 1–200 (default 50).
    pub limit: u32,
    /// Offset.
    pub offset: u32,
    /// Unset = terminal rows; `all` = every stage.
    pub stage: Option<String>,
    /// Provider filter.
    pub provider: Option<String>,
    /// Model filter.
    pub model: Option<String>,
    /// RFC 3339.
    pub since: Option<String>,
    /// Key id filter (`none` = no key).
    pub api_key_id: Option<String>,
    /// Trace id filter.
    pub trace_id: Option<String>,
}

impl Default for LogQuery {
    fn default() -> Self {
        LogQuery {
            limit: 50,
            offset: 0,
            stage: None,
            provider: None,
            model: None,
            since: None,
            api_key_id: None,
            trace_id: None,
        }
    }
}

/// Query of `GET /admin/logs/stats`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogStatsQuery {
    /// Time-series points (0–120).
    pub buckets: Option<u32>,
    /// Top-N per provider/model.
    pub limit: Option<u32>,
    /// RFC 3339.
    pub since: Option<String>,
    /// Stage filter.
    pub stage: Option<String>,
    /// Model filter.
    pub model: Option<String>,
    /// Provider filter.
    pub provider: Option<String>,
}

/// Query of `DELETE /admin/logs`; the gateway requires `before`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogPurge {
    /// RFC 3339: delete rows strictly before.
    pub before: Option<String>,
    /// Stage filter.
    pub stage: Option<String>,
    /// Model filter.
    pub model: Option<String>,
    /// Provider filter.
    pub provider: Option<String>,
}

/// Query of `GET /admin/audit` (default `limit` 50).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditQuery {
    /// `key.create`, `config.update`, …
    pub action: Option<String>,
    /// Actor id.
    pub actor_id: Option<String>,
    /// `ok`, `denied`, `error`.
    pub outcome: Option<String>,
    /// RFC 3339.
    pub since: Option<String>,
    /// ≤ 200 (default 50).
    pub limit: u32,
    /// Offset.
    pub offset: u32,
}

impl Default for AuditQuery {
    fn default() -> Self {
        AuditQuery {
            action: None,
            actor_id: None,
            outcome: None,
            since: None,
            limit: 50,
            offset: 0,
        }
    }
}

/// One audit-trail entry (`GET /admin/audit`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// RFC 3339.
    #[serde(default)]
    pub occurred_at: String,
    /// `key.create`, `config.update`, …
    #[serde(default)]
    pub action: String,
    /// `"<name> (<id>)"`, an id, or `unattributed`.
    #[serde(default)]
    pub actor: String,
    /// Actor id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<String>,
    /// Target id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    /// `ok`, `denied`, `error`.
    #[serde(default)]
    pub outcome: String,
    /// Detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Other fields (`source_ip`, `trace_id`, …).
    #[serde(flatten)]
    pub extra: JsonMap,
}
