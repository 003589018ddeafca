//! A configured provider instance: a provider type plus its API root,
//! credentials, extra headers and models. Built-in instances come from env vars
//! (CONTRACT §7); named instances from the config's `providers:` list (★6).

use crate::base_url::{resolve_root, validate_endpoint};
use crate::mock::MockSettings;
use crate::secret::Secret;
use crate::spec::{self, Auth, Operation, ProviderSpec, Wire};
use http::{HeaderName, HeaderValue};
use std::collections::BTreeMap;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

/// Everything needed to build an instance, from env or from config.
#[derive(Debug, Clone, Default)]
pub struct InstanceSettings {
    pub name: String,
    pub base_url: Option<String>,
    pub api_key: Option<Secret>,
    pub headers: Vec<(String, String)>,
    pub models: Vec<String>,
    /// Azure / Foundry / Databricks / Ollama host-style endpoint.
    pub endpoint: Option<String>,
    /// Azure OpenAI deployment.
    pub deployment: Option<String>,
    pub api_version: Option<String>,
    /// Cloudflare account id.
    pub account_id: Option<String>,
    pub mock: MockSettings,
    /// Type-specific settings of native providers (`region`, `project_id`,
    /// `aws_access_key_id`, `service_account_json`, `token_url`, …).
    pub extra: BTreeMap<String, String>,
    /// Which `extra` keys hold secrets (redacted, never logged).
    pub extra_secrets: Vec<String>,
}

/// Azure OpenAI's deployment-path addressing.
#[derive(Debug, Clone)]
pub struct AzureDeployment {
    pub endpoint: String,
    pub deployment: String,
    pub api_version: String,
}

/// A ready-to-use provider instance.
#[derive(Debug, Clone)]
pub struct ProviderInstance {
    /// Instance name: the built-in id for env-registered providers.
    pub name: String,
    pub spec: &'static ProviderSpec,
    /// API root, no trailing slash.
    pub root: String,
    /// Outbound auth + extra headers, values marked sensitive.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Provider-configured model ids (Azure deployment, Ollama list, `models:`).
    pub models: Vec<String>,
    pub azure: Option<AzureDeployment>,
    pub mock: MockSettings,
    /// Type-specific settings (see [`InstanceSettings::extra`]).
    pub extra: BTreeMap<String, Secret>,
    /// Literal credential values this instance holds, for redaction.
    pub secrets: Vec<Secret>,
    /// Upstream requests of this instance holding a pooled connection now
    /// (from sending until the response body is read or dropped).
    pub busy: Arc<AtomicUsize>,
    /// [`ProviderInstance::url`] parsed once per operation (the hot path sends
    /// a parsed URL instead of formatting and parsing one per request).
    parsed_urls: Arc<[std::sync::OnceLock<Option<crate::client::UpstreamUrl>>; 7]>,
}

fn header(name: &str, value: &str, sensitive: bool) -> Result<(HeaderName, HeaderValue), String> {
    let n = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("invalid header name `{name}`"))?;
    let mut v =
        HeaderValue::from_str(value).map_err(|_| format!("invalid value for header `{name}`"))?;
    v.set_sensitive(sensitive);
    Ok((n, v))
}

fn split_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl ProviderInstance {
    /// Builds an instance of `spec` from settings.
    pub fn build(
        spec: &'static ProviderSpec,
        s: InstanceSettings,
    ) -> Result<ProviderInstance, String> {
        let native = if spec.wire == Wire::Native {
            Some(crate::native::adapter(spec.id).ok_or_else(|| {
                format!(
                    "provider type `{}` needs the native adapter, which this build does not include yet",
                    spec.id
                )
            })?)
        } else {
            None
        };
        let name = if s.name.is_empty() {
            spec.id.to_owned()
        } else {
            s.name.clone()
        };
        let mut models = s.models.clone();
        let mut azure = None;
        let base = s.base_url.as_deref().unwrap_or("");
        let root = match spec.id {
            "azure-openai" => {
                let endpoint = validate_endpoint(
                    s.endpoint
                        .as_deref()
                        .or(s.base_url.as_deref())
                        .ok_or("azure-openai needs an endpoint")?,
                )?;
                let deployment = s
                    .deployment
                    .clone()
                    .filter(|d| !d.is_empty())
                    .ok_or("azure-openai needs a deployment")?;
                if !deployment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
                {
                    return Err("azure-openai deployment has invalid characters".into());
                }
                if !models.contains(&deployment) {
                    models.push(deployment.clone());
                }
                azure = Some(AzureDeployment {
                    endpoint: endpoint.clone(),
                    deployment,
                    api_version: s
                        .api_version
                        .clone()
                        .filter(|v| !v.is_empty())
                        .unwrap_or_else(|| "2024-10-21".to_owned()),
                });
                format!("{endpoint}/openai/v1")
            }
            "azure-foundry" => {
                let endpoint = validate_endpoint(
                    s.endpoint
                        .as_deref()
                        .or(s.base_url.as_deref())
                        .ok_or("azure-foundry needs an endpoint")?,
                )?;
                if endpoint.ends_with("/openai/v1") {
                    endpoint
                } else {
                    format!("{endpoint}/openai/v1")
                }
            }
            "databricks" => {
                let host = validate_endpoint(
                    s.endpoint
                        .as_deref()
                        .or(s.base_url.as_deref())
                        .ok_or("databricks needs a host")?,
                )?;
                if host.ends_with("/serving-endpoints") {
                    host
                } else {
                    format!("{host}/serving-endpoints")
                }
            }
            "cloudflare" => {
                if !base.is_empty() {
                    resolve_root(base, "https://api.cloudflare.com/client/v4")?
                } else {
                    let acct = s
                        .account_id
                        .as_deref()
                        .filter(|a| !a.is_empty())
                        .ok_or("cloudflare needs an account id")?;
                    if !acct.chars().all(|c| c.is_ascii_alphanumeric()) {
                        return Err("cloudflare account id has invalid characters".into());
                    }
                    format!("https://api.cloudflare.com/client/v4/accounts/{acct}/ai/v1")
                }
            }
            "ollama" => {
                let host = s
                    .endpoint
                    .as_deref()
                    .or(s.base_url.as_deref())
                    .unwrap_or("");
                if host.is_empty() {
                    spec.default_root.to_owned()
                } else {
                    let h = validate_endpoint(host)?;
                    if h.ends_with("/v1") {
                        h
                    } else {
                        format!("{h}/v1")
                    }
                }
            }
            "mock" => String::new(),
            _ => match native {
                Some(a) => a.root(spec, &s)?,
                None => resolve_root(base, spec.default_root)?,
            },
        };
        let mut headers = Vec::new();
        let mut secrets = Vec::new();
        if let Some(key) = s.api_key.as_ref().filter(|k| !k.is_empty()) {
            match spec.auth {
                Auth::Bearer => headers.push(header(
                    "authorization",
                    &format!("Bearer {}", key.expose()),
                    true,
                )?),
                Auth::Header(h) => headers.push(header(h, key.expose(), true)?),
                Auth::None => {}
            }
            secrets.push(key.clone());
        }
        for (k, v) in &s.headers {
            headers.push(header(k, v, true)?);
        }
        for k in &s.extra_secrets {
            if let Some(v) = s.extra.get(k) {
                secrets.push(Secret::new(v.clone()));
            }
        }
        for m in &models {
            if m.is_empty() || m.chars().any(char::is_whitespace) {
                return Err(format!("provider `{name}` lists an invalid model id"));
            }
        }
        Ok(ProviderInstance {
            name,
            spec,
            root,
            headers,
            models,
            azure,
            mock: s.mock.clone(),
            extra: s
                .extra
                .iter()
                .map(|(k, v)| (k.clone(), Secret::new(v.clone())))
                .collect(),
            secrets,
            busy: Arc::default(),
            parsed_urls: Arc::default(),
        })
    }

    /// The built-in mock provider (cannot fail: it needs no URL or credential).
    pub fn mock(name: &str, settings: MockSettings, models: Vec<String>) -> ProviderInstance {
        ProviderInstance {
            name: name.to_owned(),
            spec: &spec::PROVIDERS[spec::PROVIDERS.len() - 1],
            root: String::new(),
            headers: Vec::new(),
            models,
            azure: None,
            mock: settings,
            extra: BTreeMap::new(),
            secrets: Vec::new(),
            busy: Arc::default(),
            parsed_urls: Arc::default(),
        }
    }

    /// Registers the built-in provider `spec` from env vars, if its required vars are set.
    pub fn from_env(
        spec: &'static ProviderSpec,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Option<Result<ProviderInstance, String>> {
        let get = |k: &str| {
            env(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut s = InstanceSettings {
            name: spec.id.to_owned(),
            ..Default::default()
        };
        if spec.wire == Wire::Native {
            let a = crate::native::adapter(spec.id)?;
            let s = a.settings_from_env(spec, env)?;
            return Some(Self::build(spec, s));
        }
        match spec.id {
            "mock" => return None,
            "ollama" => {
                s.endpoint = Some(get("OLLAMA_HOST")?);
                let models = get("FERRO_OLLAMA_MODELS").or_else(|| get("OLLAMA_MODELS"));
                s.models = models
                    .map(|m| split_list(&m))
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|m| !m.starts_with('/') && !m.starts_with('.') && !m.contains('\\'))
                    .collect();
                return Some(Self::build(spec, s));
            }
            "azure-openai" => {
                s.api_key = Some(Secret::new(get("AZURE_OPENAI_API_KEY")?));
                s.endpoint = Some(get("AZURE_OPENAI_ENDPOINT")?);
                s.deployment = Some(get("AZURE_OPENAI_DEPLOYMENT")?);
                s.api_version = get("AZURE_OPENAI_API_VERSION");
                return Some(Self::build(spec, s));
            }
            "azure-foundry" => {
                s.api_key = Some(Secret::new(get("AZURE_FOUNDRY_API_KEY")?));
                s.endpoint = Some(get("AZURE_FOUNDRY_ENDPOINT")?);
                return Some(Self::build(spec, s));
            }
            "databricks" => {
                s.api_key = Some(Secret::new(get("DATABRICKS_TOKEN")?));
                s.endpoint = Some(get("DATABRICKS_HOST")?);
                return Some(Self::build(spec, s));
            }
            "cloudflare" => {
                s.api_key = Some(Secret::new(get("CLOUDFLARE_API_KEY")?));
                s.account_id = get("CLOUDFLARE_ACCOUNT_ID");
                s.base_url = get("CLOUDFLARE_BASE_URL");
                if s.account_id.is_none() && s.base_url.is_none() {
                    return None;
                }
                return Some(Self::build(spec, s));
            }
            "hugging-face" => {
                s.api_key = Some(Secret::new(get("HUGGING_FACE_API_KEY")?));
                s.base_url = get("HUGGING_FACE_ENDPOINT");
                return Some(Self::build(spec, s));
            }
            "ollama-cloud" => {
                s.api_key = Some(Secret::new(get("OLLAMA_API_KEY")?));
                s.base_url = get("OLLAMA_CLOUD_BASE_URL");
                s.models = get("OLLAMA_CLOUD_MODELS")
                    .map(|m| split_list(&m))
                    .unwrap_or_default();
                return Some(Self::build(spec, s));
            }
            _ => {}
        }
        if spec.key_env.is_empty() {
            return None;
        }
        s.api_key = Some(Secret::new(get(spec.key_env)?));
        s.base_url = spec.base_url_env.and_then(get);
        Some(Self::build(spec, s))
    }

    /// The upstream URL of `op`.
    pub fn url(&self, op: Operation) -> String {
        match &self.azure {
            Some(az) if op != Operation::Models => format!(
                "{}/openai/deployments/{}{}?api-version={}",
                az.endpoint,
                az.deployment,
                op.path(),
                az.api_version
            ),
            _ => format!("{}{}", self.root, op.path()),
        }
    }

    /// [`ProviderInstance::url`], parsed (once per operation; `None` when the
    /// configured root does not make a valid URL).
    pub fn parsed_url(&self, op: Operation) -> Option<&crate::client::UpstreamUrl> {
        let i = match op {
            Operation::Chat => 0,
            Operation::Completions => 1,
            Operation::Embeddings => 2,
            Operation::Images => 3,
            Operation::Moderations => 4,
            Operation::Models => 5,
            Operation::Rerank => 6,
        };
        self.parsed_urls
            .get(i)?
            .get_or_init(|| crate::client::UpstreamUrl::parse(&self.url(op)).ok())
            .as_ref()
    }

    /// The URL of a pass-through path (already stripped of `/v1`, starting with `/`).
    pub fn passthrough_url(&self, rest: &str, query: Option<&str>) -> String {
        match query {
            Some(q) if !q.is_empty() => format!("{}{}?{}", self.root, rest, q),
            _ => format!("{}{}", self.root, rest),
        }
    }

    pub fn is_mock(&self) -> bool {
        self.spec.wire == Wire::Mock
    }

    /// Catalog provider names to look this instance's models up under.
    pub fn catalog_providers(&self) -> &'static [&'static str] {
        self.spec.catalog
    }
}

/// Builds every built-in provider whose env vars are present. Errors are
/// reported together; native providers without an adapter in this build are listed as skipped.
pub fn from_env(
    env: &dyn Fn(&str) -> Option<String>,
) -> (Vec<ProviderInstance>, Vec<String>, Vec<&'static str>) {
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    let mut skipped = Vec::new();
    for spec in spec::PROVIDERS {
        // Native providers register through their adapter once it is in the build.
        if spec.wire == Wire::Native && crate::native::adapter(spec.id).is_none() {
            if !spec.key_env.is_empty() && env(spec.key_env).is_some_and(|v| !v.trim().is_empty()) {
                skipped.push(spec.id);
            }
            continue;
        }
        match ProviderInstance::from_env(spec, env) {
            None => {}
            Some(Ok(p)) => ok.push(p),
            Some(Err(e)) => errors.push(format!("{}: {e}", spec.id)),
        }
    }
    (ok, errors, skipped)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn env_registration_and_urls() {
        let e = env(&[
            ("OPENAI_API_KEY", "sk-test"),
            ("OPENAI_BASE_URL", "http://127.0.0.1:9"),
            ("GROQ_API_KEY", "gsk"),
            ("AZURE_OPENAI_API_KEY", "az"),
            ("AZURE_OPENAI_ENDPOINT", "https://r.openai.azure.com/"),
            ("AZURE_OPENAI_DEPLOYMENT", "gpt4o-prod"),
            ("ANTHROPIC_API_KEY", "ak"),
            ("OLLAMA_HOST", "http://localhost:11434"),
            ("OLLAMA_MODELS", "/var/lib/ollama"),
        ]);
        let (ps, errs, skipped) = from_env(&e);
        assert!(errs.is_empty(), "{errs:?}");
        // Anthropic is registered once its adapter is in the build, else skipped.
        let anthropic_built = crate::native::adapter("anthropic").is_some();
        assert_eq!(skipped.is_empty(), anthropic_built);
        let ps: Vec<_> = ps
            .into_iter()
            .filter(|p| p.spec.wire != Wire::Native)
            .collect();
        let names: Vec<_> = ps.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, vec!["azure-openai", "groq", "ollama", "openai"]);
        let openai = &ps[3];
        assert_eq!(
            openai.url(Operation::Chat),
            "http://127.0.0.1:9/v1/chat/completions"
        );
        assert_eq!(
            ps[0].url(Operation::Chat),
            "https://r.openai.azure.com/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(ps[0].headers[0].0.as_str(), "api-key");
        assert_eq!(ps[0].models, vec!["gpt4o-prod"]);
        assert_eq!(
            ps[1].url(Operation::Embeddings),
            "https://api.groq.com/openai/v1/embeddings"
        );
        assert_eq!(
            ps[2].url(Operation::Chat),
            "http://localhost:11434/v1/chat/completions"
        );
        assert!(ps[2].models.is_empty(), "path-like OLLAMA_MODELS dropped");
        assert!(format!("{:?}", openai.secrets).contains("REDACTED"));
        assert!(!format!("{:?}", openai.secrets).contains("sk-test"));
    }

    #[test]
    fn bad_base_url_is_an_error() {
        let (_, errs, _) = from_env(&env(&[
            ("OPENAI_API_KEY", "k"),
            ("OPENAI_BASE_URL", "http://h/v1?x"),
        ]));
        assert_eq!(errs.len(), 1);
    }
}
