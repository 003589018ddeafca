//! Shared state: the compiled runtime (swapped atomically on reload) and the
//! process-wide parts (upstream client, authenticators, settings).

use crate::auth::{AuthChain, MasterKey};
use crate::guard::DoorGuard;
use crate::record::{AccessLog, RequestSink};
use crate::redact::Redactor;
use crate::settings::Settings;
use arc_swap::ArcSwap;
use ferro_config::{parse_duration, Config, ConfigErrors};
use ferro_providers::client::UpstreamClient;
use ferro_providers::native::UnsupportedPolicy;
use ferro_router::{registry, Router};
use ferro_types::catalog::Catalog;
use std::sync::Arc;
use std::time::Duration;

/// The compiled config a request runs against. Immutable: a reload builds a new
/// one and swaps it in, and in-flight requests keep the one they started with.
#[derive(Debug)]
pub struct Runtime {
    pub router: Router,
    pub config: Option<Config>,
    pub max_request_bytes: u64,
    pub request_timeout: Option<Duration>,
    pub redactor: Redactor,
    /// `compatibility.on_unsupported_param` for translating providers.
    pub unsupported_policy: UnsupportedPolicy,
    /// The compiled plugin chain (empty when no plugin is enabled).
    pub plugins: Arc<ferro_plugins::Chain>,
}

impl Runtime {
    /// Compiles a runtime from an optional config, env vars and the catalog.
    pub fn build(
        cfg: Option<Config>,
        env: &dyn Fn(&str) -> Option<String>,
        catalog: Arc<Catalog>,
    ) -> Result<(Runtime, Vec<String>), ConfigErrors> {
        Self::rebuild(cfg, env, catalog, None)
    }

    /// Like [`Runtime::build`], carrying per-target health over from `prev`.
    pub fn rebuild(
        cfg: Option<Config>,
        env: &dyn Fn(&str) -> Option<String>,
        catalog: Arc<Catalog>,
        prev: Option<&Runtime>,
    ) -> Result<(Runtime, Vec<String>), ConfigErrors> {
        if let Some(c) = &cfg {
            c.validate()?;
        }
        // Plugins compile once per config (patterns included); their shared
        // state (budgets, Redis) carries over from the previous runtime.
        let shared = match prev {
            Some(p) => p.plugins.shared().clone(),
            None => ferro_plugins::Shared::from_env(env).map_err(ConfigErrors)?,
        };
        let entries = cfg.as_ref().map(|c| c.plugins.as_slice()).unwrap_or(&[]);
        let (plugins, plugin_warnings) =
            ferro_plugins::Chain::build(entries, &shared).map_err(ConfigErrors)?;
        let reg = registry::build(cfg.as_ref(), env)?;
        let mut warnings = reg.warnings.clone();
        warnings.extend(plugin_warnings);
        let redactor = Redactor::new(
            reg.instances
                .iter()
                .flat_map(|i| i.secrets.iter().map(|s| s.expose().to_owned())),
        );
        let request_timeout = cfg
            .as_ref()
            .and_then(|c| c.request_timeout.as_deref())
            .and_then(|t| parse_duration(t).ok());
        let max_request_bytes = cfg
            .as_ref()
            .map(Config::max_request_bytes)
            .unwrap_or(ferro_config::DEFAULT_MAX_REQUEST_BYTES);
        let unsupported_policy = match cfg
            .as_ref()
            .and_then(|c| c.compatibility.as_ref())
            .and_then(|c| c.on_unsupported_param.as_deref())
        {
            Some("drop") => UnsupportedPolicy::Drop,
            Some("reject") => UnsupportedPolicy::Reject,
            _ => UnsupportedPolicy::Warn,
        };
        Ok((
            Runtime {
                unsupported_policy,
                plugins: Arc::new(plugins),
                router: Router::build(reg, cfg.as_ref(), catalog, prev.map(|p| &p.router))?,
                config: cfg,
                max_request_bytes,
                request_timeout,
                redactor,
            },
            warnings,
        ))
    }
}

/// Process-wide state shared by every request.
pub struct AppState {
    pub runtime: ArcSwap<Runtime>,
    pub client: UpstreamClient,
    pub auth: AuthChain,
    pub settings: Settings,
    pub catalog: Arc<Catalog>,
    /// Where terminal request records go (access log by default).
    pub sink: Arc<dyn RequestSink>,
    /// Per-IP limiter, trusted proxies, CORS.
    pub door: DoorGuard,
    /// The process environment, kept so admin config changes can rebuild the
    /// runtime exactly like a reload does.
    pub env: crate::Env,
    /// Stores, stored keys, log writer and `/admin/*` state (set by `prepare`).
    pub control: Option<Arc<crate::admin::ControlPlane>>,
    /// Metrics and tracing. `prepare` wraps `sink` in `observe::ObservedSink`,
    /// which feeds these from every record and forwards it unchanged.
    pub obs: Arc<crate::observe::Observability>,
}

impl AppState {
    pub fn new(
        settings: Settings,
        runtime: Runtime,
        catalog: Arc<Catalog>,
    ) -> Result<AppState, String> {
        let client = UpstreamClient::new(settings.upstream_timeouts)?;
        let mut auth = AuthChain::default();
        if let Some(mk) = &settings.master_key {
            auth.push(Arc::new(MasterKey::new(mk)));
        }
        let door = DoorGuard::new(&settings);
        let obs = crate::observe::Observability::default();
        obs.metrics.set_catalog(catalog.clone());
        Ok(AppState {
            runtime: ArcSwap::from_pointee(runtime),
            client,
            auth,
            settings,
            catalog,
            sink: Arc::new(AccessLog),
            door,
            env: Arc::new(|_: &str| None),
            control: None,
            obs: Arc::new(obs),
        })
    }
}
