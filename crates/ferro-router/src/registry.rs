//! Provider instances and targets, compiled from env vars and config.

use ferro_config::{resolve_vars, Config, ConfigErrors};
use ferro_providers::instance::{self, InstanceSettings};
use ferro_providers::mock::MockSettings;
use ferro_providers::spec::{self, Wire};

use ferro_providers::{ProviderInstance, Secret};
use std::sync::Arc;
use std::time::Duration;

/// Index of a target in [`crate::Router::targets`].
pub type TargetId = usize;

/// A routing target: a provider instance plus the models it adds.
#[derive(Debug, Clone)]
pub struct Target {
    /// `virtual_key` as configured (instance name).
    pub name: String,
    /// `None` when the provider is not registered (no credential): unroutable.
    pub instance: Option<Arc<ProviderInstance>>,
    pub models: Vec<String>,
}

/// Models the built-in mock advertises on `/v1/models` (it answers any id).
pub const MOCK_MODELS: [&str; 6] = [
    "gpt-4o-mini",
    "gpt-4o",
    "claude-3-5-haiku-20241022",
    "gemini-2.0-flash",
    "text-embedding-3-small",
    "omni-moderation-latest",
];

fn mock_instance(name: &str, settings: MockSettings, models: Vec<String>) -> ProviderInstance {
    let models = if models.is_empty() {
        MOCK_MODELS.iter().map(|m| (*m).to_owned()).collect()
    } else {
        models
    };
    ProviderInstance::mock(name, settings, models)
}

/// The registered instances and the targets, plus warnings for the operator.
#[derive(Debug)]
pub struct Registry {
    pub instances: Vec<Arc<ProviderInstance>>,
    pub targets: Vec<Target>,
    pub warnings: Vec<String>,
}

/// Builds instances and targets. With no config: one target per env-registered
/// provider, in table order, or the built-in `mock` when there is none.
pub fn build(
    cfg: Option<&Config>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Registry, ConfigErrors> {
    let (mut instances, mut errors, skipped) = instance::from_env(env);
    let mut warnings: Vec<String> = skipped
        .iter()
        .map(|id| format!("{id}: credentials found, but the native {id} adapter is not in this build; not registered"))
        .collect();

    if let Some(cfg) = cfg {
        for (i, np) in cfg.providers.iter().enumerate() {
            let path = format!("providers[{i}]");
            let Some(sp) = spec::find(&np.kind) else {
                errors.push(format!("{path}.type: unknown provider type `{}`", np.kind));
                continue;
            };
            let res = |v: &Option<String>, field: &str| -> Result<Option<String>, String> {
                v.as_deref()
                    .map(|s| resolve_vars(s, env).map_err(|e| format!("{path}.{field}: {e}")))
                    .transpose()
            };
            let built = (|| -> Result<ProviderInstance, String> {
                if sp.wire == Wire::Mock {
                    return Ok(mock_instance(
                        &np.name,
                        MockSettings {
                            latency: Duration::from_millis(np.latency_ms.unwrap_or(0)),
                            stream_chunks: np.stream_chunks.unwrap_or(0),
                            chunk_gap: Duration::from_millis(np.chunk_gap_ms.unwrap_or(0)),
                        },
                        np.models.clone(),
                    ));
                }
                let mut headers = Vec::new();
                for (k, v) in &np.headers {
                    let v = resolve_vars(v, env).map_err(|e| format!("{path}.headers.{k}: {e}"))?;
                    headers.push((k.clone(), v));
                }
                let mut extra = std::collections::BTreeMap::new();
                let mut extra_secrets = Vec::new();
                for (key, value, secret) in np.native_settings() {
                    if let Some(v) = res(value, key)? {
                        extra.insert(key.to_owned(), v);
                        if secret {
                            extra_secrets.push(key.to_owned());
                        }
                    }
                }
                let s = InstanceSettings {
                    extra,
                    extra_secrets,
                    name: np.name.clone(),
                    base_url: res(&np.base_url, "base_url")?,
                    api_key: res(&np.api_key, "api_key")?.map(Secret::new),
                    headers,
                    models: np.models.clone(),
                    endpoint: res(&np.endpoint, "endpoint")?,
                    deployment: res(&np.deployment, "deployment")?,
                    api_version: res(&np.api_version, "api_version")?,
                    account_id: res(&np.account_id, "account_id")?,
                    mock: MockSettings::default(),
                };
                ProviderInstance::build(sp, s).map_err(|e| format!("{path}: {e}"))
            })();
            match built {
                Ok(p) => {
                    // A named instance replaces an env-registered one of the same name.
                    instances.retain(|x| x.name != p.name);
                    instances.push(p);
                }
                Err(e) => errors.push(e),
            }
        }
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }

    let mut instances: Vec<Arc<ProviderInstance>> = instances.into_iter().map(Arc::new).collect();
    let find = |instances: &[Arc<ProviderInstance>], name: &str| {
        instances.iter().find(|p| p.name == name).cloned()
    };

    let targets = match cfg {
        Some(cfg) => {
            let mut out = Vec::with_capacity(cfg.targets.len());
            for t in &cfg.targets {
                let mut inst = find(&instances, &t.virtual_key);
                if inst.is_none() && t.virtual_key == "mock" {
                    // `mock` named explicitly as a target registers the built-in mock.
                    let m = Arc::new(mock_instance("mock", MockSettings::default(), Vec::new()));
                    instances.push(m.clone());
                    inst = Some(m);
                }
                if inst.is_none() {
                    warnings.push(format!(
                        "target `{}` is not routable: its provider is not registered (credentials missing)",
                        t.virtual_key
                    ));
                }
                out.push(Target {
                    name: t.virtual_key.clone(),
                    instance: inst,
                    models: t.models.clone(),
                });
            }
            out
        }
        None => {
            if instances.is_empty() {
                instances.push(Arc::new(mock_instance(
                    "mock",
                    MockSettings::default(),
                    Vec::new(),
                )));
                warnings.push(
                    "no provider credentials found: serving the built-in MOCK provider (replies are generated locally, no LLM is called)"
                        .to_owned(),
                );
            }
            instances
                .iter()
                .map(|p| Target {
                    name: p.name.clone(),
                    instance: Some(p.clone()),
                    models: Vec::new(),
                })
                .collect()
        }
    };
    Ok(Registry {
        instances,
        targets,
        warnings,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ferro_config::Format;

    #[test]
    fn mock_when_nothing_configured() {
        let r = build(None, &|_| None).unwrap();
        assert_eq!(r.targets.len(), 1);
        assert_eq!(r.targets[0].name, "mock");
        assert!(r.warnings[0].contains("MOCK"));
    }

    #[test]
    fn named_instances_resolve_vars_late() {
        let cfg = Config::load_str(
            r#"
providers:
  - name: eu-openai
    type: openai
    base_url: http://127.0.0.1:1/v1
    api_key: ${EU_KEY}
targets:
  - virtual_key: eu-openai
  - virtual_key: groq
"#,
            Format::Yaml,
        )
        .unwrap();
        let env = |k: &str| (k == "EU_KEY").then(|| "sk-eu".to_owned());
        let r = build(Some(&cfg), &env).unwrap();
        assert_eq!(r.targets.len(), 2);
        assert!(r.targets[0].instance.is_some());
        assert!(r.targets[1].instance.is_none(), "groq has no key");
        assert_eq!(cfg.providers[0].api_key.as_deref(), Some("${EU_KEY}"));
        let missing = build(Some(&cfg), &|_| None).unwrap_err();
        assert!(missing.to_string().contains("EU_KEY"));
    }
}
