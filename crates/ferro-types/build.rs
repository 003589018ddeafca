//! Compiles the embedded model catalog into static tables.
//!
//! `data/model-catalog.json` (3.4 MB, ~2,500 entries) used to be embedded as
//! JSON and parsed at start-up into ~3.5 MB of heap: owned strings, three hash
//! indexes. Here it is read once, through the very types the run-time parser
//! uses (`src/catalog/entry.rs`), and written out as Rust statics that hold no
//! pointers (strings are offsets into one string blob), so they land in
//! `.rodata` without load-time relocations: nothing is parsed, allocated or
//! even paged in until a lookup touches it. `catalog::Catalog` materialises an
//! entry on first use.
//!
//! Order and duplicates follow `Catalog::from_json`: sorted by key bytes, a
//! repeated key keeps its last entry (serde's `BTreeMap` does both). A unit
//! test checks the tables against parsing the source file at run time.

#[allow(dead_code)]
#[path = "src/catalog/entry.rs"]
mod entry;

use entry::ModelEntry;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;

/// Interns strings into one blob; `S(offset, len)`, `S(0, u32::MAX)` = `None`.
#[derive(Default)]
struct Blob {
    text: String,
    seen: HashMap<String, (u32, u32)>,
}

impl Blob {
    fn s(&mut self, v: &str) -> String {
        let (off, len) = match self.seen.get(v) {
            Some(&x) => x,
            None => {
                let x = (to_u32(self.text.len()), to_u32(v.len()));
                self.text.push_str(v);
                self.seen.insert(v.to_owned(), x);
                x
            }
        };
        format!("S({off},{len})")
    }

    fn opt(&mut self, v: &Option<String>) -> String {
        match v {
            Some(v) => self.s(v),
            None => "NONE".to_owned(),
        }
    }
}

fn to_u32(n: usize) -> u32 {
    let n = u32::try_from(n).unwrap_or_else(|_| panic!("catalog too large: {n}"));
    assert!(n < u32::MAX, "catalog too large: {n}");
    n
}

/// A Rust literal for an `Option<f64>` / `Option<u64>` (`{:?}` of an f64 is
/// its shortest round-tripping form, always with a `.` or an exponent).
fn of(v: Option<f64>) -> String {
    v.map_or_else(|| "None".into(), |x| format!("Some({x:?})"))
}

fn ou(v: Option<u64>) -> String {
    v.map_or_else(|| "None".into(), |x| format!("Some({x})"))
}

fn record(b: &mut Blob, e: &ModelEntry) -> String {
    let p = &e.pricing;
    let prices = [
        p.input_per_m_tokens,
        p.output_per_m_tokens,
        p.cache_read_per_m_tokens,
        p.cache_write_per_m_tokens,
        p.reasoning_per_m_tokens,
        p.image_per_tile,
        p.audio_input_per_minute,
        p.audio_output_per_character,
        p.embedding_per_m_tokens,
        p.finetune_train_per_m_tokens,
        p.finetune_input_per_m_tokens,
        p.finetune_output_per_m_tokens,
    ]
    .map(of)
    .join(",");
    let c = &e.capabilities;
    let caps = [
        c.vision,
        c.audio_input,
        c.audio_output,
        c.function_calling,
        c.parallel_tool_calls,
        c.json_mode,
        c.response_schema,
        c.prompt_caching,
        c.reasoning,
        c.streaming,
        c.finetuneable,
    ]
    .iter()
    .enumerate()
    .fold(0u16, |acc, (i, on)| acc | (u16::from(*on) << i));
    let l = &e.lifecycle;
    format!(
        "R{{provider:{},model_id:{},display_name:{},mode:{},context_window:{},\
         max_output_tokens:{},prices:[{prices}],caps:{caps},status:{},deprecation_date:{},\
         sunset_date:{},successor:{},tier:{},updated_at:{},source:{}}},\n",
        b.s(&e.provider),
        b.s(&e.model_id),
        b.opt(&e.display_name),
        b.opt(&e.mode),
        ou(e.context_window),
        ou(e.max_output_tokens),
        b.opt(&l.status),
        b.opt(&l.deprecation_date),
        b.opt(&l.sunset_date),
        b.opt(&l.successor),
        b.opt(&e.tier),
        b.opt(&e.updated_at),
        b.opt(&e.source),
    )
}

/// Entry indices ordered by `field`, ties in key order (a stable sort).
fn order_by(entries: &[&ModelEntry], field: fn(&ModelEntry) -> &str) -> String {
    let mut idx: Vec<usize> = (0..entries.len()).collect();
    idx.sort_by(|&a, &b| field(entries[a]).cmp(field(entries[b])));
    idx.iter().fold(String::new(), |mut s, i| {
        let _ = write!(s, "{i},");
        s
    })
}

fn main() {
    let src = "data/model-catalog.json";
    println!("cargo:rerun-if-changed={src}");
    println!("cargo:rerun-if-changed=src/catalog/entry.rs");
    let bytes = std::fs::read(src).unwrap_or_else(|e| panic!("reading {src}: {e}"));
    let doc: BTreeMap<String, ModelEntry> =
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("parsing {src}: {e}"));
    let n = doc.len();
    let mut blob = Blob::default();
    let mut keys = String::new();
    let mut records = String::new();
    for (k, e) in &doc {
        keys.push_str(&blob.s(k));
        keys.push(',');
        records.push_str(&record(&mut blob, e));
    }
    let entries: Vec<&ModelEntry> = doc.values().collect();
    let by_model = order_by(&entries, |e| &e.model_id);
    let by_provider = order_by(&entries, |e| &e.provider);
    let code = format!(
        "// @generated by build.rs from {src}: do not edit.\n\
         pub(super) const LEN: usize = {n};\n\
         pub(super) static STRS: &str = {text:?};\n\
         pub(super) static KEYS: [S; {n}] = [{keys}];\n\
         pub(super) static BY_MODEL: [u32; {n}] = [{by_model}];\n\
         pub(super) static BY_PROVIDER: [u32; {n}] = [{by_provider}];\n\
         pub(super) static RECORDS: [R; {n}] = [\n{records}];\n",
        text = blob.text,
    );
    let dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_else(|| panic!("OUT_DIR unset")));
    let dst = dir.join("catalog_tables.rs");
    std::fs::write(&dst, code).unwrap_or_else(|e| panic!("writing {}: {e}", dst.display()));
}
