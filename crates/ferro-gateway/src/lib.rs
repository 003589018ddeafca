//! Ferro's HTTP gateway: the axum app composing routing, providers and wire types
//! into the OpenAI-compatible data plane, plus settings and server lifecycle.
//!
//! Handlers never talk to a vendor directly: they resolve a target through
//! `ferro-router`, call it through `upstream::call`, and answer through one
//! pipeline (`handlers::call_json` or the SSE relay), so extras, cost and error
//! mapping are the same on every surface.

pub mod admin;
pub mod app;
pub mod auth;
pub mod body;
pub mod error;
pub mod extras;
pub mod governance;
pub mod guard;
pub mod handlers;
pub mod keys;
pub mod logging;
pub mod logwriter;
pub mod metrics;
pub mod middleware;
pub mod observe;
pub mod otel;
pub mod pipeline;
pub mod record;
pub mod redact;
pub mod server;
pub mod settings;
pub mod state;
pub mod stream;
pub mod upstream;

pub use logging::{init_logging, init_logging_from_env, LogFormat};

use ferro_config::Config;
use ferro_types::catalog::Catalog;
use settings::Settings;
use state::{AppState, Runtime};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// How the process reads its environment (injected so tests never touch the real one).
pub type Env = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Longest the process waits for in-flight work after SIGTERM/SIGINT.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(9);

/// Loads the catalog: `FERRO_MODEL_CATALOG_PATH` if set, else the embedded snapshot.
pub fn load_catalog(settings: &Settings) -> Result<Arc<Catalog>, String> {
    match &settings.catalog_path {
        None => Ok(Catalog::embedded()),
        Some(p) => {
            let bytes = std::fs::read(p)
                .map_err(|e| format!("FERRO_MODEL_CATALOG_PATH {}: {e}", p.display()))?;
            Catalog::from_json(&bytes).map(Arc::new)
        }
    }
}

/// Everything a gateway needs before it binds a port; every error found is reported.
///
/// Also opens the control-plane stores (★1: SQLite under `FERRO_DATA_DIR` unless
/// the `*_STORE_BACKEND` variables say otherwise), picks the boot config (config
/// store > file > defaults) and starts the key cache and the request-log writer,
/// so it must run inside a tokio runtime.
pub fn prepare<E>(env: &E) -> Result<(AppState, Vec<String>), Vec<String>>
where
    E: Fn(&str) -> Option<String> + Clone + Send + Sync + 'static,
{
    let settings = Settings::from_env(env)?;
    let catalog = load_catalog(&settings).map_err(|e| vec![e])?;
    let file_cfg = match &settings.config_path {
        Some(p) => Some(Config::load_file(p).map_err(|e| e.0)?),
        None => None,
    };
    prepare_data_dir(&settings).map_err(|e| vec![e])?;
    let stores = admin::stores::open(env, &settings.data_dir)?;
    let (cfg, mut warnings, managed) =
        admin::config::boot_config(&stores.config, file_cfg.clone(), env, &catalog)
            .map_err(|e| vec![e])?;
    if stores.dbs[0].backend() == ferro_store::Backend::Memory {
        warnings.push(
            "API_KEY_STORE_BACKEND=memory: keys, sessions and the audit trail are lost on restart"
                .to_owned(),
        );
    }
    let (runtime, w) = Runtime::build(cfg, env, catalog.clone()).map_err(|e| e.0)?;
    warnings.extend(w);
    warnings.extend(settings.warnings());
    let mut state = AppState::new(settings, runtime, catalog).map_err(|e| vec![e])?;
    state.env = Arc::new(env.clone());
    admin::start(&mut state, stores, file_cfg, managed, env)?;
    observe::start_tracing(&mut state, env)?;
    observe::observe_sink(&mut state);
    Ok((state, warnings))
}

/// Creates `FERRO_DATA_DIR` owner-only if missing.
fn prepare_data_dir(settings: &Settings) -> Result<(), String> {
    let dir = &settings.data_dir;
    if !dir.exists() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("FERRO_DATA_DIR {}: {e}", dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| format!("FERRO_DATA_DIR {}: {e}", dir.display()))?;
        }
    }
    Ok(())
}

/// Binds `PORT` and serves until SIGTERM/SIGINT; SIGHUP reloads `GATEWAY_CONFIG`.
pub async fn run(env: Env) -> Result<(), Vec<String>> {
    let (state, warnings) = prepare(&{
        let env = env.clone();
        move |k: &str| env(k)
    })?;
    let state = Arc::new(state);
    for w in &warnings {
        tracing::warn!("{w}");
    }
    let addr = SocketAddr::from(([0, 0, 0, 0], state.settings.port));
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| vec![format!("cannot listen on {addr}: {e}")])?;
    tracing::info!(%addr, version = handlers::probes::VERSION, "ferrogw listening");
    spawn_reload_on_sighup(state.clone(), env.clone());
    if state.settings.config_path.is_some() {
        tokio::spawn(watch_config(state.clone(), env, CONFIG_POLL_INTERVAL));
    }
    let app = app::build(state.clone());
    server::serve(listener, app, server::shutdown_signal(), SHUTDOWN_GRACE).await;
    // Drained: persist what is still buffered (request logs, key usage,
    // budget spend).
    if let Some(cp) = &state.control {
        cp.shutdown().await;
    }
    let shared = state.runtime.load().plugins.shared().clone();
    let _ = tokio::task::spawn_blocking(move || shared.flush()).await;
    let obs = state.obs.clone();
    let _ = tokio::task::spawn_blocking(move || obs.shutdown()).await;
    Ok(())
}

/// Rebuilds the runtime from `GATEWAY_CONFIG` and swaps it in atomically.
/// A config that fails validation leaves the running one in place.
pub fn reload(
    state: &AppState,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, Vec<String>> {
    if state.control.as_ref().is_some_and(|c| c.config_managed()) {
        return Err(vec![
            "the active config was set through /admin/config; the file is not reloaded (DELETE /admin/config returns to it)"
                .to_owned(),
        ]);
    }
    let cfg = match &state.settings.config_path {
        Some(p) => Some(Config::load_file(p).map_err(|e| e.0)?),
        None => None,
    };
    let prev = state.runtime.load_full();
    let (rt, warnings) =
        Runtime::rebuild(cfg, env, state.catalog.clone(), Some(&prev)).map_err(|e| e.0)?;
    state.runtime.store(Arc::new(rt));
    Ok(warnings)
}

/// How often the config file is checked for changes.
pub const CONFIG_POLL_INTERVAL: Duration = Duration::from_secs(1);

fn reload_logged(state: &AppState, env: &dyn Fn(&str) -> Option<String>, why: &str) {
    match reload(state, env) {
        Ok(_) => tracing::info!("config reloaded ({why})"),
        Err(errs) => {
            for e in errs {
                tracing::error!("config reload refused ({why}): {e}");
            }
        }
    }
}

/// Reloads `GATEWAY_CONFIG` whenever its modification time or size changes.
/// Polling (rather than inotify) also catches editors that replace the file and
/// configs mounted from Kubernetes ConfigMaps (symlink swaps).
pub async fn watch_config(state: Arc<AppState>, env: Env, every: Duration) {
    let Some(path) = state.settings.config_path.clone() else {
        return;
    };
    let stamp = |m: std::fs::Metadata| (m.modified().ok(), m.len());
    let mut last = tokio::fs::metadata(&path).await.ok().map(stamp);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = tokio::fs::metadata(&path).await.ok().map(stamp);
        if now.is_some() && now != last {
            last = now;
            reload_logged(&state, &*env, "file changed");
        }
    }
}

fn spawn_reload_on_sighup(state: Arc<AppState>, env: Env) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            reload_logged(&state, &*env, "SIGHUP");
        }
    });
}
