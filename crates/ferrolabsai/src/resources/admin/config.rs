//! `/admin/config` (CONTRACT §5.8).

use crate::client::FerroClient;
use crate::error::Result;
use crate::transport::{items, json_body};
use crate::types::admin::{Ack, ConfigHistoryEntry, GatewayConfig};
use reqwest::Method;
use serde::Serialize;
use serde_json::Value;

/// The active routing config. `get()` masks secrets, so its answer does not
/// round-trip unchanged into `update()`.
#[derive(Debug, Clone, Copy)]
pub struct Config<'a> {
    pub(crate) client: &'a FerroClient,
}

impl Config<'_> {
    /// `GET /admin/config`.
    pub async fn get(&self) -> Result<GatewayConfig> {
        let url = self.client.url("/admin/config")?;
        self.client.call(Method::GET, url, None).await
    }

    /// `POST /admin/config`: installs a config (strictly decoded by the gateway).
    pub async fn create<C: Serialize + ?Sized>(&self, config: &C) -> Result<Ack> {
        let url = self.client.url("/admin/config")?;
        self.client
            .call(Method::POST, url, Some(json_body(config)?))
            .await
    }

    /// `PUT /admin/config`: replaces the active config (hot reload).
    pub async fn update<C: Serialize + ?Sized>(&self, config: &C) -> Result<Ack> {
        let url = self.client.url("/admin/config")?;
        self.client
            .call(Method::PUT, url, Some(json_body(config)?))
            .await
    }

    /// `DELETE /admin/config`: back to the boot-time config.
    pub async fn delete(&self) -> Result<Ack> {
        let url = self.client.url("/admin/config")?;
        self.client.call(Method::DELETE, url, None).await
    }

    /// `GET /admin/config/history` (unwraps `data`).
    pub async fn history(&self) -> Result<Vec<ConfigHistoryEntry>> {
        let url = self.client.url("/admin/config/history")?;
        let v: Value = self.client.call(Method::GET, url, None).await?;
        items(v, &["data"])
    }

    /// `POST /admin/config/rollback/{version}`.
    pub async fn rollback(&self, version: u64) -> Result<Ack> {
        let url = self
            .client
            .url(&format!("/admin/config/rollback/{version}"))?;
        self.client.call(Method::POST, url, None).await
    }
}
