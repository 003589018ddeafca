//! Strict reading of a plugin's `config` object: unknown keys, wrong types and
//! unknown enum values are load errors naming their path; every problem is
//! collected, none stops the reading of the rest.

use serde_json::{Map, Value};

/// One plugin entry's `config`, being read.
pub(crate) struct Conf<'a> {
    path: String,
    map: Option<&'a Map<String, Value>>,
    pub(crate) errs: Vec<String>,
    pub(crate) warnings: Vec<String>,
}

static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();

impl<'a> Conf<'a> {
    /// `allowed` are the keys this plugin reads; anything else is an error.
    pub(crate) fn new(path: &str, value: &'a Value, allowed: &[&str]) -> Conf<'a> {
        let mut c = Conf {
            path: path.to_owned(),
            map: None,
            errs: Vec::new(),
            warnings: Vec::new(),
        };
        match value {
            Value::Null => c.map = Some(EMPTY.get_or_init(Map::new)),
            Value::Object(m) => {
                for k in m.keys() {
                    if !allowed.contains(&k.as_str()) {
                        c.errs.push(format!(
                            "{path}.{k}: unknown key (allowed: {})",
                            allowed.join(", ")
                        ));
                    }
                }
                c.map = Some(m);
            }
            _ => c.errs.push(format!("{path}: must be an object")),
        }
        c
    }

    pub(crate) fn err(&mut self, key: &str, msg: impl std::fmt::Display) {
        self.errs.push(format!("{}.{key}: {msg}", self.path));
    }

    pub(crate) fn warn(&mut self, key: &str, msg: impl std::fmt::Display) {
        self.warnings.push(format!("{}.{key}: {msg}", self.path));
    }

    /// The raw value of `key`, if present and not null.
    pub(crate) fn raw(&self, key: &str) -> Option<&'a Value> {
        self.map?.get(key).filter(|v| !v.is_null())
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.raw(key).is_some()
    }

    pub(crate) fn f64(&mut self, key: &str) -> Option<f64> {
        let v = self.raw(key)?;
        match v.as_f64().filter(|f| f.is_finite()) {
            Some(f) => Some(f),
            None => {
                self.err(key, "must be a number");
                None
            }
        }
    }

    /// A number that must be `>= 0`.
    pub(crate) fn non_neg(&mut self, key: &str) -> Option<f64> {
        let f = self.f64(key)?;
        if f < 0.0 {
            self.err(key, "must be zero or positive");
            return None;
        }
        Some(f)
    }

    /// A number that must be `> 0`.
    pub(crate) fn positive(&mut self, key: &str) -> Option<f64> {
        let f = self.f64(key)?;
        if f <= 0.0 {
            self.err(key, "must be greater than 0");
            return None;
        }
        Some(f)
    }

    /// A whole number `>= 0` (YAML and JSON both give numbers; `3.0` is accepted).
    pub(crate) fn count(&mut self, key: &str) -> Option<u64> {
        let f = self.non_neg(key)?;
        if f.fract() != 0.0 || f > u64::MAX as f64 {
            self.err(key, "must be a whole number");
            return None;
        }
        Some(f as u64)
    }

    pub(crate) fn bool(&mut self, key: &str) -> Option<bool> {
        let v = self.raw(key)?;
        match v.as_bool() {
            Some(b) => Some(b),
            None => {
                self.err(key, "must be true or false");
                None
            }
        }
    }

    pub(crate) fn string(&mut self, key: &str) -> Option<&'a str> {
        let v = self.raw(key)?;
        match v.as_str() {
            Some(s) => Some(s),
            None => {
                self.err(key, "must be a string");
                None
            }
        }
    }

    /// A list of strings; `None` when absent.
    pub(crate) fn strings(&mut self, key: &str) -> Option<Vec<&'a str>> {
        let v = self.raw(key)?;
        let Some(list) = v.as_array() else {
            self.err(key, "must be a list of strings");
            return None;
        };
        let mut out = Vec::with_capacity(list.len());
        for (i, item) in list.iter().enumerate() {
            match item.as_str() {
                Some(s) => out.push(s),
                None => self.err(&format!("{key}[{i}]"), "must be a string"),
            }
        }
        Some(out)
    }

    /// One of `allowed` (case-insensitive, trimmed), else `default`.
    pub(crate) fn choice(
        &mut self,
        key: &str,
        allowed: &[&'static str],
        default: &'static str,
    ) -> &'static str {
        let Some(s) = self.string(key) else {
            return default;
        };
        let norm = s.trim().to_ascii_lowercase();
        if norm.is_empty() {
            return default;
        }
        match allowed.iter().find(|a| **a == norm) {
            Some(a) => a,
            None => {
                self.err(
                    key,
                    format!("unknown value `{s}` (allowed: {})", allowed.join(", ")),
                );
                default
            }
        }
    }

    /// A list whose entries must each be one of `allowed`; `None` when absent.
    pub(crate) fn choices(
        &mut self,
        key: &str,
        allowed: &[&'static str],
    ) -> Option<Vec<&'static str>> {
        let list = self.strings(key)?;
        let mut out = Vec::with_capacity(list.len());
        for (i, s) in list.iter().enumerate() {
            let norm = s.trim().to_ascii_lowercase();
            match allowed.iter().find(|a| **a == norm) {
                Some(a) if !out.contains(a) => out.push(*a),
                Some(_) => {}
                None => self.err(
                    &format!("{key}[{i}]"),
                    format!("unknown value `{s}` (allowed: {})", allowed.join(", ")),
                ),
            }
        }
        Some(out)
    }

    /// Compiles each string of `key` as a regex (empty patterns refused).
    pub(crate) fn patterns(&mut self, key: &str) -> Vec<regex::Regex> {
        let Some(list) = self.strings(key) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, p) in list.iter().enumerate() {
            if p.trim().is_empty() {
                self.err(&format!("{key}[{i}]"), "must not be empty");
                continue;
            }
            match compile(p) {
                Ok(re) => out.push(re),
                Err(e) => self.err(&format!("{key}[{i}]"), e),
            }
        }
        out
    }

    pub(crate) fn path(&self) -> &str {
        &self.path
    }
}

/// Compiles a user pattern with a size cap, so a config cannot make the
/// gateway build a huge automaton.
pub(crate) fn compile(p: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(p)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("invalid pattern: {e}"))
}

/// The action enums of §5.5.
pub(crate) const BLOCK_WARN_LOG: [&str; 3] = ["block", "warn", "log"];

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strict_reading() {
        let v = json!({"a": 1, "b": "x", "c": [1, "y"], "d": "Warn", "bogus": true});
        let mut c = Conf::new("plugins[0].config", &v, &["a", "b", "c", "d"]);
        assert_eq!(c.count("a"), Some(1));
        assert_eq!(c.f64("b"), None);
        assert_eq!(c.strings("c"), Some(vec!["y"]));
        assert_eq!(c.choice("d", &BLOCK_WARN_LOG, "block"), "warn");
        let all = c.errs.join("\n");
        assert!(
            all.contains("plugins[0].config.bogus: unknown key"),
            "{all}"
        );
        assert!(
            all.contains("plugins[0].config.b: must be a number"),
            "{all}"
        );
        assert!(
            all.contains("plugins[0].config.c[0]: must be a string"),
            "{all}"
        );
        let v = json!({"d": "nope"});
        let mut c = Conf::new("p", &v, &["d"]);
        c.choice("d", &BLOCK_WARN_LOG, "block");
        assert!(c.errs[0].contains("allowed: block, warn, log"));
        assert!(Conf::new("p", &json!(null), &[]).errs.is_empty());
        assert!(!Conf::new("p", &json!([1]), &[]).errs.is_empty());
    }
}
