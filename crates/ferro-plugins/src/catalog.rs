//! The plugin catalog served at `GET /admin/plugins/catalog` (CONTRACT §1.5):
//! a pure function of the built-ins, so the keys it advertises are exactly the
//! keys each plugin reads.

use crate::builtin::BUILTINS;
use serde::Serialize;

/// One built-in plugin, as the catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogEntry {
    /// The name `plugins[].name` must use.
    pub name: &'static str,
    /// The type the plugin reports (decides fail-open).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// One line on what it does.
    pub summary: &'static str,
    /// The `config` keys it reads.
    pub settings: Vec<&'static str>,
    /// Whether a request survives this plugin breaking.
    pub fails_open: bool,
}

/// Every built-in plugin.
pub fn catalog() -> Vec<CatalogEntry> {
    BUILTINS
        .iter()
        .map(|b| CatalogEntry {
            name: b.name,
            kind: b.kind.as_str(),
            summary: b.summary,
            settings: b
                .keys
                .iter()
                .copied()
                .filter(|k| !matches!(*k, "backend" | "dsn"))
                .collect(),
            fails_open: b.kind.fails_open(),
        })
        .collect()
}

/// `{"data":[{"name","type","summary","settings":[…],"fails_open"}]}`.
pub fn catalog_json() -> serde_json::Value {
    serde_json::json!({ "data": catalog() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eleven_entries_with_contract_keys() {
        let c = catalog();
        assert_eq!(c.len(), 11);
        let names: Vec<&str> = c.iter().map(|e| e.name).collect();
        for n in [
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
        ] {
            assert!(names.contains(&n), "{n} missing");
        }
        let budget = c.iter().find(|e| e.name == "budget");
        assert_eq!(budget.map(|b| b.kind), Some("ratelimit"));
        let logger = c.iter().find(|e| e.name == "request-logger");
        assert_eq!(
            logger.map(|l| (l.fails_open, l.settings.clone())),
            Some((true, vec!["level", "persist"]))
        );
        let v = catalog_json();
        assert_eq!(v["data"][0]["name"], "word-filter");
        assert_eq!(v["data"][0]["settings"][0], "blocked_words");
    }
}
