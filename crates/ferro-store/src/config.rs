//! Config history and the active config (CONTRACT §5.8): every admin change
//! appends a version; the active one is kept in `gateway_config` so a restart
//! comes back on it. Both writes happen in one transaction.

use crate::db::{Cols, Param, Stmt, Value};
use crate::{time, Result, SqlStore};
use async_trait::async_trait;

/// One version of the config, as stored (JSON text, unscrubbed: the config
/// holds `${VAR}` references, never resolved secrets).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigHistoryEntry {
    pub version: i64,
    pub updated_at: i64,
    pub config_json: String,
    pub actor: Option<String>,
    pub rolled_back_from: Option<i64>,
}

#[async_trait]
pub trait ConfigStore: Send + Sync + 'static {
    /// The persisted active config, if an admin change set one.
    async fn active_config(&self) -> Result<Option<String>>;
    /// Every version, oldest first.
    async fn history(&self) -> Result<Vec<ConfigHistoryEntry>>;
    async fn history_entry(&self, version: i64) -> Result<Option<ConfigHistoryEntry>>;
    /// Appends version `latest + 1` with `config_json`, and sets (`Some`) or
    /// clears (`None`) the active config, atomically. Returns the new version.
    async fn commit(
        &self,
        config_json: &str,
        actor: Option<&str>,
        rolled_back_from: Option<i64>,
        active: Option<&str>,
    ) -> Result<i64>;
}

fn from_row(r: &[Value]) -> Result<ConfigHistoryEntry> {
    let c = Cols(r);
    Ok(ConfigHistoryEntry {
        version: c.int(0)?,
        updated_at: c.int(1)?,
        config_json: c.text(2)?,
        actor: c.opt_text(3)?,
        rolled_back_from: c.opt_int(4)?,
    })
}

const COLS: &str = "version, updated_at, config_json, actor, rolled_back_from";

#[async_trait]
impl ConfigStore for SqlStore {
    async fn active_config(&self) -> Result<Option<String>> {
        let rows = self
            .db()
            .query(
                "SELECT config_json FROM gateway_config WHERE id = 1",
                vec![],
            )
            .await?;
        rows.first().map(|r| Cols(r).text(0)).transpose()
    }

    async fn history(&self) -> Result<Vec<ConfigHistoryEntry>> {
        let sql = format!("SELECT {COLS} FROM config_history ORDER BY version");
        let rows = self.db().query(&sql, vec![]).await?;
        rows.iter().map(|r| from_row(r)).collect()
    }

    async fn history_entry(&self, version: i64) -> Result<Option<ConfigHistoryEntry>> {
        let sql = format!("SELECT {COLS} FROM config_history WHERE version = ?1");
        let rows = self.db().query(&sql, vec![version.into()]).await?;
        rows.first().map(|r| from_row(r)).transpose()
    }

    async fn commit(
        &self,
        config_json: &str,
        actor: Option<&str>,
        rolled_back_from: Option<i64>,
        active: Option<&str>,
    ) -> Result<i64> {
        let now = time::now();
        let insert = Stmt::new(
            "INSERT INTO config_history (version, config_json, updated_at, actor, rolled_back_from) \
             SELECT COALESCE(MAX(version), 0) + 1, CAST(?1 AS TEXT), CAST(?2 AS BIGINT), CAST(?3 AS TEXT), CAST(?4 AS BIGINT) \
             FROM config_history RETURNING version",
            vec![
                config_json.into(),
                now.into(),
                Param::from(actor.map(str::to_owned)),
                rolled_back_from.into(),
            ],
        );
        let set_active = match active {
            Some(json) => Stmt::new(
                "INSERT INTO gateway_config (id, config_json, version, updated_at) \
                 SELECT 1, CAST(?1 AS TEXT), MAX(version), CAST(?2 AS BIGINT) FROM config_history WHERE true \
                 ON CONFLICT (id) DO UPDATE SET config_json = excluded.config_json, \
                 version = excluded.version, updated_at = excluded.updated_at",
                vec![json.into(), now.into()],
            ),
            None => Stmt::new("DELETE FROM gateway_config", vec![]),
        };
        let out = self.db().run(vec![insert, set_active], true).await?;
        let row = out
            .first()
            .and_then(|o| o.rows.first())
            .ok_or_else(|| crate::Error::Data("config version not returned".to_owned()))?;
        Cols(row).int(0)
    }
}
