//! The blocking `/admin/*` namespace.

use super::{forward, resource, FerroClient};
use crate::error::Result;
use crate::types::admin::{
    Ack, AdminHealth, ApiKey, AuditEntry, AuditQuery, ConfigHistoryEntry, CreateKeyRequest,
    CreatedApiKey, Dashboard, GatewayConfig, KeyUsageQuery, LogEntry, LogPurge, LogQuery, LogStats,
    LogStatsQuery, Page, UpdateKeyRequest,
};
use serde::Serialize;
use serde_json::Value;

resource!(/// The admin namespace.
    Admin => Admin via admin);

impl<'a> Admin<'a> {
    forward! {
        /// `GET /admin/dashboard`.
        fn dashboard(&self) -> Dashboard;
        /// `GET /admin/health`.
        fn health(&self) -> AdminHealth;
    }

    /// API keys.
    pub fn keys(&self) -> Keys<'a> {
        Keys {
            client: self.client,
        }
    }

    /// The routing config.
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

    /// Providers.
    pub fn providers(&self) -> Providers<'a> {
        Providers {
            client: self.client,
        }
    }

    /// Plugins.
    pub fn plugins(&self) -> Plugins<'a> {
        Plugins {
            client: self.client,
        }
    }

    /// The audit trail.
    pub fn audit(&self) -> Audit<'a> {
        Audit {
            client: self.client,
        }
    }
}

/// Declares a blocking admin sub-resource over `admin().<accessor>()`.
macro_rules! admin_resource {
    ($(#[$m:meta])* $name:ident via $accessor:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name<'a> {
            client: &'a FerroClient,
        }

        impl<'a> $name<'a> {
            fn inner(&self) -> crate::$name<'a> {
                self.client.inner.admin().$accessor()
            }
        }
    };
}

admin_resource!(/// API keys.
    Keys via keys);
admin_resource!(/// The routing config.
    Config via config);
admin_resource!(/// The request log.
    Logs via logs);
admin_resource!(/// Providers.
    Providers via providers);
admin_resource!(/// Plugins.
    Plugins via plugins);
admin_resource!(/// The audit trail.
    Audit via audit);

impl Keys<'_> {
    forward! {
        /// `GET /admin/keys`.
        fn list(&self) -> Vec<ApiKey>;
        /// `GET /admin/keys/{id}`.
        fn get(&self, id: &str) -> ApiKey;
        /// `POST /admin/keys`.
        fn create(&self, req: &CreateKeyRequest) -> CreatedApiKey;
        /// `PUT /admin/keys/{id}`.
        fn update(&self, id: &str, req: &UpdateKeyRequest) -> ApiKey;
        /// `DELETE /admin/keys/{id}`.
        fn delete(&self, id: &str) -> ();
        /// `POST /admin/keys/{id}/revoke`.
        fn revoke(&self, id: &str) -> ();
        /// `POST /admin/keys/{id}/rotate`.
        fn rotate(&self, id: &str) -> CreatedApiKey;
        /// `GET /admin/keys/usage`.
        fn usage(&self, q: &KeyUsageQuery) -> Page<ApiKey>;
    }
}

impl Config<'_> {
    forward! {
        /// `GET /admin/config`.
        fn get(&self) -> GatewayConfig;
        /// `DELETE /admin/config`.
        fn delete(&self) -> Ack;
        /// `GET /admin/config/history`.
        fn history(&self) -> Vec<ConfigHistoryEntry>;
        /// `POST /admin/config/rollback/{version}`.
        fn rollback(&self, version: u64) -> Ack;
    }

    /// `POST /admin/config`.
    pub fn create<C: Serialize + ?Sized>(&self, config: &C) -> Result<Ack> {
        self.client.run(self.inner().create(config))
    }

    /// `PUT /admin/config`.
    pub fn update<C: Serialize + ?Sized>(&self, config: &C) -> Result<Ack> {
        self.client.run(self.inner().update(config))
    }
}

impl Logs<'_> {
    forward! {
        /// `GET /admin/logs`.
        fn list(&self, q: &LogQuery) -> Page<LogEntry>;
        /// `GET /admin/logs/stats`.
        fn stats(&self, q: &LogStatsQuery) -> LogStats;
        /// `DELETE /admin/logs`.
        fn delete(&self, q: &LogPurge) -> Ack;
    }
}

impl Providers<'_> {
    forward! {
        /// `GET /admin/providers`.
        fn list(&self) -> Vec<Value>;
        /// `GET /admin/providers/catalog`.
        fn catalog(&self) -> Vec<Value>;
    }
}

impl Plugins<'_> {
    forward! {
        /// `GET /admin/plugins`.
        fn list(&self) -> Vec<Value>;
        /// `GET /admin/plugins/catalog`.
        fn catalog(&self) -> Vec<Value>;
    }
}

impl Audit<'_> {
    forward! {
        /// `GET /admin/audit`.
        fn list(&self, q: &AuditQuery) -> Page<AuditEntry>;
    }
}
