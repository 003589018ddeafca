//! The model catalog (CONTRACT §8.2): pricing, context windows, capabilities and
//! lifecycle keyed `"<catalog_provider>/<model_id>"`. A snapshot is compiled into
//! the binary ([`EMBEDDED`]); a local file may replace it at start.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

/// The catalog snapshot shipped with Ferro (see `data/NOTICE.md`), as compacted
/// by `build.rs` (no whitespace, no `null` / `false` members: the same catalog
/// in a third of the bytes).
pub static EMBEDDED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/model-catalog.min.json"));

/// Prices in USD per million tokens (or per tile / minute / character); `None` = unknown.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pricing {
    #[serde(default)]
    pub input_per_m_tokens: Option<f64>,
    #[serde(default)]
    pub output_per_m_tokens: Option<f64>,
    #[serde(default)]
    pub cache_read_per_m_tokens: Option<f64>,
    #[serde(default)]
    pub cache_write_per_m_tokens: Option<f64>,
    #[serde(default)]
    pub reasoning_per_m_tokens: Option<f64>,
    #[serde(default)]
    pub image_per_tile: Option<f64>,
    #[serde(default)]
    pub audio_input_per_minute: Option<f64>,
    #[serde(default)]
    pub audio_output_per_character: Option<f64>,
    #[serde(default)]
    pub embedding_per_m_tokens: Option<f64>,
    #[serde(default)]
    pub finetune_train_per_m_tokens: Option<f64>,
    #[serde(default)]
    pub finetune_input_per_m_tokens: Option<f64>,
    #[serde(default)]
    pub finetune_output_per_m_tokens: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    #[serde(default)]
    pub vision: bool,
    #[serde(default)]
    pub audio_input: bool,
    #[serde(default)]
    pub audio_output: bool,
    #[serde(default)]
    pub function_calling: bool,
    #[serde(default)]
    pub parallel_tool_calls: bool,
    #[serde(default)]
    pub json_mode: bool,
    #[serde(default)]
    pub response_schema: bool,
    #[serde(default)]
    pub prompt_caching: bool,
    #[serde(default)]
    pub reasoning: bool,
    #[serde(default)]
    pub streaming: bool,
    #[serde(default)]
    pub finetuneable: bool,
}

impl Capabilities {
    /// The enabled capability names, in the order of CONTRACT §8.1.
    pub fn names(&self) -> Vec<&'static str> {
        let all = [
            (self.vision, "vision"),
            (self.function_calling, "function_calling"),
            (self.parallel_tool_calls, "parallel_tool_calls"),
            (self.json_mode, "json_mode"),
            (self.response_schema, "response_schema"),
            (self.streaming, "streaming"),
            (self.prompt_caching, "prompt_caching"),
            (self.reasoning, "reasoning"),
            (self.audio_input, "audio_input"),
            (self.audio_output, "audio_output"),
            (self.finetuneable, "finetuneable"),
        ];
        all.iter().filter(|(on, _)| *on).map(|(_, n)| *n).collect()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub deprecation_date: Option<String>,
    #[serde(default)]
    pub sunset_date: Option<String>,
    #[serde(default)]
    pub successor: Option<String>,
}

/// One catalog entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelEntry {
    pub provider: String,
    pub model_id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub context_window: Option<u64>,
    #[serde(default)]
    pub max_output_tokens: Option<u64>,
    #[serde(default)]
    pub pricing: Pricing,
    #[serde(default)]
    pub capabilities: Capabilities,
    #[serde(default)]
    pub lifecycle: Lifecycle,
    #[serde(default)]
    pub tier: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
}

impl ModelEntry {
    pub fn is_deprecated(&self) -> bool {
        matches!(
            self.lifecycle.status.as_deref(),
            Some("deprecated") | Some("legacy")
        )
    }
}

/// A catalog document's members in document order.
struct Entries(Vec<(String, ModelEntry)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of model entries")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Entries, A::Error> {
                // the embedded snapshot has ~2,500 entries
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(4096).min(65_536));
                while let Some(kv) = map.next_entry::<String, ModelEntry>()? {
                    out.push(kv);
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// The parsed catalog with lookup indexes.
#[derive(Debug, Default)]
pub struct Catalog {
    entries: Vec<ModelEntry>,
    by_key: HashMap<String, usize>,
    by_model: HashMap<String, usize>,
    by_provider: HashMap<String, Vec<usize>>,
}

impl Catalog {
    /// Parses a catalog JSON document. Entries are read straight into one vector
    /// (no intermediate map: parsing the embedded snapshot used to hold it twice)
    /// and ordered by key; a key given twice keeps its last entry.
    pub fn from_json(bytes: &[u8]) -> Result<Catalog, String> {
        let Entries(mut list) =
            serde_json::from_slice(bytes).map_err(|e| format!("invalid model catalog: {e}"))?;
        // Reversed, then a stable sort: among equal keys the document's last
        // comes first, and dedup keeps the first of each run.
        list.reverse();
        list.sort_by(|a, b| a.0.cmp(&b.0));
        list.dedup_by(|a, b| a.0 == b.0);
        let mut c = Catalog {
            entries: Vec::with_capacity(list.len()),
            by_key: HashMap::with_capacity(list.len()),
            ..Catalog::default()
        };
        for (key, entry) in list {
            let i = c.entries.len();
            c.by_key.insert(key, i);
            c.by_model.entry(entry.model_id.clone()).or_insert(i);
            c.by_provider
                .entry(entry.provider.clone())
                .or_default()
                .push(i);
            c.entries.push(entry);
        }
        Ok(c)
    }

    /// The embedded snapshot, parsed once per process.
    pub fn embedded() -> Arc<Catalog> {
        static CELL: OnceLock<Arc<Catalog>> = OnceLock::new();
        CELL.get_or_init(|| Arc::new(Catalog::from_json(EMBEDDED).unwrap_or_default()))
            .clone()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entry by exact key `"<catalog_provider>/<model_id>"`.
    pub fn get(&self, key: &str) -> Option<&ModelEntry> {
        self.by_key.get(key).map(|&i| &self.entries[i])
    }

    /// Entry for `model_id` under the first catalog provider of `providers` that has it.
    pub fn lookup(&self, providers: &[&str], model_id: &str) -> Option<&ModelEntry> {
        let mut key = String::with_capacity(48);
        for p in providers {
            key.clear();
            key.push_str(p);
            key.push('/');
            key.push_str(model_id);
            if let Some(e) = self.get(&key) {
                return Some(e);
            }
        }
        None
    }

    /// Any entry with this bare model id (deterministic: first by key order).
    pub fn by_model_id(&self, model_id: &str) -> Option<&ModelEntry> {
        self.by_model.get(model_id).map(|&i| &self.entries[i])
    }

    /// All entries of one catalog provider.
    pub fn provider_models(&self, provider: &str) -> impl Iterator<Item = &ModelEntry> {
        self.by_provider
            .get(provider)
            .into_iter()
            .flatten()
            .map(|&i| &self.entries[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalog_parses_with_known_prices() {
        let c = Catalog::embedded();
        assert_eq!(c.len(), 2542);
        let e = c.get("openai/gpt-4o");
        assert_eq!(e.and_then(|e| e.pricing.input_per_m_tokens), Some(2.5));
        assert_eq!(e.and_then(|e| e.context_window), Some(128_000));
        let h = c.lookup(&["anthropic"], "claude-3-5-haiku-20241022");
        assert_eq!(
            h.and_then(|e| e.pricing.cache_write_per_m_tokens),
            Some(1.0)
        );
        assert!(c.provider_models("openai").count() > 100);
        assert!(c.by_model_id("gpt-4o-mini").is_some());
    }

    /// build.rs drops only members equal to their serde default, so the
    /// compact embedded bytes parse to exactly the entries of the source file.
    #[test]
    #[allow(clippy::expect_used)]
    fn compacted_embedding_parses_to_the_source_catalog() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/model-catalog.json");
        let source = std::fs::read(path).expect("catalog source file");
        let full = Catalog::from_json(&source).expect("source parses");
        let compact = Catalog::from_json(EMBEDDED).expect("embedded parses");
        assert!(EMBEDDED.len() * 2 < source.len(), "compaction shrinks it");
        assert_eq!(full.entries, compact.entries);
        assert_eq!(full.by_key, compact.by_key);
        assert_eq!(full.by_model, compact.by_model);
        assert_eq!(full.by_provider, compact.by_provider);
    }

    #[test]
    #[allow(clippy::expect_used)]
    fn entries_are_ordered_by_key_and_a_repeated_key_keeps_its_last_entry() {
        let doc = br#"{
            "zeta/m": {"provider": "zeta", "model_id": "m", "pricing": {"input_per_m_tokens": 3.0}},
            "alpha/m": {"provider": "alpha", "model_id": "m", "pricing": {"input_per_m_tokens": 1.0}},
            "alpha/m": {"provider": "alpha", "model_id": "m", "pricing": {"input_per_m_tokens": 2.0}}
        }"#;
        let c = Catalog::from_json(doc).expect("parses");
        assert_eq!(c.len(), 2);
        let first = c.by_model_id("m").expect("model");
        assert_eq!(first.provider, "alpha", "lowest key wins a bare model id");
        assert_eq!(
            first.pricing.input_per_m_tokens,
            Some(2.0),
            "last duplicate kept"
        );
        assert_eq!(
            c.get("zeta/m").and_then(|e| e.pricing.input_per_m_tokens),
            Some(3.0)
        );
        assert!(Catalog::from_json(b"[]").is_err());
    }
}
