//! The model catalog (CONTRACT §8.2): pricing, context windows, capabilities and
//! lifecycle keyed `"<catalog_provider>/<model_id>"`. A snapshot is compiled into
//! the binary as static tables ([`Catalog::embedded`], see `build.rs`); a local
//! file may replace it at start ([`Catalog::from_json`]).
//!
//! Both kinds answer the same lookups from sorted arrays (binary search, no
//! hashing, no allocation per lookup). The embedded one costs no heap and no
//! start-up parse: an entry is built the first time a lookup returns it, and
//! only the table pages a lookup touches are ever read into memory.

mod entry;

pub use entry::{Capabilities, Lifecycle, ModelEntry, Pricing};

use serde::Deserialize;
use std::cmp::Ordering;
use std::fmt;
use std::sync::{Arc, OnceLock};

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

/// A catalog: entries in key order with two orderings of their indices.
pub struct Catalog {
    table: Table,
}

enum Table {
    /// The compiled-in snapshot; `cache[i]` holds entry `i` once it was asked for.
    Embedded {
        cache: Box<[OnceLock<Box<ModelEntry>>]>,
    },
    /// A catalog parsed at run time.
    Parsed {
        keys: Vec<String>,
        entries: Vec<ModelEntry>,
        /// Entry indices by (model id, key).
        by_model: Vec<u32>,
        /// Entry indices by (provider, key).
        by_provider: Vec<u32>,
    },
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog {
            table: Table::Parsed {
                keys: Vec::new(),
                entries: Vec::new(),
                by_model: Vec::new(),
                by_provider: Vec::new(),
            },
        }
    }
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalog")
            .field("embedded", &matches!(self.table, Table::Embedded { .. }))
            .field("len", &self.len())
            .finish()
    }
}

/// Indices `0..n` ordered by `field`, ties in index (= key) order.
fn order_by(n: usize, field: impl Fn(usize) -> String) -> Vec<u32> {
    let mut idx: Vec<u32> = (0..n).filter_map(|i| u32::try_from(i).ok()).collect();
    idx.sort_by_cached_key(|&i| field(i as usize));
    idx
}

/// `key` compared with `"{provider}/{model}"`, without building the latter.
fn cmp_joined(key: &str, provider: &str, model: &str) -> Ordering {
    let (k, p) = (key.as_bytes(), provider.as_bytes());
    let Some((head, rest)) = k.split_at_checked(p.len()) else {
        // shorter than the provider: equal to a prefix of it, or decided by it
        return k.cmp(&p[..k.len()]).then(Ordering::Less);
    };
    head.cmp(p).then_with(|| match rest.split_first() {
        None => Ordering::Less,
        Some((&slash, m)) => slash.cmp(&b'/').then_with(|| m.cmp(model.as_bytes())),
    })
}

impl Catalog {
    /// Parses a catalog JSON document: entries ordered by key, a key given
    /// twice keeps its last entry.
    pub fn from_json(bytes: &[u8]) -> Result<Catalog, String> {
        let Entries(mut list) =
            serde_json::from_slice(bytes).map_err(|e| format!("invalid model catalog: {e}"))?;
        if u32::try_from(list.len()).is_err() {
            return Err("invalid model catalog: too many entries".into());
        }
        // Reversed, then a stable sort: among equal keys the document's last
        // comes first, and dedup keeps the first of each run.
        list.reverse();
        list.sort_by(|a, b| a.0.cmp(&b.0));
        list.dedup_by(|a, b| a.0 == b.0);
        let (keys, entries): (Vec<String>, Vec<ModelEntry>) = list.into_iter().unzip();
        let by_model = order_by(entries.len(), |i| entries[i].model_id.clone());
        let by_provider = order_by(entries.len(), |i| entries[i].provider.clone());
        Ok(Catalog {
            table: Table::Parsed {
                keys,
                entries,
                by_model,
                by_provider,
            },
        })
    }

    /// The compiled-in snapshot (see `data/NOTICE.md`), one per process.
    pub fn embedded() -> Arc<Catalog> {
        static CELL: OnceLock<Arc<Catalog>> = OnceLock::new();
        CELL.get_or_init(|| {
            let cache = (0..tables::LEN).map(|_| OnceLock::new()).collect();
            Arc::new(Catalog {
                table: Table::Embedded { cache },
            })
        })
        .clone()
    }

    pub fn len(&self) -> usize {
        match &self.table {
            Table::Embedded { .. } => tables::LEN,
            Table::Parsed { entries, .. } => entries.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn key(&self, i: usize) -> &str {
        match &self.table {
            Table::Embedded { .. } => tables::KEYS.get(i).map_or("", |s| s.get()),
            Table::Parsed { keys, .. } => keys.get(i).map_or("", String::as_str),
        }
    }

    /// A string field of entry `i`, read without building the entry.
    fn field(
        &self,
        i: u32,
        raw: fn(&tables::R) -> tables::S,
        parsed: fn(&ModelEntry) -> &str,
    ) -> &str {
        match &self.table {
            Table::Embedded { .. } => tables::RECORDS.get(i as usize).map_or("", |r| raw(r).get()),
            Table::Parsed { entries, .. } => entries.get(i as usize).map_or("", parsed),
        }
    }

    fn model_id(&self, i: u32) -> &str {
        self.field(i, |r| r.model_id, |e| &e.model_id)
    }

    fn provider(&self, i: u32) -> &str {
        self.field(i, |r| r.provider, |e| &e.provider)
    }

    fn by_model(&self) -> &[u32] {
        match &self.table {
            Table::Embedded { .. } => &tables::BY_MODEL,
            Table::Parsed { by_model, .. } => by_model,
        }
    }

    fn by_provider(&self) -> &[u32] {
        match &self.table {
            Table::Embedded { .. } => &tables::BY_PROVIDER,
            Table::Parsed { by_provider, .. } => by_provider,
        }
    }

    /// Entry `i` (built from the static tables on first use).
    fn entry(&self, i: usize) -> Option<&ModelEntry> {
        match &self.table {
            Table::Embedded { cache } => {
                let cell = cache.get(i)?;
                let record = tables::RECORDS.get(i)?;
                Some(cell.get_or_init(|| Box::new(record.to_entry())))
            }
            Table::Parsed { entries, .. } => entries.get(i),
        }
    }

    /// Index of the entry whose key `probe` says is equal.
    fn find(&self, probe: impl Fn(&str) -> Ordering) -> Option<usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match probe(self.key(mid)) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// The run of `order` whose `field` equals `value` (in key order).
    fn run<'a>(
        &'a self,
        order: &'a [u32],
        field: fn(&Self, u32) -> &str,
        value: &str,
    ) -> &'a [u32] {
        let start = order.partition_point(|&i| field(self, i) < value);
        let len = order[start..].partition_point(|&i| field(self, i) == value);
        &order[start..start + len]
    }

    /// Entry by exact key `"<catalog_provider>/<model_id>"`.
    pub fn get(&self, key: &str) -> Option<&ModelEntry> {
        self.find(|k| k.cmp(key)).and_then(|i| self.entry(i))
    }

    /// Entry for `model_id` under the first catalog provider of `providers` that has it.
    pub fn lookup(&self, providers: &[&str], model_id: &str) -> Option<&ModelEntry> {
        providers
            .iter()
            .find_map(|p| self.find(|k| cmp_joined(k, p, model_id)))
            .and_then(|i| self.entry(i))
    }

    /// Any entry with this bare model id (deterministic: first by key order).
    pub fn by_model_id(&self, model_id: &str) -> Option<&ModelEntry> {
        let order = self.by_model();
        let first = *order.get(order.partition_point(|&i| self.model_id(i) < model_id))?;
        (self.model_id(first) == model_id)
            .then(|| self.entry(first as usize))
            .flatten()
    }

    /// All entries of one catalog provider, in key order.
    pub fn provider_models(&self, provider: &str) -> impl Iterator<Item = &ModelEntry> {
        self.run(self.by_provider(), Self::provider, provider)
            .iter()
            .filter_map(|&i| self.entry(i as usize))
    }

    /// The model ids of one catalog provider, in key order, without building
    /// their entries.
    pub fn provider_model_ids(&self, provider: &str) -> impl Iterator<Item = &str> {
        self.run(self.by_provider(), Self::provider, provider)
            .iter()
            .map(|&i| self.model_id(i))
    }
}

/// The compiled-in snapshot's tables, written by `build.rs`.
mod tables {
    use super::{Capabilities, Lifecycle, ModelEntry, Pricing};

    /// A string of [`STRS`]: byte offset and length; length `u32::MAX` = none.
    #[derive(Clone, Copy)]
    pub(super) struct S(u32, u32);

    pub(super) const NONE: S = S(0, u32::MAX);

    impl S {
        pub(super) fn opt(self) -> Option<&'static str> {
            let start = self.0 as usize;
            (self.1 != u32::MAX)
                .then(|| STRS.get(start..start + self.1 as usize))
                .flatten()
        }

        pub(super) fn get(self) -> &'static str {
            self.opt().unwrap_or("")
        }

        fn owned(self) -> Option<String> {
            self.opt().map(str::to_owned)
        }
    }

    /// One entry without pointers (prices in the field order of [`Pricing`],
    /// capability `i` = bit `i` in the field order of [`Capabilities`]).
    pub(super) struct R {
        pub(super) provider: S,
        pub(super) model_id: S,
        display_name: S,
        mode: S,
        context_window: Option<u64>,
        max_output_tokens: Option<u64>,
        prices: [Option<f64>; 12],
        caps: u16,
        status: S,
        deprecation_date: S,
        sunset_date: S,
        successor: S,
        tier: S,
        updated_at: S,
        source: S,
    }

    impl R {
        pub(super) fn to_entry(&self) -> ModelEntry {
            let [input, output, cache_read, cache_write, reasoning, image, audio_in, audio_out, embedding, ft_train, ft_in, ft_out] =
                self.prices;
            let cap = |bit: u16| self.caps & (1 << bit) != 0;
            ModelEntry {
                provider: self.provider.get().to_owned(),
                model_id: self.model_id.get().to_owned(),
                display_name: self.display_name.owned(),
                mode: self.mode.owned(),
                context_window: self.context_window,
                max_output_tokens: self.max_output_tokens,
                pricing: Pricing {
                    input_per_m_tokens: input,
                    output_per_m_tokens: output,
                    cache_read_per_m_tokens: cache_read,
                    cache_write_per_m_tokens: cache_write,
                    reasoning_per_m_tokens: reasoning,
                    image_per_tile: image,
                    audio_input_per_minute: audio_in,
                    audio_output_per_character: audio_out,
                    embedding_per_m_tokens: embedding,
                    finetune_train_per_m_tokens: ft_train,
                    finetune_input_per_m_tokens: ft_in,
                    finetune_output_per_m_tokens: ft_out,
                },
                capabilities: Capabilities {
                    vision: cap(0),
                    audio_input: cap(1),
                    audio_output: cap(2),
                    function_calling: cap(3),
                    parallel_tool_calls: cap(4),
                    json_mode: cap(5),
                    response_schema: cap(6),
                    prompt_caching: cap(7),
                    reasoning: cap(8),
                    streaming: cap(9),
                    finetuneable: cap(10),
                },
                lifecycle: Lifecycle {
                    status: self.status.owned(),
                    deprecation_date: self.deprecation_date.owned(),
                    sunset_date: self.sunset_date.owned(),
                    successor: self.successor.owned(),
                },
                tier: self.tier.owned(),
                updated_at: self.updated_at.owned(),
                source: self.source.owned(),
            }
        }
    }

    include!(concat!(env!("OUT_DIR"), "/catalog_tables.rs"));
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

    /// The snapshot's source file, parsed at run time.
    #[allow(clippy::expect_used)]
    fn parse_source() -> Catalog {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/model-catalog.json");
        let source = std::fs::read(path).expect("catalog source file");
        Catalog::from_json(&source).expect("source parses")
    }

    /// The compiled-in tables hold exactly what parsing the source file at
    /// run time gives: every key, entry and both index orders.
    #[test]
    #[allow(clippy::expect_used)]
    fn embedded_tables_equal_the_parsed_source_catalog() {
        let parsed = parse_source();
        let embedded = Catalog::embedded();
        assert!(matches!(parsed.table, Table::Parsed { .. }));
        assert!(matches!(embedded.table, Table::Embedded { .. }));
        assert_eq!(parsed.len(), embedded.len());
        for i in 0..parsed.len() {
            assert_eq!(parsed.key(i), embedded.key(i));
            assert_eq!(parsed.entry(i), embedded.entry(i), "entry {i}");
        }
        assert_eq!(parsed.by_model(), embedded.by_model());
        assert_eq!(parsed.by_provider(), embedded.by_provider());
    }

    #[test]
    fn joined_comparison_orders_like_the_built_key() {
        let keys = ["", "a", "a/", "a/b", "a/bc", "a0", "ab/c", "b", "a.", "a/a"];
        for k in keys {
            for (p, m) in [
                ("a", "b"),
                ("a", ""),
                ("", "a"),
                ("ab", "c"),
                ("a", "bc"),
                ("b", ""),
            ] {
                let built = format!("{p}/{m}");
                assert_eq!(
                    cmp_joined(k, p, m),
                    k.cmp(built.as_str()),
                    "{k:?} vs {built:?}"
                );
            }
        }
    }

    #[test]
    #[allow(clippy::expect_used)]
    fn lookups_agree_between_parsed_and_embedded_catalogs() {
        let parsed = parse_source();
        let embedded = Catalog::embedded();
        for c in [&parsed, &*embedded] {
            let e = c.lookup(&["nope", "openai"], "gpt-4o").expect("gpt-4o");
            assert_eq!(e.provider, "openai");
            assert!(c.lookup(&["openai"], "gpt-4").is_some());
            assert!(c.lookup(&["openai"], "gpt-4o-").is_none());
            assert!(
                c.lookup(&["open"], "ai/gpt-4o").is_none(),
                "no '/' smuggling"
            );
            assert!(c.get("").is_none());
            assert!(c.by_model_id("no-such-model").is_none());
            assert_eq!(c.provider_models("no-such-provider").count(), 0);
            let ids: Vec<&str> = c.provider_model_ids("anthropic").collect();
            let models: Vec<&str> = c
                .provider_models("anthropic")
                .map(|e| e.model_id.as_str())
                .collect();
            assert_eq!(ids, models);
            assert!(ids.windows(2).all(|w| w[0] < w[1]), "key order");
        }
        let empty = Catalog::default();
        assert!(empty.is_empty());
        assert!(empty.get("openai/gpt-4o").is_none());
        assert!(empty.by_model_id("gpt-4o").is_none());
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
