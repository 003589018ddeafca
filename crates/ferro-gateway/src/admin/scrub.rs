//! Scrubbing the config for display (CONTRACT §5.8, §12): what `GET
//! /admin/config` and the history show, and the marker check that stops a
//! scrubbed config from being written back.
//!
//! Secret-named fields and secret-shaped values become `[REDACTED]`; free-form
//! maps that may carry credentials (provider and MCP headers, MCP env, exporter
//! config, tracing headers) are withheld key by key as `[REDACTED_KEY_<n>]`;
//! plugin configs show only the keys the plugin catalog declares. `${VAR}`
//! references are shown as written: they are locations, not secrets.

use super::catalog::plugin;
use crate::redact::Redactor;
use serde_json::{Map, Value};

/// The marker of a scrubbed value.
pub const MARKER: &str = "[REDACTED]";

const SECRET_FIELDS: [&str; 15] = [
    "api_key",
    "apikey",
    "secret",
    "password",
    "token",
    "access_token",
    "auth_token",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "service_account_json",
    "dsn",
    "private_key",
    "client_secret",
    "bearer",
];

/// True for a value made only of `${VAR}` references.
pub fn is_var_ref(s: &str) -> bool {
    let t = s.trim();
    if !t.starts_with("${") {
        return false;
    }
    let mut rest = t;
    while let Some(r) = rest.strip_prefix("${") {
        let Some(end) = r.find('}') else { return false };
        let name = &r[..end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return false;
        }
        rest = &r[end + 1..];
    }
    rest.is_empty()
}

fn secret_shaped(s: &str) -> bool {
    if is_var_ref(s) {
        return false;
    }
    if Redactor::default().redact(s) != s {
        return true;
    }
    url::Url::parse(s).is_ok_and(|u| u.password().is_some())
}

fn scrub_string(key: Option<&str>, s: &str) -> Value {
    let named_secret =
        key.is_some_and(|k| SECRET_FIELDS.contains(&k.to_ascii_lowercase().as_str()));
    if (named_secret && !is_var_ref(s) && !s.is_empty()) || secret_shaped(s) {
        Value::String(MARKER.to_owned())
    } else {
        Value::String(s.to_owned())
    }
}

/// Generic pass: secret-named fields and secret-shaped strings anywhere.
fn scrub_value(key: Option<&str>, v: &Value) -> Value {
    match v {
        Value::String(s) => scrub_string(key, s),
        Value::Array(a) => Value::Array(a.iter().map(|x| scrub_value(key, x)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), scrub_value(Some(k), x)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A free-form map, withheld key by key (sorted names → `[REDACTED_KEY_<n>]`).
fn withhold(v: &Value) -> Value {
    let Value::Object(m) = v else {
        return scrub_value(None, v);
    };
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    Value::Object(
        keys.iter()
            .enumerate()
            .map(|(i, k)| {
                let shown = match &m[k.as_str()] {
                    Value::String(s) if is_var_ref(s) => Value::String(s.clone()),
                    _ => Value::String(MARKER.to_owned()),
                };
                (format!("[REDACTED_KEY_{i}]"), shown)
            })
            .collect::<Map<_, _>>(),
    )
}

fn each_mut(v: &mut Value, f: impl Fn(&mut Map<String, Value>)) {
    if let Value::Array(a) = v {
        for item in a {
            if let Value::Object(m) = item {
                f(m);
            }
        }
    }
}

fn withhold_field(m: &mut Map<String, Value>, field: &str) {
    if let Some(v) = m.get(field) {
        let w = withhold(v);
        m.insert(field.to_owned(), w);
    }
}

/// The config JSON as an admin may see it.
pub fn scrub(cfg: &Value) -> Value {
    let Value::Object(top) = cfg else {
        return scrub_value(None, cfg);
    };
    // Aliases are shown verbatim; everything else first gets the generic pass.
    let aliases = top.get("aliases").cloned();
    let mut out = match scrub_value(None, cfg) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    if let Some(a) = aliases {
        out.insert("aliases".into(), a);
    }
    if let Some(p) = out.get_mut("providers") {
        each_mut(p, |m| withhold_field(m, "headers"));
    }
    if let Some(p) = out.get_mut("mcp_servers") {
        each_mut(p, |m| {
            withhold_field(m, "headers");
            withhold_field(m, "env");
        });
    }
    if let Some(Value::Object(obs)) = out.get_mut("observability") {
        if let Some(e) = obs.get_mut("exporters") {
            each_mut(e, |m| withhold_field(m, "config"));
        }
        if let Some(Value::Object(t)) = obs.get_mut("tracing") {
            withhold_field(t, "headers");
        }
    }
    if let Some(p) = out.get_mut("plugins") {
        each_mut(p, |m| {
            let declared = m
                .get("name")
                .and_then(Value::as_str)
                .and_then(plugin)
                .map(|p| p.settings)
                .unwrap_or_default();
            if let Some(Value::Object(c)) = m.get_mut("config") {
                c.retain(|k, _| declared.contains(&k.as_str()));
            }
        });
    }
    Value::Object(out)
}

/// True when any key or string value carries a redaction marker.
pub fn has_marker(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains("[REDACTED"),
        Value::Array(a) => a.iter().any(has_marker),
        Value::Object(m) => m
            .iter()
            .any(|(k, x)| k.contains("[REDACTED") || has_marker(x)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scrubs_secrets_keeps_refs_and_aliases() {
        let cfg = json!({
            "aliases": {"fast": "gpt-4o-mini"},
            "providers": [
                {"name": "a", "type": "openai", "api_key": "sk-live-abcdefghijklmnop", "headers": {"X-B": "v", "Authorization": "${AUTH}"}},
                {"name": "b", "type": "openai", "api_key": "${B_KEY}", "base_url": "https://u:p@h.example/v1"}
            ],
            "plugins": [
                {"name": "word-filter", "config": {"blocked_words": ["x"], "extra": "y"}},
                {"name": "custom", "config": {"anything": 1}}
            ],
            "mcp_servers": [{"name": "m", "env": {"TOKEN": "abc"}}],
            "observability": {"tracing": {"headers": {"k": "v"}}, "exporters": [{"name": "e", "config": {"key": "v"}}]},
            "targets": [{"virtual_key": "a"}]
        });
        let s = scrub(&cfg);
        assert_eq!(s["aliases"]["fast"], "gpt-4o-mini");
        assert_eq!(s["providers"][0]["api_key"], MARKER);
        assert_eq!(s["providers"][1]["api_key"], "${B_KEY}");
        assert_eq!(s["providers"][1]["base_url"], MARKER);
        assert_eq!(s["providers"][0]["headers"]["[REDACTED_KEY_0]"], "${AUTH}");
        assert_eq!(s["providers"][0]["headers"]["[REDACTED_KEY_1]"], MARKER);
        assert_eq!(s["plugins"][0]["config"], json!({"blocked_words": ["x"]}));
        assert_eq!(s["plugins"][1]["config"], json!({}));
        assert_eq!(
            s["mcp_servers"][0]["env"],
            json!({"[REDACTED_KEY_0]": MARKER})
        );
        assert_eq!(
            s["observability"]["exporters"][0]["config"],
            json!({"[REDACTED_KEY_0]": MARKER})
        );
        assert_eq!(s["targets"][0]["virtual_key"], "a");
        assert!(has_marker(&s));
        assert!(!has_marker(&cfg));
        assert!(!s.to_string().contains("sk-live"));
    }

    #[test]
    fn var_refs() {
        assert!(is_var_ref("${A_B}") && is_var_ref("${A}${B}"));
        assert!(!is_var_ref("x${A}") && !is_var_ref("${}") && !is_var_ref("${A"));
    }
}
