//! Versioned schema migrations, recorded in a `schema_migrations` ledger.
//!
//! Each store component (auth, config, logs) has its own ordered list, so the
//! components can live in one PostgreSQL database or in separate SQLite files.
//! A migration is applied once, inside a transaction, under a lock that makes
//! concurrent starts safe: `BEGIN IMMEDIATE` on SQLite, a session advisory lock
//! on PostgreSQL. Migrations are append-only: never edit a shipped one.

/// A store component and the tables it owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// `api_keys`, `dashboard_sessions`, `audit_log`, `store_versions`.
    Auth,
    /// `gateway_config`, `config_history`.
    Config,
    /// `request_logs`.
    Logs,
}

impl Component {
    pub fn name(self) -> &'static str {
        match self {
            Component::Auth => "auth",
            Component::Config => "config",
            Component::Logs => "logs",
        }
    }

    /// The migrations of this component, in order (versions 1, 2, …).
    pub fn migrations(self) -> &'static [Migration] {
        match self {
            Component::Auth => AUTH,
            Component::Config => CONFIG,
            Component::Logs => LOGS,
        }
    }
}

/// One schema step. `sql` is shared by both engines; `{serial}` becomes the
/// engine's auto-increment primary key.
#[derive(Debug)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    /// The DDL for one engine.
    pub fn sql_for(&self, postgres: bool) -> String {
        let serial = if postgres {
            "BIGSERIAL PRIMARY KEY"
        } else {
            "INTEGER PRIMARY KEY AUTOINCREMENT"
        };
        self.sql.replace("{serial}", serial)
    }
}

/// The ledger, created before anything else.
pub const LEDGER: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    component TEXT NOT NULL,
    version BIGINT NOT NULL,
    name TEXT NOT NULL,
    applied_at BIGINT NOT NULL,
    PRIMARY KEY (component, version)
)";

/// Advisory-lock key for PostgreSQL migrations ("FERROMIG").
pub const PG_LOCK_KEY: i64 = 0x4645_5252_4f4d_4947;

const AUTH: &[Migration] = &[Migration {
    version: 1,
    name: "api_keys, dashboard_sessions, audit_log",
    sql: "
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    key_display TEXT NOT NULL,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    expires_at BIGINT,
    rotated_at BIGINT,
    active BOOLEAN NOT NULL,
    usage_count BIGINT NOT NULL DEFAULT 0,
    last_used_at BIGINT
);
CREATE TABLE IF NOT EXISTS store_versions (
    name TEXT PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO store_versions (name, version) VALUES ('auth', 0) ON CONFLICT (name) DO NOTHING;
CREATE TABLE IF NOT EXISTS dashboard_sessions (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    credential_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT,
    expires_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_log (
    id {serial},
    occurred_at BIGINT NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    actor_id TEXT,
    target_id TEXT,
    outcome TEXT NOT NULL,
    detail TEXT,
    source_ip TEXT,
    trace_id TEXT
);
CREATE INDEX IF NOT EXISTS audit_log_occurred_at ON audit_log (occurred_at);
",
}];

const CONFIG: &[Migration] = &[Migration {
    version: 1,
    name: "gateway_config, config_history",
    sql: "
CREATE TABLE IF NOT EXISTS gateway_config (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    config_json TEXT NOT NULL,
    version BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS config_history (
    version BIGINT PRIMARY KEY,
    config_json TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    actor TEXT,
    rolled_back_from BIGINT
);
",
}];

const LOGS: &[Migration] = &[Migration {
    version: 1,
    name: "request_logs",
    sql: "
CREATE TABLE IF NOT EXISTS request_logs (
    id {serial},
    trace_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    route TEXT NOT NULL,
    model TEXT NOT NULL,
    api_key_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    target TEXT NOT NULL,
    status BIGINT NOT NULL,
    stream BOOLEAN NOT NULL,
    cache_hit BOOLEAN NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    total_tokens BIGINT NOT NULL,
    cost_usd DOUBLE PRECISION,
    error_message TEXT,
    created_at BIGINT NOT NULL,
    duration_ms DOUBLE PRECISION,
    ttft_ms DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS request_logs_created_at ON request_logs (created_at);
CREATE INDEX IF NOT EXISTS request_logs_trace_id ON request_logs (trace_id);
",
}];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_dense_from_one() {
        for c in [Component::Auth, Component::Config, Component::Logs] {
            for (i, m) in c.migrations().iter().enumerate() {
                assert_eq!(m.version, i as i64 + 1, "{}", c.name());
            }
        }
        assert!(AUTH[0].sql_for(true).contains("BIGSERIAL"));
        assert!(AUTH[0].sql_for(false).contains("AUTOINCREMENT"));
    }
}
