//! The eleven built-in plugins of the Go gateway 1.5 (CONTRACT §5.5). Each
//! module declares the config keys it reads (`KEYS`, also served by the
//! catalog, so the two cannot drift) and a `build` that reads them strictly.

mod bucket;
pub(crate) mod budget;
pub(crate) mod budget_store;
mod cache;
mod logger;
mod max_token;
mod pii;
mod prompt_shield;
mod rate_limit;
mod regex_guard;
mod schema_guard;
mod secret_scan;
mod word_filter;

use crate::config::Conf;
use crate::shared::Shared;
use crate::{Plugin, PluginType, Stage};
use serde_json::Value;
use std::sync::Arc;

/// What a plugin's `build` gets besides its config.
pub(crate) struct BuildCtx<'a> {
    /// The stages the plugin is listed at.
    pub(crate) stages: &'a [Stage],
    pub(crate) shared: &'a Shared,
    /// A stable id of this (name, config), for shared-state keys.
    pub(crate) fingerprint: String,
}

type Builder = fn(&mut Conf<'_>, &BuildCtx<'_>) -> Option<Arc<dyn Plugin>>;

/// A built plugin and its load warnings, or every load error.
pub(crate) type Built = Result<(Arc<dyn Plugin>, Vec<String>), Vec<String>>;

/// Catalog facts and builder of one built-in.
pub(crate) struct Builtin {
    pub(crate) name: &'static str,
    pub(crate) kind: PluginType,
    pub(crate) summary: &'static str,
    pub(crate) keys: &'static [&'static str],
    build: Builder,
}

/// Every built-in, in catalog order.
pub(crate) const BUILTINS: [Builtin; 11] = [
    word_filter::BUILTIN,
    max_token::BUILTIN,
    rate_limit::BUILTIN,
    budget::BUILTIN,
    regex_guard::BUILTIN,
    pii::BUILTIN,
    secret_scan::BUILTIN,
    prompt_shield::BUILTIN,
    schema_guard::BUILTIN,
    cache::BUILTIN,
    logger::BUILTIN,
];

fn fingerprint(name: &str, config: &Value) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0]);
    h.update(crate::builtin::cache::canonical_json(config));
    hex::encode(&h.finalize()[..8])
}

/// Builds the plugin `name` from its `config`, listed at `stages`.
pub(crate) fn build(
    name: &str,
    config: &Value,
    path: &str,
    stages: &[Stage],
    shared: &Shared,
) -> Built {
    let Some(b) = BUILTINS.iter().find(|b| b.name == name) else {
        return Err(vec![format!(
            "{}: unknown plugin `{name}`",
            path.trim_end_matches(".config")
        )]);
    };
    let mut conf = Conf::new(path, config, b.keys);
    let ctx = BuildCtx {
        stages,
        shared,
        fingerprint: fingerprint(name, config),
    };
    let built = (b.build)(&mut conf, &ctx);
    match built {
        Some(p) if conf.errs.is_empty() => Ok((p, conf.warnings)),
        _ => {
            if conf.errs.is_empty() {
                conf.errs.push(format!("{}: invalid config", conf.path()));
            }
            Err(conf.errs)
        }
    }
}

#[cfg(test)]
pub(crate) mod testing;
