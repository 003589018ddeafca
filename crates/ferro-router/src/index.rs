//! The routing index and model resolution (CONTRACT §8.1, ★5).

use crate::policy::TargetPolicy;
use crate::registry::{Registry, Target, TargetId};
use crate::strategy::Strategy;
use ferro_config::{Config, ConfigErrors};
use ferro_providers::spec::Operation;
use ferro_providers::ProviderInstance;
use ferro_types::catalog::{Catalog, ModelEntry};
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution<'a> {
    /// The model id to send upstream (after alias and prefix handling).
    pub model: Cow<'a, str>,
    /// Eligible targets in configured order; the first is preferred.
    pub candidates: Vec<TargetId>,
}

/// The compiled routing state. Immutable; a reload builds a new one.
#[derive(Debug)]
pub struct Router {
    pub targets: Vec<Target>,
    /// Resilience settings and health per target (parallel to `targets`).
    pub policies: Vec<TargetPolicy>,
    pub strategy: Strategy,
    pub instances: Vec<Arc<ProviderInstance>>,
    aliases: HashMap<String, String>,
    index: HashMap<String, Vec<TargetId>>,
    /// Model ids in first-seen order with their owning target (for `/v1/models`).
    listing: Vec<(String, TargetId)>,
    any_model: Vec<TargetId>,
    catalog: Arc<Catalog>,
    models_json: OnceLock<Vec<u8>>,
}

impl Router {
    /// Compiles routing state. `prev` (the router being replaced on reload) lends
    /// its per-target health to targets that keep their name and settings.
    pub fn build(
        reg: Registry,
        cfg: Option<&Config>,
        catalog: Arc<Catalog>,
        prev: Option<&Router>,
    ) -> Result<Router, ConfigErrors> {
        let strategy = Strategy::compile(cfg, &reg.targets).map_err(ConfigErrors)?;
        let policies = reg
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let tcfg = cfg.and_then(|c| c.targets.get(i));
                let old = prev.and_then(|p| {
                    p.targets
                        .iter()
                        .position(|pt| pt.name == t.name)
                        .and_then(|j| p.policies.get(j))
                });
                TargetPolicy::compile(tcfg, old)
            })
            .collect();
        let aliases = cfg.map(|c| c.aliases.clone()).unwrap_or_default();
        Ok(Self::assemble(reg, aliases, catalog, policies, strategy))
    }

    fn assemble(
        reg: Registry,
        aliases: BTreeMap<String, String>,
        catalog: Arc<Catalog>,
        policies: Vec<TargetPolicy>,
        strategy: Strategy,
    ) -> Router {
        let mut index: HashMap<String, Vec<TargetId>> = HashMap::new();
        let mut listing = Vec::new();
        let mut any_model = Vec::new();
        for (tid, t) in reg.targets.iter().enumerate() {
            let Some(inst) = &t.instance else { continue };
            if inst.spec.any_model {
                any_model.push(tid);
            }
            let catalog_ids = inst
                .catalog_providers()
                .iter()
                .flat_map(|p| catalog.provider_model_ids(p));
            let ids = t
                .models
                .iter()
                .map(String::as_str)
                .chain(inst.models.iter().map(String::as_str))
                .chain(catalog_ids);
            for id in ids {
                let entry = index.entry(id.to_owned()).or_default();
                if entry.is_empty() {
                    listing.push((id.to_owned(), tid));
                }
                if !entry.contains(&tid) {
                    entry.push(tid);
                }
            }
        }
        Router {
            targets: reg.targets,
            policies,
            strategy,
            instances: reg.instances,
            aliases: aliases.into_iter().collect(),
            index,
            listing,
            any_model,
            catalog,
            models_json: OnceLock::new(),
        }
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The instance of a target (`None` when unroutable).
    pub fn instance(&self, t: TargetId) -> Option<&Arc<ProviderInstance>> {
        self.targets.get(t).and_then(|t| t.instance.as_ref())
    }

    /// Whether any target can be routed to.
    pub fn has_routable_target(&self) -> bool {
        self.targets.iter().any(|t| t.instance.is_some())
    }

    /// Resolves a client model id for `op`: alias (one hop), exact index entry,
    /// explicit `<instance>/<model>` prefix, then any-model providers.
    pub fn resolve<'a>(&self, requested: &'a str, op: Operation) -> Option<Resolution<'a>> {
        let model: Cow<'a, str> = match self.aliases.get(requested) {
            Some(a) => Cow::Owned(a.clone()),
            None => Cow::Borrowed(requested),
        };
        let supports = |t: &TargetId| self.instance(*t).is_some_and(|i| i.spec.supports(op));
        if let Some(ts) = self.index.get(model.as_ref()) {
            let candidates: Vec<_> = ts.iter().copied().filter(supports).collect();
            if !candidates.is_empty() {
                return Some(Resolution { model, candidates });
            }
            return None;
        }
        if let Some((prefix, rest)) = model.split_once('/') {
            if !rest.is_empty() {
                let candidates: Vec<_> = (0..self.targets.len())
                    .filter(|t| self.targets[*t].name == prefix)
                    .filter(supports)
                    .collect();
                if !candidates.is_empty() {
                    let rest = rest.to_owned();
                    return Some(Resolution {
                        model: Cow::Owned(rest),
                        candidates,
                    });
                }
            }
        }
        let candidates: Vec<_> = self.any_model.iter().copied().filter(supports).collect();
        (!candidates.is_empty()).then_some(Resolution { model, candidates })
    }

    /// The first target offering `op` (e.g. moderations without a model).
    pub fn first_supporting(&self, op: Operation) -> Option<TargetId> {
        (0..self.targets.len()).find(|t| self.instance(*t).is_some_and(|i| i.spec.supports(op)))
    }

    /// Catalog entry used to price `model` served by `inst`: `<provider>/<model>`
    /// under the instance's catalog names, then the bare model id.
    pub fn pricing_entry(&self, inst: &ProviderInstance, model: &str) -> Option<&ModelEntry> {
        self.catalog
            .lookup(inst.catalog_providers(), model)
            .or_else(|| self.catalog.by_model_id(model))
    }

    /// The enriched `/v1/models/{id}` entry, if any target serves `id`.
    pub fn model_info(&self, id: &str) -> Option<Value> {
        let owner = *self.index.get(id)?.first()?;
        Some(self.enrich(id, owner))
    }

    /// The whole `/v1/models` body, built once per router.
    pub fn models_json(&self) -> &[u8] {
        self.models_json.get_or_init(|| {
            let data: Vec<Value> = self
                .listing
                .iter()
                .map(|(id, owner)| self.enrich(id, *owner))
                .collect();
            serde_json::to_vec(&json!({"object":"list","data":data})).unwrap_or_default()
        })
    }

    fn enrich(&self, id: &str, owner: TargetId) -> Value {
        let owned_by = self.targets[owner].name.as_str();
        let entry = self.instance(owner).and_then(|i| self.pricing_entry(i, id));
        let mut m = Map::new();
        m.insert("id".into(), json!(id));
        m.insert("object".into(), json!("model"));
        m.insert(
            "created".into(),
            json!(entry
                .and_then(|e| e.updated_at.as_deref())
                .map(unix_day)
                .unwrap_or(0)),
        );
        m.insert("owned_by".into(), json!(owned_by));
        if let Some(e) = entry {
            if let Some(mode) = &e.mode {
                m.insert("mode".into(), json!(mode));
            }
            if let Some(c) = e.context_window.filter(|c| *c > 0) {
                m.insert("context_window".into(), json!(c));
            }
            if let Some(c) = e.max_output_tokens.filter(|c| *c > 0) {
                m.insert("max_output_tokens".into(), json!(c));
            }
            let caps = e.capabilities.names();
            if !caps.is_empty() {
                m.insert("capabilities".into(), json!(caps));
            }
            if let Some(s) = &e.lifecycle.status {
                m.insert("status".into(), json!(s));
            }
            if e.is_deprecated() {
                m.insert("deprecated".into(), json!(true));
            }
            let mut pricing = Map::new();
            if let Ok(Value::Object(p)) = serde_json::to_value(&e.pricing) {
                for (k, v) in p {
                    if !v.is_null() {
                        pricing.insert(k, v);
                    }
                }
            }
            if !pricing.is_empty() {
                m.insert("pricing".into(), Value::Object(pricing));
            }
            if let Some(i) = e.pricing.input_per_m_tokens {
                m.insert("input_cost_per_token".into(), json!(i / 1e6));
            }
            if let Some(o) = e.pricing.output_per_m_tokens {
                m.insert("output_cost_per_token".into(), json!(o / 1e6));
            }
        }
        Value::Object(m)
    }
}

/// `YYYY-MM-DD…` → unix seconds at midnight UTC (0 if unparsable).
fn unix_day(s: &str) -> i64 {
    let parts: Vec<i64> = s
        .get(..10)
        .unwrap_or("")
        .split('-')
        .filter_map(|p| p.parse().ok())
        .collect();
    let [y, m, d] = parts[..] else { return 0 };
    // days from civil (Howard Hinnant)
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) * 86_400
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::registry::build;
    use ferro_config::{Config, Format};

    fn router(yaml: &str, env: &[(&str, &str)]) -> Router {
        let cfg = Config::load_str(yaml, Format::Yaml).unwrap();
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let reg = build(Some(&cfg), &|k| env.get(k).cloned()).unwrap();
        Router::build(reg, Some(&cfg), Catalog::embedded(), None).unwrap()
    }

    #[test]
    fn resolution_rules() {
        let r = router(
            r#"
targets:
  - virtual_key: openai
    models: [my-finetune]
  - virtual_key: openrouter
  - virtual_key: local
providers:
  - name: local
    type: ollama
    endpoint: http://127.0.0.1:11434
aliases: {fast: gpt-4o-mini}
"#,
            &[("OPENAI_API_KEY", "k"), ("OPENROUTER_API_KEY", "k")],
        );
        let res = r.resolve("gpt-4o", Operation::Chat).unwrap();
        assert_eq!(res.candidates, vec![0]);
        let res = r.resolve("fast", Operation::Chat).unwrap();
        assert_eq!(res.model, "gpt-4o-mini");
        assert_eq!(
            r.resolve("my-finetune", Operation::Chat)
                .unwrap()
                .candidates,
            vec![0]
        );
        // exact OpenRouter id with a slash wins over the prefix rule
        let or = r
            .resolve("anthropic/claude-3.5-sonnet", Operation::Chat)
            .unwrap();
        assert_eq!(or.candidates, vec![1]);
        assert_eq!(or.model, "anthropic/claude-3.5-sonnet");
        // explicit prefix naming an instance
        let p = r.resolve("openai/some-new-model", Operation::Chat).unwrap();
        assert_eq!(
            (p.model.as_ref(), p.candidates.clone()),
            ("some-new-model", vec![0])
        );
        // unknown ids go to the any-model provider (ollama)
        assert_eq!(
            r.resolve("llama3:8b", Operation::Chat).unwrap().candidates,
            vec![2]
        );
        // embeddings of a chat-only provider are not offered
        assert!(r
            .resolve("text-embedding-3-small", Operation::Embeddings)
            .is_some());
    }

    #[test]
    fn unknown_model_without_any_model_provider() {
        let r = router(
            "targets:\n  - virtual_key: openai\n",
            &[("OPENAI_API_KEY", "k")],
        );
        assert!(r.resolve("no-such-model", Operation::Chat).is_none());
        let info = r.model_info("gpt-4o").unwrap();
        assert_eq!(info["owned_by"], "openai");
        assert_eq!(info["pricing"]["input_per_m_tokens"], 2.5);
        assert_eq!(info["input_cost_per_token"], 2.5e-6);
        assert!(info["created"].as_i64().unwrap() > 1_700_000_000);
        let list: Value = serde_json::from_slice(r.models_json()).unwrap();
        assert!(list["data"].as_array().unwrap().len() > 100);
    }

    #[test]
    fn civil_days() {
        assert_eq!(unix_day("1970-01-01"), 0);
        assert_eq!(unix_day("2026-02-28"), 1_772_236_800);
    }
}
