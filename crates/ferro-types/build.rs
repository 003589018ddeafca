//! Compacts the embedded model catalog at build time: the snapshot in
//! `data/model-catalog.json` (3.4 MB, pretty-printed, every absent price and
//! every false capability spelled out) becomes a 1.2 MB document without
//! whitespace, `null`s or `false`s. Those are exactly the serde defaults of
//! `catalog::ModelEntry`, so the parsed catalog is identical (a unit test
//! checks), while the bytes mapped into memory and scanned at start-up shrink
//! by two thirds — they count toward the gateway's idle RSS.

use serde_json::Value;
use std::path::PathBuf;

fn strip_defaults(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !matches!(x, Value::Null | Value::Bool(false)));
            m.values_mut().for_each(strip_defaults);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_defaults),
        _ => {}
    }
}

fn main() {
    let src = "data/model-catalog.json";
    println!("cargo:rerun-if-changed={src}");
    let bytes = std::fs::read(src).unwrap_or_else(|e| panic!("reading {src}: {e}"));
    let mut doc: Value =
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("parsing {src}: {e}"));
    let Value::Object(models) = &mut doc else {
        panic!("{src}: the catalog must be a JSON object keyed by provider/model");
    };
    // Top-level keys are model keys; only strip inside each entry.
    models.values_mut().for_each(strip_defaults);
    let out = serde_json::to_vec(&doc).unwrap_or_else(|e| panic!("serialising {src}: {e}"));
    let dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_else(|| panic!("OUT_DIR unset")));
    let dst = dir.join("model-catalog.min.json");
    std::fs::write(&dst, out).unwrap_or_else(|e| panic!("writing {}: {e}", dst.display()));
}
