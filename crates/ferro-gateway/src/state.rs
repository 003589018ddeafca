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
            let enabled: Vec<String> = c
                .plugins
                .iter()
                .enumerate()
                .filter(|(_, p)| p.enabled)
                .map(|(i, p)| {
                    format!(
                        "plugins[{i}].name: plugin `{}` is not available in this build yet",
                        p.name
                    )
                })
                .collect();
            if !enabled.is_empty() {
                return Err(ConfigErrors(enabled));
            }
        }
        let reg = registry::build(cfg.as_ref(), env)?;
        let warnings = reg.warnings.clone();
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
        Ok(AppState {
            runtime: ArcSwap::from_pointee(runtime),
            client,
            auth,
            settings,
            catalog,
            sink: Arc::new(AccessLog),
            door,
        })
    }
}
