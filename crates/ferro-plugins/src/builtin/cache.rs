//! `response-cache`: exact-match answers per API key. The key is the SHA-256 of
//! the caller's key id, the resolved model, whether a stream was asked for,
//! and the request body in canonical form (keys sorted; `model`, `stream`,
//! `stream_options` left out), so one credential's answer is never served to
//! another. Lookup at `before_request`, store at `after_request` (successful,
//! complete answers only; ★ streams too, replayed as SSE). Entries live
//! `max_age` seconds (0: until evicted), at most `max_entries` per instance
//! (oldest first out); with `REDIS_URL` they live in Redis with the same TTL,
//! and an unreachable Redis is a miss. Chat surface only.

use super::{BuildCtx, Builtin};
use crate::config::Conf;
use crate::context::{Ctx, Surface};
use crate::flight::{Cached, CachedBody, Outcome};
use crate::shared::Shared;
use crate::{Plugin, PluginResult, PluginType, Stage};
use async_trait::async_trait;
use bytes::Bytes;
use ferro_types::usage::TokenCounts;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(crate) const BUILTIN: Builtin = Builtin {
    name: "response-cache",
    kind: PluginType::Transform,
    summary: "Serves an identical request from the cache instead of calling a provider again (JSON and streamed answers), scoped to the API key that primed it; hits are marked X-Gateway-Cache: hit and priced at 0.",
    keys: &["max_age", "max_entries"],
    build,
};

type Key = [u8; 32];

struct Local {
    map: HashMap<Key, (Arc<Cached>, Option<Instant>)>,
    order: VecDeque<Key>,
}

struct Cache {
    ttl: Option<Duration>,
    max_entries: usize,
    local: Mutex<Local>,
    shared: Shared,
    ns: String,
    stores: bool,
}

fn build(c: &mut Conf<'_>, b: &BuildCtx<'_>) -> Option<Arc<dyn Plugin>> {
    let max_age = c.count("max_age").unwrap_or(300);
    let max_entries = c.count("max_entries").unwrap_or(1000);
    let stores = b.stages.contains(&Stage::AfterRequest);
    if !stores {
        c.warn(
            "max_age",
            "response-cache is not listed at after_request, so nothing is ever stored",
        );
    }
    Some(Arc::new(Cache {
        ttl: (max_age > 0).then(|| Duration::from_secs(max_age)),
        max_entries: usize::try_from(max_entries).unwrap_or(usize::MAX),
        local: Mutex::new(Local {
            map: HashMap::new(),
            order: VecDeque::new(),
        }),
        shared: b.shared.clone(),
        ns: format!("cache:{}", b.fingerprint),
        stores,
    }))
}

/// `v` with object keys sorted at every level (whatever the map order of
/// `serde_json`), as bytes.
pub(crate) fn canonical_json(v: &Value) -> Vec<u8> {
    fn write(v: &Value, out: &mut Vec<u8>) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push(b'{');
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(Value::String((*k).clone()).to_string().as_bytes());
                    out.push(b':');
                    if let Some(x) = m.get(*k) {
                        write(x, out);
                    }
                }
                out.push(b'}');
            }
            Value::Array(a) => {
                out.push(b'[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write(x, out);
                }
                out.push(b']');
            }
            other => out.extend_from_slice(other.to_string().as_bytes()),
        }
    }
    let mut out = Vec::new();
    write(v, &mut out);
    out
}

fn cache_key(ctx: &Ctx) -> Option<Key> {
    let body = ctx.body()?.as_object()?;
    let mut rest = body.clone();
    for k in ["model", "stream", "stream_options"] {
        rest.remove(k);
    }
    let m = ctx.meta();
    let mut h = Sha256::new();
    for part in [
        m.api_key_id.as_bytes(),
        m.model.as_bytes(),
        if m.stream { b"sse" } else { b"json" },
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.update(canonical_json(&Value::Object(rest)));
    Some(h.finalize().into())
}

/// The Redis form of an entry.
#[derive(Serialize, Deserialize)]
struct Stored {
    p: String,
    t: String,
    u: [u64; 6],
    #[serde(default, skip_serializing_if = "Option::is_none")]
    j: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    s: Option<Vec<String>>,
}

fn encode(c: &Cached) -> Option<String> {
    let u = &c.usage;
    let utf8 = |b: &Bytes| String::from_utf8(b.to_vec()).ok();
    let (j, s) = match &c.body {
        CachedBody::Json(b) => (Some(utf8(b)?), None),
        CachedBody::Sse(ev) => (None, Some(ev.iter().map(utf8).collect::<Option<Vec<_>>>()?)),
    };
    let stored = Stored {
        p: c.provider.clone(),
        t: c.target.clone(),
        u: [
            u.prompt,
            u.completion,
            u.total,
            u.cache_read,
            u.cache_write,
            u.reasoning,
        ],
        j,
        s,
    };
    serde_json::to_string(&stored).ok()
}

fn decode(text: &str) -> Option<Cached> {
    let s: Stored = serde_json::from_str(text).ok()?;
    let body = match (s.j, s.s) {
        (Some(j), None) => CachedBody::Json(Bytes::from(j)),
        (None, Some(ev)) => CachedBody::Sse(ev.into_iter().map(Bytes::from).collect()),
        _ => return None,
    };
    let [prompt, completion, total, cache_read, cache_write, reasoning] = s.u;
    Some(Cached {
        body,
        provider: s.p,
        target: s.t,
        usage: TokenCounts {
            prompt,
            completion,
            total,
            cache_read,
            cache_write,
            reasoning,
        },
    })
}

impl Cache {
    fn get_local(&self, key: &Key) -> Option<Arc<Cached>> {
        let mut l = self.local.lock().unwrap_or_else(|p| p.into_inner());
        match l.map.get(key) {
            Some((c, exp)) if exp.is_none_or(|e| Instant::now() < e) => Some(c.clone()),
            Some(_) => {
                l.map.remove(key);
                None
            }
            None => None,
        }
    }

    fn put_local(&self, key: Key, c: Arc<Cached>) {
        if self.max_entries == 0 {
            return;
        }
        let mut l = self.local.lock().unwrap_or_else(|p| p.into_inner());
        let exp = self.ttl.map(|t| Instant::now() + t);
        if l.map.insert(key, (c, exp)).is_none() {
            l.order.push_back(key);
        }
        while l.map.len() > self.max_entries {
            match l.order.pop_front() {
                Some(old) => {
                    l.map.remove(&old);
                }
                None => break,
            }
        }
    }

    fn redis_key(&self, r: &crate::shared::Redis, key: &Key) -> String {
        r.key(&[&self.ns, &hex::encode(key)])
    }
}

#[async_trait]
impl Plugin for Cache {
    fn name(&self) -> &'static str {
        BUILTIN.name
    }
    fn kind(&self) -> PluginType {
        BUILTIN.kind
    }
    fn stages(&self) -> &'static [Stage] {
        &[Stage::BeforeRequest, Stage::AfterRequest]
    }
    async fn on_request(&self, ctx: &mut Ctx) -> PluginResult {
        if ctx.meta().surface != Surface::Chat {
            return Ok(());
        }
        let Some(key) = cache_key(ctx) else {
            return Ok(());
        };
        ctx.set_slot(key);
        let hit = match self.shared.redis() {
            Some(r) => {
                let cmd = redis::cmd("GET").arg(self.redis_key(r, &key)).clone();
                match r.cmd::<Option<String>>(&cmd).await {
                    Ok(v) => v.as_deref().and_then(decode).map(Arc::new),
                    Err(_) => self.get_local(&key),
                }
            }
            None => self.get_local(&key),
        };
        if let Some(hit) = hit {
            ctx.set_cache_hit(hit);
        }
        Ok(())
    }

    fn has_log_hook(&self) -> bool {
        true
    }
    async fn on_log(&self, ctx: &mut Ctx, outcome: &Outcome) -> PluginResult {
        let Some(key) = ctx.take_slot::<Key>() else {
            return Ok(());
        };
        let Some(c) = outcome.cacheable.as_ref().filter(|_| self.stores) else {
            return Ok(());
        };
        if outcome.status != 200 || outcome.cache_hit {
            return Ok(());
        }
        let c = Arc::new(c.clone());
        if let Some(r) = self.shared.redis() {
            if let Some(text) = encode(&c) {
                let mut cmd = redis::cmd("SET");
                cmd.arg(self.redis_key(r, &key)).arg(text);
                if let Some(t) = self.ttl {
                    cmd.arg("PX").arg(t.as_millis() as u64);
                }
                if r.cmd::<()>(&cmd).await.is_ok() {
                    return Ok(());
                }
            }
        }
        self.put_local(key, c);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::builtin::testing::*;
    use serde_json::json;

    fn answer_of(text: &str) -> Cached {
        Cached {
            body: CachedBody::Json(Bytes::from(format!("{{\"text\":\"{text}\"}}"))),
            provider: "mock".into(),
            target: "mock".into(),
            usage: TokenCounts::default(),
        }
    }

    fn stored(c: Cached) -> Outcome {
        Outcome {
            status: 200,
            cacheable: Some(c),
            ..Outcome::default()
        }
    }

    #[tokio::test]
    async fn hits_are_per_key_and_exact() {
        let p = plugin("response-cache", json!({"max_age": 60, "max_entries": 2}));
        let body = json!({"model": "gpt-4o-mini", "temperature": 0.5, "messages": [{"role": "user", "content": "hi"}]});
        let mut first = ctx_as(Surface::Chat, "alice", body.clone());
        p.on_request(&mut first).await.unwrap();
        assert!(first.cache_hit().is_none());
        p.on_log(&mut first, &stored(answer_of("one")))
            .await
            .unwrap();
        // Same request, keys in another order: a hit.
        let reordered = json!({"messages": [{"content": "hi", "role": "user"}], "temperature": 0.5, "model": "gpt-4o-mini", "stream": false});
        let mut again = ctx_as(Surface::Chat, "alice", reordered);
        p.on_request(&mut again).await.unwrap();
        assert_eq!(
            again.cache_hit().map(|c| c.as_ref().clone()),
            Some(answer_of("one"))
        );
        let mut other_key = ctx_as(Surface::Chat, "bob", body.clone());
        p.on_request(&mut other_key).await.unwrap();
        assert!(other_key.cache_hit().is_none(), "never across keys");
        let mut warmer = ctx_as(
            Surface::Chat,
            "alice",
            json!({"model": "gpt-4o-mini", "temperature": 0.9, "messages": [{"role": "user", "content": "hi"}]}),
        );
        p.on_request(&mut warmer).await.unwrap();
        assert!(warmer.cache_hit().is_none(), "other parameters miss");
    }

    #[test]
    fn redis_form_round_trips() {
        let c = Cached {
            body: CachedBody::Sse(vec![
                Bytes::from_static(b"{\"a\":1}"),
                Bytes::from_static(b"[DONE]"),
            ]),
            provider: "p".into(),
            target: "t".into(),
            usage: TokenCounts {
                prompt: 1,
                completion: 2,
                total: 3,
                ..TokenCounts::default()
            },
        };
        assert_eq!(decode(&encode(&c).unwrap()), Some(c));
        assert_eq!(
            canonical_json(&json!({"b": [1, {"d": 1, "c": 2}], "a": "x"})),
            br#"{"a":"x","b":[1,{"c":2,"d":1}]}"#.to_vec()
        );
    }

    #[test]
    fn eviction_keeps_max_entries() {
        let p = Cache {
            ttl: None,
            max_entries: 2,
            local: Mutex::new(Local {
                map: HashMap::new(),
                order: VecDeque::new(),
            }),
            shared: Shared::local(None),
            ns: "x".into(),
            stores: true,
        };
        for i in 0..5u8 {
            p.put_local([i; 32], Arc::new(answer_of("x")));
        }
        assert!(p.get_local(&[0; 32]).is_none());
        assert!(p.get_local(&[4; 32]).is_some());
    }
}
