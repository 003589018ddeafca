//! Stored API keys (CONTRACT §4.3, §4.5): only the SHA-256 of a secret and its
//! display form are kept. Every change that affects authentication bumps the
//! `auth` version counter, which other gateways sharing the store poll to
//! refresh their in-memory key caches; usage counters do not bump it.

use crate::db::{Cols, Param, Stmt};
use crate::{Result, SqlStore};
use async_trait::async_trait;

/// One key row.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    pub id: String,
    /// SHA-256 hex of the secret.
    pub key_hash: String,
    /// First 8 + `...` + last 4 characters of the secret.
    pub key_display: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub rotated_at: Option<i64>,
    pub active: bool,
    pub usage_count: i64,
    pub last_used_at: Option<i64>,
}

impl KeyRecord {
    /// `active && not revoked && not expired` at `now` (CONTRACT §4.3).
    pub fn usable(&self, now: i64) -> bool {
        self.active && self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now <= e)
    }
}

/// Usage accumulated in memory and written in one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageDelta {
    pub id: String,
    pub count: i64,
    pub last_used_at: i64,
}

/// Keys, plus the version counter of everything authentication reads.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// Changes whenever a key or a session is created, changed or removed.
    async fn auth_version(&self) -> Result<i64>;
    async fn list_keys(&self) -> Result<Vec<KeyRecord>>;
    async fn get_key(&self, id: &str) -> Result<Option<KeyRecord>>;
    async fn insert_key(&self, k: &KeyRecord) -> Result<()>;
    /// Writes every mutable field of `k` (not the usage counters); false if gone.
    async fn update_key(&self, k: &KeyRecord) -> Result<bool>;
    async fn delete_key(&self, id: &str) -> Result<bool>;
    /// Adds usage in one transaction (does not bump the auth version).
    async fn record_usage(&self, deltas: &[UsageDelta]) -> Result<()>;
}

pub(crate) const BUMP_AUTH: &str =
    "UPDATE store_versions SET version = version + 1 WHERE name = 'auth'";

const KEY_COLS: &str = "id, key_hash, key_display, name, scopes, created_at, revoked_at, expires_at, rotated_at, active, usage_count, last_used_at";

fn key_from(r: &[crate::db::Value]) -> Result<KeyRecord> {
    let c = Cols(r);
    Ok(KeyRecord {
        id: c.text(0)?,
        key_hash: c.text(1)?,
        key_display: c.text(2)?,
        name: c.text(3)?,
        scopes: scopes_from(&c.text(4)?),
        created_at: c.int(5)?,
        revoked_at: c.opt_int(6)?,
        expires_at: c.opt_int(7)?,
        rotated_at: c.opt_int(8)?,
        active: c.boolean(9)?,
        usage_count: c.opt_int(10)?.unwrap_or(0),
        last_used_at: c.opt_int(11)?,
    })
}

pub(crate) fn scopes_from(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

pub(crate) fn scopes_to(s: &[String]) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "[]".to_owned())
}

#[async_trait]
impl KeyStore for SqlStore {
    async fn auth_version(&self) -> Result<i64> {
        let rows = self
            .db()
            .query(
                "SELECT version FROM store_versions WHERE name = 'auth'",
                vec![],
            )
            .await?;
        match rows.first() {
            Some(r) => Cols(r).int(0),
            None => Ok(0),
        }
    }

    async fn list_keys(&self) -> Result<Vec<KeyRecord>> {
        let sql = format!("SELECT {KEY_COLS} FROM api_keys ORDER BY created_at DESC, id");
        let rows = self.db().query(&sql, vec![]).await?;
        rows.iter().map(|r| key_from(r)).collect()
    }

    async fn get_key(&self, id: &str) -> Result<Option<KeyRecord>> {
        let sql = format!("SELECT {KEY_COLS} FROM api_keys WHERE id = ?1");
        let rows = self.db().query(&sql, vec![id.into()]).await?;
        rows.first().map(|r| key_from(r)).transpose()
    }

    async fn insert_key(&self, k: &KeyRecord) -> Result<()> {
        let sql = format!(
            "INSERT INTO api_keys ({KEY_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
        );
        let params: Vec<Param> = vec![
            k.id.clone().into(),
            k.key_hash.clone().into(),
            k.key_display.clone().into(),
            k.name.clone().into(),
            scopes_to(&k.scopes).into(),
            k.created_at.into(),
            k.revoked_at.into(),
            k.expires_at.into(),
            k.rotated_at.into(),
            k.active.into(),
            k.usage_count.into(),
            k.last_used_at.into(),
        ];
        self.db()
            .run(
                vec![Stmt::new(sql, params), Stmt::new(BUMP_AUTH, vec![])],
                true,
            )
            .await
            .map(|_| ())
    }

    async fn update_key(&self, k: &KeyRecord) -> Result<bool> {
        let sql = "UPDATE api_keys SET key_hash = ?1, key_display = ?2, name = ?3, scopes = ?4, \
                   revoked_at = ?5, expires_at = ?6, rotated_at = ?7, active = ?8 WHERE id = ?9";
        let params: Vec<Param> = vec![
            k.key_hash.clone().into(),
            k.key_display.clone().into(),
            k.name.clone().into(),
            scopes_to(&k.scopes).into(),
            k.revoked_at.into(),
            k.expires_at.into(),
            k.rotated_at.into(),
            k.active.into(),
            k.id.clone().into(),
        ];
        let out = self
            .db()
            .run(
                vec![Stmt::new(sql, params), Stmt::new(BUMP_AUTH, vec![])],
                true,
            )
            .await?;
        Ok(out.first().is_some_and(|o| o.affected > 0))
    }

    async fn delete_key(&self, id: &str) -> Result<bool> {
        let out = self
            .db()
            .run(
                vec![
                    Stmt::new("DELETE FROM api_keys WHERE id = ?1", vec![id.into()]),
                    Stmt::new(BUMP_AUTH, vec![]),
                ],
                true,
            )
            .await?;
        Ok(out.first().is_some_and(|o| o.affected > 0))
    }

    async fn record_usage(&self, deltas: &[UsageDelta]) -> Result<()> {
        if deltas.is_empty() {
            return Ok(());
        }
        let stmts = deltas
            .iter()
            .map(|d| {
                Stmt::new(
                    "UPDATE api_keys SET usage_count = usage_count + ?1, \
                     last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < ?2 THEN ?2 ELSE last_used_at END \
                     WHERE id = ?3",
                    vec![d.count.into(), d.last_used_at.into(), d.id.clone().into()],
                )
            })
            .collect();
        self.db().run(stmts, true).await.map(|_| ())
    }
}
