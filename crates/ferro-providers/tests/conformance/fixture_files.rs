//! Loading the fixtures a manifest entry names: files, entries of bundle files,
//! and the bytes each case feeds an adapter.

use super::fixtures;
use ferro_providers::bedrock::eventstream;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A fixture reference: `path` (relative to `tests/fixtures/`) or
/// `path#name`, the entry called `name` of a bundle file (a JSON array).
pub(crate) enum Fixture {
    File(PathBuf),
    Entry(Value),
}

pub(crate) fn resolve(r: &str) -> Result<Fixture, String> {
    let (path, name) = match r.split_once('#') {
        Some((p, n)) => (p, Some(n)),
        None => (r, None),
    };
    let p = fixtures().join(path);
    if !p.is_file() {
        return Err(format!("fixture {r}: no file {}", p.display()));
    }
    let Some(name) = name else {
        return Ok(Fixture::File(p));
    };
    let bytes = std::fs::read(&p).map_err(|e| format!("{r}: {e}"))?;
    let all: Value = serde_json::from_slice(&bytes).map_err(|e| format!("{r}: {e}"))?;
    let entry = all
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == name))
        .ok_or_else(|| format!("fixture {r}: no entry named {name:?} in {path}"))?;
    Ok(Fixture::Entry(entry.clone()))
}

pub(crate) fn read(p: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))
}

pub(crate) fn read_json(p: &Path) -> Result<Value, String> {
    serde_json::from_slice(&read(p)?).map_err(|e| format!("{}: {e}", p.display()))
}

/// The native payload of a bundle entry: its `body`, else the field named by
/// the provider family (`gemini`).
pub(crate) fn entry_native(e: &Value) -> Result<&Value, String> {
    ["body", "gemini", "native"]
        .iter()
        .find_map(|k| e.get(*k))
        .ok_or_else(|| format!("bundle entry {} has no native payload", e["name"]))
}

/// An OpenAI chat request body.
pub(crate) fn request_bytes(r: &str) -> Result<Vec<u8>, String> {
    match resolve(r)? {
        Fixture::File(p) => read(&p),
        Fixture::Entry(e) => Ok(serde_json::to_vec(&e["openai"]).unwrap()),
    }
}

/// A native 2xx chat body.
pub(crate) fn response_bytes(r: &str) -> Result<Vec<u8>, String> {
    match resolve(r)? {
        Fixture::File(p) => read(&p),
        Fixture::Entry(e) => Ok(serde_json::to_vec(entry_native(&e)?).unwrap()),
    }
}

/// Native stream bytes: `.sse` as recorded; `.json` a list of AWS event-stream
/// messages, encoded to the binary framing.
pub(crate) fn stream_bytes(r: &str) -> Result<Vec<u8>, String> {
    let Fixture::File(p) = resolve(r)? else {
        return Err(format!("{r}: streams are whole files"));
    };
    if p.extension().is_some_and(|e| e == "json") {
        let mut out = Vec::new();
        let events = read_json(&p)?;
        for e in events.as_array().ok_or(format!("{r}: not a list"))? {
            let payload = serde_json::to_vec(&e["payload"]).unwrap();
            match (e["event"].as_str(), e["exception"].as_str()) {
                (Some(t), _) => out.extend(eventstream::event(t, &payload)),
                (None, Some(t)) => out.extend(eventstream::exception(t, &payload)),
                _ => return Err(format!("{r}: message without event or exception")),
            }
        }
        Ok(out)
    } else {
        read(&p)
    }
}

/// A native error answer: `(status, body)`.
pub(crate) fn error_input(r: &str) -> Result<(u16, Vec<u8>), String> {
    let v = match resolve(r)? {
        Fixture::File(p) => read_json(&p)?,
        Fixture::Entry(e) => e,
    };
    let status = v["status"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .ok_or(format!("{r}: no status"))?;
    let body = match if v.get("body").is_some() {
        &v["body"]
    } else {
        entry_native(&v)?
    } {
        Value::String(s) => s.clone().into_bytes(),
        b => serde_json::to_vec(b).unwrap(),
    };
    Ok((status, body))
}
