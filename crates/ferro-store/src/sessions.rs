//! Dashboard sessions (CONTRACT §4.6): a `fgws_` token exchanged for a key,
//! stored as its SHA-256 only. Creating or revoking one bumps the auth version
//! so every gateway's cache sees it; `last_seen_at` refreshes do not.

use crate::db::{Cols, Param, Stmt, Value};
use crate::keys::{scopes_from, scopes_to, BUMP_AUTH};
use crate::{Result, SqlStore};
use async_trait::async_trait;

/// One session row.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    /// 32 hex.
    pub id: String,
    pub token_hash: String,
    /// The key (or master-key identity) the session was exchanged for.
    pub credential_id: String,
    pub subject: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub last_seen_at: Option<i64>,
    pub expires_at: i64,
}

#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    async fn insert_session(&self, s: &SessionRecord) -> Result<()>;
    async fn list_sessions(&self) -> Result<Vec<SessionRecord>>;
    async fn delete_session(&self, id: &str) -> Result<bool>;
    async fn delete_all_sessions(&self) -> Result<u64>;
    /// Drops sessions whose absolute expiry passed before `now`.
    async fn prune_sessions(&self, now: i64) -> Result<u64>;
    /// Moves `last_seen_at` forward (never back), without bumping the auth version.
    async fn touch_sessions(&self, seen: &[(String, i64)]) -> Result<()>;
}

const COLS: &str =
    "id, token_hash, credential_id, subject, scopes, created_at, last_seen_at, expires_at";

fn from_row(r: &[Value]) -> Result<SessionRecord> {
    let c = Cols(r);
    Ok(SessionRecord {
        id: c.text(0)?,
        token_hash: c.text(1)?,
        credential_id: c.text(2)?,
        subject: c.text(3)?,
        scopes: scopes_from(&c.text(4)?),
        created_at: c.int(5)?,
        last_seen_at: c.opt_int(6)?,
        expires_at: c.int(7)?,
    })
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn insert_session(&self, s: &SessionRecord) -> Result<()> {
        let sql = format!(
            "INSERT INTO dashboard_sessions ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        );
        let params: Vec<Param> = vec![
            s.id.clone().into(),
            s.token_hash.clone().into(),
            s.credential_id.clone().into(),
            s.subject.clone().into(),
            scopes_to(&s.scopes).into(),
            s.created_at.into(),
            s.last_seen_at.into(),
            s.expires_at.into(),
        ];
        self.db()
            .run(
                vec![Stmt::new(sql, params), Stmt::new(BUMP_AUTH, vec![])],
                true,
            )
            .await
            .map(|_| ())
    }

    async fn list_sessions(&self) -> Result<Vec<SessionRecord>> {
        let sql = format!("SELECT {COLS} FROM dashboard_sessions ORDER BY created_at DESC, id");
        let rows = self.db().query(&sql, vec![]).await?;
        rows.iter().map(|r| from_row(r)).collect()
    }

    async fn delete_session(&self, id: &str) -> Result<bool> {
        let out = self
            .db()
            .run(
                vec![
                    Stmt::new(
                        "DELETE FROM dashboard_sessions WHERE id = ?1",
                        vec![id.into()],
                    ),
                    Stmt::new(BUMP_AUTH, vec![]),
                ],
                true,
            )
            .await?;
        Ok(out.first().is_some_and(|o| o.affected > 0))
    }

    async fn delete_all_sessions(&self) -> Result<u64> {
        let out = self
            .db()
            .run(
                vec![
                    Stmt::new("DELETE FROM dashboard_sessions", vec![]),
                    Stmt::new(BUMP_AUTH, vec![]),
                ],
                true,
            )
            .await?;
        Ok(out.first().map_or(0, |o| o.affected))
    }

    async fn prune_sessions(&self, now: i64) -> Result<u64> {
        self.db()
            .execute(
                "DELETE FROM dashboard_sessions WHERE expires_at < ?1",
                vec![now.into()],
            )
            .await
    }

    async fn touch_sessions(&self, seen: &[(String, i64)]) -> Result<()> {
        if seen.is_empty() {
            return Ok(());
        }
        let stmts = seen
            .iter()
            .map(|(id, t)| {
                Stmt::new(
                    "UPDATE dashboard_sessions SET last_seen_at = ?1 \
                     WHERE id = ?2 AND (last_seen_at IS NULL OR last_seen_at < ?1)",
                    vec![(*t).into(), id.clone().into()],
                )
            })
            .collect();
        self.db().run(stmts, true).await.map(|_| ())
    }
}
