//! Opening the control-plane stores from the environment (★1, CONTRACT §7).
//!
//! With no settings everything persists in SQLite files under `FERRO_DATA_DIR`:
//! `ferrogw-keys.db` (keys, sessions, audit), `ferrogw-config.db` and
//! `ferrogw-requests.db`. `API_KEY_STORE_BACKEND`, `CONFIG_STORE_BACKEND` and
//! `REQUEST_LOG_STORE_BACKEND` (`sqlite` | `postgres` | `memory`) with their
//! `_DSN` select a backend explicitly (a SQLite DSN is a file path). Components
//! that name the same database share one connection pool.

use ferro_store::migrate::Component;
use ferro_store::{AuditStore, Backend, ConfigStore, KeyStore, LogStore, SessionStore, SqlStore};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The opened stores.
#[derive(Clone)]
pub struct Stores {
    pub keys: Arc<dyn KeyStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub audit: Arc<dyn AuditStore>,
    pub config: Arc<dyn ConfigStore>,
    pub logs: Arc<dyn LogStore>,
    /// The databases behind (auth, config, logs), for health checks.
    pub dbs: [SqlStore; 3],
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Location {
    File(PathBuf),
    Dsn(String),
    Memory,
}

struct Want {
    component: Component,
    backend_var: &'static str,
    dsn_var: &'static str,
    default_file: &'static str,
}

const WANTS: [Want; 3] = [
    Want {
        component: Component::Auth,
        backend_var: "API_KEY_STORE_BACKEND",
        dsn_var: "API_KEY_STORE_DSN",
        default_file: "ferrogw-keys.db",
    },
    Want {
        component: Component::Config,
        backend_var: "CONFIG_STORE_BACKEND",
        dsn_var: "CONFIG_STORE_DSN",
        default_file: "ferrogw-config.db",
    },
    Want {
        component: Component::Logs,
        backend_var: "REQUEST_LOG_STORE_BACKEND",
        dsn_var: "REQUEST_LOG_STORE_DSN",
        default_file: "ferrogw-requests.db",
    },
];

fn sqlite_path(dsn: &str) -> PathBuf {
    let p = dsn
        .strip_prefix("sqlite://")
        .or_else(|| dsn.strip_prefix("sqlite:"))
        .or_else(|| dsn.strip_prefix("file:"))
        .unwrap_or(dsn);
    PathBuf::from(p.split('?').next().unwrap_or(p))
}

/// Opens every store (migrating as needed); every problem is reported.
pub fn open(env: &dyn Fn(&str) -> Option<String>, data_dir: &Path) -> Result<Stores, Vec<String>> {
    let get = |k: &str| {
        env(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let mut errs = Vec::new();
    let mut locations: Vec<Location> = Vec::new();
    for w in &WANTS {
        let backend = match get(w.backend_var) {
            None => Backend::Sqlite,
            Some(b) => match Backend::parse(&b) {
                Some(b) => b,
                None => {
                    errs.push(format!(
                        "{}: unknown backend `{b}` (sqlite, postgres or memory)",
                        w.backend_var
                    ));
                    Backend::Sqlite
                }
            },
        };
        let dsn = get(w.dsn_var);
        locations.push(match backend {
            Backend::Memory => Location::Memory,
            Backend::Sqlite => Location::File(
                dsn.map(|d| sqlite_path(&d))
                    .unwrap_or_else(|| data_dir.join(w.default_file)),
            ),
            Backend::Postgres => match dsn {
                Some(d) => Location::Dsn(d),
                None => {
                    errs.push(format!(
                        "{}: required when {}=postgres",
                        w.dsn_var, w.backend_var
                    ));
                    Location::Memory
                }
            },
        });
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    // Group components by database so a shared database is opened (and migrated) once.
    let mut opened: Vec<(Location, SqlStore)> = Vec::new();
    let mut dbs: Vec<SqlStore> = Vec::new();
    for (i, loc) in locations.iter().enumerate() {
        if let Some((_, s)) = opened
            .iter()
            .find(|(l, _)| l == loc && *l != Location::Memory)
        {
            dbs.push(s.clone());
            continue;
        }
        let components: Vec<Component> = locations
            .iter()
            .zip(WANTS.iter())
            .enumerate()
            .filter(|(j, (l, _))| *j == i || (*l == loc && *loc != Location::Memory))
            .map(|(_, (_, w))| w.component)
            .collect();
        let var = WANTS[i].backend_var;
        let res = match loc {
            Location::Memory => SqlStore::memory(&components),
            Location::File(p) => SqlStore::sqlite(p, &components),
            Location::Dsn(d) => SqlStore::postgres(d, &components),
        };
        match res {
            Ok(s) => {
                opened.push((loc.clone(), s.clone()));
                dbs.push(s);
            }
            Err(e) => {
                let at = match loc {
                    Location::File(p) => format!(" ({})", p.display()),
                    _ => String::new(),
                };
                return Err(vec![format!("{var}: cannot open the store{at}: {e}")]);
            }
        }
    }
    let [auth, config, logs]: [SqlStore; 3] = dbs
        .try_into()
        .map_err(|_| vec!["internal: store count".to_owned()])?;
    Ok(Stores {
        keys: Arc::new(auth.clone()),
        sessions: Arc::new(auth.clone()),
        audit: Arc::new(auth.clone()),
        config: Arc::new(config.clone()),
        logs: Arc::new(logs.clone()),
        dbs: [auth, config, logs],
    })
}

/// `FERRO_LOG_RETENTION_DAYS` (default 30; `0` keeps everything).
pub fn retention_days(env: &dyn Fn(&str) -> Option<String>) -> Result<u32, String> {
    match env("FERRO_LOG_RETENTION_DAYS").map(|v| v.trim().to_owned()) {
        None => Ok(30),
        Some(v) if v.is_empty() => Ok(30),
        Some(v) => v
            .parse::<u32>()
            .map_err(|_| "FERRO_LOG_RETENTION_DAYS: must be a whole number of days".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_dsn_forms() {
        assert_eq!(
            sqlite_path("sqlite:///tmp/a.db"),
            PathBuf::from("/tmp/a.db")
        );
        assert_eq!(sqlite_path("file:x.db?mode=rwc"), PathBuf::from("x.db"));
        assert_eq!(sqlite_path("/var/f.db"), PathBuf::from("/var/f.db"));
    }

    #[test]
    fn bad_settings_reported_together() {
        let env = |k: &str| match k {
            "API_KEY_STORE_BACKEND" => Some("redis".to_owned()),
            "CONFIG_STORE_BACKEND" => Some("postgres".to_owned()),
            _ => None,
        };
        let errs = open(&env, Path::new("/nonexistent"))
            .err()
            .unwrap_or_default();
        assert_eq!(errs.len(), 2, "{errs:?}");
    }
}
