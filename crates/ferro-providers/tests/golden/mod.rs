//! The fixture harness every provider's golden tests share: fixture discovery,
//! JSON loading, and comparison against `<case>.expected.json` (rewritten when
//! `FERRO_BLESS=1`; review the diff).
#![allow(dead_code, clippy::unwrap_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};

/// The fixtures of one provider, under `tests/fixtures/<provider>/`.
pub struct Fixtures(pub &'static str);

impl Fixtures {
    pub fn dir(&self, sub: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(self.0)
            .join(sub)
    }

    /// Input fixtures of `sub` with extension `ext` (expected / options files,
    /// whose stems contain a `.`, excluded), sorted by case name.
    pub fn cases(&self, sub: &str, ext: &str) -> Vec<(String, PathBuf)> {
        let suffix = format!(".{ext}");
        let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(self.dir(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter_map(|p| {
                let name = p.file_name()?.to_str()?.to_owned();
                let case = name.strip_suffix(&suffix)?;
                (!case.contains('.')).then(|| (case.to_owned(), p.clone()))
            })
            .collect();
        out.sort();
        assert!(!out.is_empty(), "no fixtures in {sub}");
        out
    }

    /// Compares `actual` with `<sub>/<case>.expected.json`.
    pub fn check(&self, sub: &str, case: &str, actual: &Value) {
        let p = self.dir(sub).join(format!("{case}.expected.json"));
        if std::env::var_os("FERRO_BLESS").is_some() {
            let mut s = serde_json::to_string_pretty(actual).unwrap();
            s.push('\n');
            std::fs::write(&p, s).unwrap();
            return;
        }
        assert!(p.exists(), "{sub}/{case}: missing {}", p.display());
        let expected = read_json(&p);
        assert!(
            &expected == actual,
            "{sub}/{case} differs.\nexpected: {}\nactual:   {}",
            serde_json::to_string_pretty(&expected).unwrap(),
            serde_json::to_string_pretty(actual).unwrap()
        );
    }
}

pub fn read_json(p: &Path) -> Value {
    let s = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
