//! Request recording and hit counting.
//!
//! Hits are an atomic counter plus a small per-path map (locked briefly,
//! never across an await, no allocation once a path has been seen).
//! Recording clones method/path/headers and keeps the body `Bytes`
//! (a refcount bump); with `record: false` it is skipped entirely.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use serde::Serialize;

/// One request as the mock received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path including the query string, e.g. `/v1/chat/completions?x=1`.
    pub path: String,
    /// Headers in received order; names are lowercase.
    pub headers: Vec<(String, String)>,
    /// Raw request body.
    pub body: Bytes,
}

impl RecordedRequest {
    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn body_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The body as (lossy) UTF-8 text.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn from_parts(parts: &http::request::Parts, body: &Bytes) -> Self {
        let path = parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
        let headers = parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        RecordedRequest {
            method: parts.method.as_str().to_owned(),
            path,
            headers,
            body: body.clone(),
        }
    }
}

/// Hit counters and (optionally) the request log.
pub(crate) struct Recorder {
    enabled: bool,
    hits: AtomicUsize,
    by_path: Mutex<HashMap<String, usize>>,
    log: Mutex<Vec<RecordedRequest>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Recorder {
    pub(crate) fn new(enabled: bool) -> Self {
        Recorder {
            enabled,
            hits: AtomicUsize::new(0),
            by_path: Mutex::new(HashMap::new()),
            log: Mutex::new(Vec::new()),
        }
    }

    /// Count one request on `path` (no query) and record it if enabled.
    pub(crate) fn observe(&self, parts: &http::request::Parts, body: &Bytes) {
        self.hits.fetch_add(1, Ordering::Relaxed);
        let path = parts.uri.path();
        {
            let mut map = lock(&self.by_path);
            match map.get_mut(path) {
                Some(n) => *n += 1,
                None => {
                    map.insert(path.to_owned(), 1);
                }
            }
        }
        if self.enabled {
            let rec = RecordedRequest::from_parts(parts, body);
            lock(&self.log).push(rec);
        }
    }

    pub(crate) fn hits(&self) -> usize {
        self.hits.load(Ordering::Relaxed)
    }

    pub(crate) fn hits_for(&self, path: &str) -> usize {
        let path = path.split_once('?').map_or(path, |(p, _)| p);
        lock(&self.by_path).get(path).copied().unwrap_or(0)
    }

    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.log).clone()
    }

    pub(crate) fn last(&self) -> Option<RecordedRequest> {
        lock(&self.log).last().cloned()
    }

    pub(crate) fn clear(&self) {
        lock(&self.log).clear();
        lock(&self.by_path).clear();
        self.hits.store(0, Ordering::Relaxed);
    }

    /// The log as JSON: `[{"method","path","headers":[[k,v],..],"body"}]`
    /// with the body as lossy UTF-8 text.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct View<'a> {
            method: &'a str,
            path: &'a str,
            headers: &'a [(String, String)],
            body: std::borrow::Cow<'a, str>,
        }
        let log = lock(&self.log);
        let views: Vec<View<'_>> = log
            .iter()
            .map(|r| View {
                method: &r.method,
                path: &r.path,
                headers: &r.headers,
                body: String::from_utf8_lossy(&r.body),
            })
            .collect();
        serde_json::to_vec(&views).unwrap_or_else(|_| b"[]".to_vec())
    }
}
