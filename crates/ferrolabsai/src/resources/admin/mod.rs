//! The `/admin/*` namespace (CONTRACT §1.5). Reads need a `read_only` or
//! `admin` key; writes need `admin` (else [`Error::Permission`](crate::Error::Permission)).
//! Dashboard sessions (`/admin/session(s)`) are deliberately not wrapped.

mod config;
mod keys;
mod logs;

pub use config::Config;
pub use keys::Keys;
pub use logs::Logs;

use crate::client::FerroClient;
use crate::error::Result;
use crate::transport::items;
use crate::types::admin::{AdminHealth, AuditEntry, AuditQuery, Dashboard, Page};
use reqwest::Method;
use serde_json::Value;

/// The admin namespace.
#[derive(Debug, Clone, Copy)]
pub struct Admin<'a> {
    pub(crate) client: &'a FerroClient,
}

impl<'a> Admin<'a> {
    /// `GET /admin/dashboard`: provider, key and request-log counts.
    pub async fn dashboard(&self) -> Result<Dashboard> {
        let url = self.client.url("/admin/dashboard")?;
        self.client.call(Method::GET, url, None).await
    }

    /// `GET /admin/health`: deep health (providers, components, caller scopes).
    pub async fn health(&self) -> Result<AdminHealth> {
        let url = self.client.url("/admin/health")?;
        self.client.call(Method::GET, url, None).await
    }

    /// API keys.
    pub fn keys(&self) -> Keys<'a> {
        Keys {
            client: self.client,
        }
    }

    /// The active routing config, its history and rollback.
    pub fn config(&self) -> Config<'a> {
        Config {
            client: self.client,
        }
    }

    /// The request log.
    pub fn logs(&self) -> Logs<'a> {
        Logs {
            client: self.client,
        }
    }

    /// Registered providers and the provider catalog.
    pub fn providers(&self) -> Providers<'a> {
        Providers {
            client: self.client,
        }
    }

    /// Configured plugins and the plugin catalog.
    pub fn plugins(&self) -> Plugins<'a> {
        Plugins {
            client: self.client,
        }
    }

    /// The admin audit trail.
    pub fn audit(&self) -> Audit<'a> {
        Audit {
            client: self.client,
        }
    }
}

async fn list(client: &FerroClient, path: &str, keys: &[&str]) -> Result<Vec<Value>> {
    let v: Value = client.call(Method::GET, client.url(path)?, None).await?;
    items(v, keys)
}

/// `/admin/providers`.
#[derive(Debug, Clone, Copy)]
pub struct Providers<'a> {
    pub(crate) client: &'a FerroClient,
}

impl Providers<'_> {
    /// `GET /admin/providers`: registered providers (`{name, models}`), as sent.
    pub async fn list(&self) -> Result<Vec<Value>> {
        list(self.client, "/admin/providers", &["data", "providers"]).await
    }

    /// `GET /admin/providers/catalog`: every provider of the build
    /// (`{id, registered, catalog_models}`).
    pub async fn catalog(&self) -> Result<Vec<Value>> {
        list(
            self.client,
            "/admin/providers/catalog",
            &["providers", "data"],
        )
        .await
    }
}

/// `/admin/plugins`.
#[derive(Debug, Clone, Copy)]
pub struct Plugins<'a> {
    pub(crate) client: &'a FerroClient,
}

impl Plugins<'_> {
    /// `GET /admin/plugins`: configured plugins (`{name, type, enabled}`).
    pub async fn list(&self) -> Result<Vec<Value>> {
        list(self.client, "/admin/plugins", &["data", "plugins"]).await
    }

    /// `GET /admin/plugins/catalog`: the built-in plugins.
    pub async fn catalog(&self) -> Result<Vec<Value>> {
        list(self.client, "/admin/plugins/catalog", &["data"]).await
    }
}

/// `/admin/audit`.
#[derive(Debug, Clone, Copy)]
pub struct Audit<'a> {
    pub(crate) client: &'a FerroClient,
}

impl Audit<'_> {
    /// `GET /admin/audit`: `{data, summary, filters}` of admin actions.
    pub async fn list(&self, q: &AuditQuery) -> Result<Page<AuditEntry>> {
        let url = self.client.url_q(
            "/admin/audit",
            &[
                ("limit", Some(q.limit.to_string())),
                ("offset", Some(q.offset.to_string())),
                ("action", q.action.clone()),
                ("actor_id", q.actor_id.clone()),
                ("outcome", q.outcome.clone()),
                ("since", q.since.clone()),
            ],
        )?;
        self.client.call(Method::GET, url, None).await
    }
}
