//! Semantic checks that run after decoding: every problem, with its path.

use crate::{parse_duration, Config, ConfigErrors};
use ferro_providers::spec;
use std::collections::HashSet;

/// Strategy modes of CONTRACT §5.2 (`load-balance` accepted as a spelling, ★8).
pub const MODES: [&str; 9] = [
    "single",
    "fallback",
    "loadbalance",
    "load-balance",
    "least-latency",
    "cost-optimized",
    "conditional",
    "content-based",
    "ab-test",
];

/// The eleven built-in plugin names of the Go gateway 1.5.
pub const PLUGIN_NAMES: [&str; 11] = [
    "word-filter",
    "max-token",
    "rate-limit",
    "budget",
    "response-cache",
    "request-logger",
    "regex-guard",
    "pii-redact",
    "secret-scan",
    "prompt-shield",
    "schema-guard",
];

const PLUGIN_TYPES: [&str; 6] = [
    "guardrail",
    "logging",
    "metrics",
    "auth",
    "transform",
    "ratelimit",
];
const STAGES: [&str; 3] = ["before_request", "after_request", "on_error"];

fn valid_model_id(m: &str) -> bool {
    !m.is_empty() && !m.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl Config {
    /// Every semantic problem of this config, each prefixed with its path.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut errs = Vec::new();
        let mut named: HashSet<&str> = HashSet::new();
        for (i, p) in self.providers.iter().enumerate() {
            let path = format!("providers[{i}]");
            if p.name.trim().is_empty() {
                errs.push(format!("{path}.name: must not be empty"));
            } else if !p
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
            {
                errs.push(format!(
                    "{path}.name: only letters, digits, '-', '_' and '.' are allowed"
                ));
            } else if !named.insert(p.name.as_str()) {
                errs.push(format!("{path}.name: duplicate provider name `{}`", p.name));
            }
            match spec::find(&p.kind) {
                None => errs.push(format!(
                    "{path}.type: unknown provider type `{}`",
                    p.kind
                )),
                Some(s) if s.wire == spec::Wire::Native && ferro_providers::native::adapter(s.id).is_none() => errs.push(format!(
                    "{path}.type: provider type `{}` needs the native adapter, which this build does not include yet",
                    p.kind
                )),
                Some(_) => {}
            }
            for (j, m) in p.models.iter().enumerate() {
                if !valid_model_id(m) {
                    errs.push(format!("{path}.models[{j}]: invalid model id"));
                }
            }
        }

        if self.targets.is_empty() {
            errs.push("targets: at least one target is required".to_owned());
        }
        let mut target_keys: HashSet<&str> = HashSet::new();
        for (i, t) in self.targets.iter().enumerate() {
            let path = format!("targets[{i}]");
            let vk = t.virtual_key.as_str();
            if vk.is_empty() {
                errs.push(format!("{path}.virtual_key: is required"));
            } else if !named.contains(vk) && spec::find(vk).is_none() {
                errs.push(format!(
                    "{path}.virtual_key: `{vk}` is neither a provider type nor a named provider"
                ));
            }
            target_keys.insert(vk);
            if let Some(w) = t.weight {
                if !w.is_finite() || w < 0.0 {
                    errs.push(format!("{path}.weight: must be zero or positive"));
                }
            }
            let mut seen = HashSet::new();
            for (j, m) in t.models.iter().enumerate() {
                if !valid_model_id(m) {
                    errs.push(format!("{path}.models[{j}]: invalid model id"));
                } else if !seen.insert(m.as_str()) {
                    errs.push(format!("{path}.models[{j}]: duplicate model `{m}`"));
                }
            }
            if let Some(r) = &t.retry {
                if r.attempts < 0 {
                    errs.push(format!("{path}.retry.attempts: must be zero or positive"));
                }
                for (j, c) in r.on_status_codes.iter().enumerate() {
                    if !(100..=599).contains(c) {
                        errs.push(format!(
                            "{path}.retry.on_status_codes[{j}]: not an HTTP status"
                        ));
                    }
                }
            }
            if let Some(cb) = &t.circuit_breaker {
                if let Some(to) = &cb.timeout {
                    if let Err(e) = parse_duration(to) {
                        errs.push(format!("{path}.circuit_breaker.timeout: {e}"));
                    }
                }
                if cb.failure_threshold == Some(0) {
                    errs.push(format!(
                        "{path}.circuit_breaker.failure_threshold: must be > 0"
                    ));
                }
            }
            if let Some(c) = &t.concurrency {
                if !(1..=10_000).contains(&c.max_concurrency) {
                    errs.push(format!(
                        "{path}.concurrency.max_concurrency: must be between 1 and 10000"
                    ));
                }
                if c.queue_size.is_some_and(|q| q > 10_000) {
                    errs.push(format!(
                        "{path}.concurrency.queue_size: must be at most 10000"
                    ));
                }
            }
        }

        let mode = self.strategy.mode.as_deref().unwrap_or("single");
        if !MODES.contains(&mode) {
            errs.push(format!(
                "strategy.mode: unknown mode `{mode}` (allowed: {})",
                MODES.join(", ")
            ));
        }
        if let Some(u) = &self.strategy.unpriced_strategy {
            if !["fallback", "skip", "allow"].contains(&u.as_str()) {
                errs.push(format!(
                    "strategy.unpriced_strategy: unknown value `{u}` (allowed: fallback, skip, allow)"
                ));
            }
        }
        for (i, c) in self.strategy.conditions.iter().enumerate() {
            if c.key != "model" && c.key != "model_prefix" {
                errs.push(format!(
                    "strategy.conditions[{i}].key: must be model or model_prefix"
                ));
            }
            if !target_keys.contains(c.target_key.as_str()) {
                errs.push(format!(
                    "strategy.conditions[{i}].target_key: `{}` is not a configured target",
                    c.target_key
                ));
            }
        }
        for (i, c) in self.strategy.content_conditions.iter().enumerate() {
            if !["prompt_contains", "prompt_not_contains", "prompt_regex"]
                .contains(&c.kind.as_str())
            {
                errs.push(format!(
                    "strategy.content_conditions[{i}].type: must be prompt_contains, prompt_not_contains or prompt_regex"
                ));
            }
            if !target_keys.contains(c.target_key.as_str()) {
                errs.push(format!(
                    "strategy.content_conditions[{i}].target_key: `{}` is not a configured target",
                    c.target_key
                ));
            }
        }
        for (i, v) in self.strategy.ab_variants.iter().enumerate() {
            if !target_keys.contains(v.target_key.as_str()) {
                errs.push(format!(
                    "strategy.ab_variants[{i}].target_key: `{}` is not a configured target",
                    v.target_key
                ));
            }
            if !v.weight.is_finite() || v.weight < 0.0 {
                errs.push(format!(
                    "strategy.ab_variants[{i}].weight: must be zero or positive"
                ));
            }
        }

        if let Some(rt) = &self.request_timeout {
            match parse_duration(rt) {
                Ok(d) if d.is_zero() => errs.push("request_timeout: must be > 0".to_owned()),
                Ok(_) => {}
                Err(e) => errs.push(format!("request_timeout: {e}")),
            }
        }

        for (alias, target) in &self.aliases {
            if alias.trim().is_empty() || target.trim().is_empty() {
                errs.push(format!(
                    "aliases.{alias}: alias and target must not be empty"
                ));
            } else if alias == target {
                errs.push(format!("aliases.{alias}: an alias cannot point to itself"));
            } else if self.aliases.contains_key(target) {
                errs.push(format!(
                    "aliases.{alias}: `{target}` is itself an alias (chains are not allowed)"
                ));
            }
        }

        for (i, p) in self.plugins.iter().enumerate() {
            let path = format!("plugins[{i}]");
            if !PLUGIN_NAMES.contains(&p.name.as_str()) {
                errs.push(format!("{path}.name: unknown plugin `{}`", p.name));
            }
            if !p.kind.is_empty() && !PLUGIN_TYPES.contains(&p.kind.as_str()) {
                errs.push(format!(
                    "{path}.type: unknown type `{}` (allowed: {})",
                    p.kind,
                    PLUGIN_TYPES.join(", ")
                ));
            }
            if !STAGES.contains(&p.stage.as_str()) {
                errs.push(format!(
                    "{path}.stage: unknown stage `{}` (allowed: {})",
                    p.stage,
                    STAGES.join(", ")
                ));
            }
        }

        if let Some(c) = &self.compatibility {
            if let Some(v) = &c.on_unsupported_param {
                if !["warn", "drop", "reject"].contains(&v.as_str()) {
                    errs.push(format!(
                        "compatibility.on_unsupported_param: unknown value `{v}` (allowed: warn, drop, reject)"
                    ));
                }
            }
        }
        for (key, name) in [
            ("batch_target", &self.batch_target),
            ("responses_target", &self.responses_target),
        ] {
            if let Some(t) = name {
                if !target_keys.contains(t.as_str()) {
                    errs.push(format!("{key}: `{t}` is not a configured target"));
                }
            }
        }
        let mut mcp_names = HashSet::new();
        for (i, m) in self.mcp_servers.iter().enumerate() {
            if m.name.is_empty() || !mcp_names.insert(m.name.as_str()) {
                errs.push(format!(
                    "mcp_servers[{i}].name: must be unique and non-empty"
                ));
            }
            if m.url.is_some() == m.command.is_some() {
                errs.push(format!(
                    "mcp_servers[{i}]: exactly one of url or command is required"
                ));
            }
        }
        if let Some(t) = self.observability.as_ref().and_then(|o| o.tracing.as_ref()) {
            validate_tracing(t, &mut errs);
        }

        if errs.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(errs))
        }
    }
}

/// `observability.tracing` (CONTRACT §5.7); endpoint URLs are checked when
/// tracing starts (they may come from the environment instead).
fn validate_tracing(t: &crate::TracingConfig, errs: &mut Vec<String>) {
    let path = "observability.tracing";
    if let Some(p) = &t.protocol {
        if !["grpc", "http/protobuf", "http"].contains(&p.as_str()) {
            errs.push(format!(
                "{path}.protocol: unknown value `{p}` (allowed: grpc, http/protobuf)"
            ));
        }
    }
    if let Some(p) = &t.privacy_level {
        if !["", "none", "metadata", "full"].contains(&p.as_str()) {
            errs.push(format!(
                "{path}.privacy_level: unknown value `{p}` (allowed: none, metadata, full)"
            ));
        }
    }
    if let Some(r) = t.sample_ratio {
        if !(0.0..=1.0).contains(&r) {
            errs.push(format!("{path}.sample_ratio: must be between 0 and 1"));
        }
    }
    if let Some(g) = &t.shutdown_grace {
        if let Err(e) = parse_duration(g) {
            errs.push(format!("{path}.shutdown_grace: {e}"));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::{Config, Format};

    #[test]
    fn tracing_settings_are_validated() {
        let e = Config::load_str(
            "targets: [{virtual_key: openai}]\nobservability: {tracing: {protocol: http/json, privacy_level: all, sample_ratio: 2, shutdown_grace: soon}}\n",
            Format::Yaml,
        )
        .unwrap_err();
        assert_eq!(e.0.len(), 4, "{:?}", e.0);
        assert!(Config::load_str(
            "targets: [{virtual_key: openai}]\nobservability: {tracing: {endpoint: 'c:4317', protocol: grpc, privacy_level: full, sample_ratio: 0.5, shutdown_grace: 5s}}\n",
            Format::Yaml,
        )
        .is_ok());
    }

    #[test]
    fn unknown_keys_are_errors_with_paths() {
        let e = Config::parse(
            "targets:\n  - virtual_key: openai\n    wieght: 2\n",
            Format::Yaml,
        )
        .unwrap_err();
        assert!(e.0[0].starts_with("targets[0]"), "{e}");
        assert!(e.0[0].contains("wieght"), "{e}");
        let e = Config::parse(r#"{"targets":[],"bogus":1}"#, Format::Json).unwrap_err();
        assert!(e.0[0].contains("bogus"), "{e}");
    }

    #[test]
    fn all_errors_reported_together() {
        let cfg = Config::parse(
            r#"
strategy: {mode: roundrobin}
targets:
  - virtual_key: nosuch
  - virtual_key: openai
    models: [a, a]
aliases: {fast: quick, quick: gpt-4o, self: self}
request_timeout: 10parsecs
"#,
            Format::Yaml,
        )
        .unwrap();
        let e = cfg.validate().unwrap_err();
        let all = e.to_string();
        for needle in [
            "strategy.mode",
            "targets[0].virtual_key",
            "targets[1].models[1]",
            "aliases.fast",
            "aliases.self",
            "request_timeout",
        ] {
            assert!(all.contains(needle), "missing {needle} in {all}");
        }
    }

    #[test]
    fn go_style_full_config_loads() {
        let cfg = Config::load_str(
            r#"
apiVersion: v1
strategy:
  mode: fallback
targets:
  - virtual_key: openai
    retry: {attempts: 3, on_status_codes: [429, 503], initial_backoff_ms: 100}
    circuit_breaker: {failure_threshold: 5, success_threshold: 1, timeout: 30s}
    concurrency: {max_concurrency: 100, queue_size: 50}
  - virtual_key: local
    models: [llama3]
providers:
  - name: local
    type: ollama
    endpoint: http://localhost:11434
plugins:
  - name: word-filter
    type: guardrail
    stage: before_request
    enabled: true
    config: {blocked_words: [bad]}
aliases: {fast: gpt-4o-mini}
max_request_bytes: 1048576
request_timeout: 30s
compatibility: {on_unsupported_param: warn}
"#,
            Format::Yaml,
        )
        .unwrap();
        assert_eq!(cfg.targets.len(), 2);
        assert_eq!(cfg.max_request_bytes(), 1_048_576);
    }
}
