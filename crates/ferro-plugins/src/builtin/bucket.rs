//! Token buckets, in memory and in Redis, with one semantics: a bucket holds
//! up to `burst` tokens and refills at `rate` per second; a request is
//! admitted when **every** bucket it touches holds at least one token, and
//! then each is debited its cost (a token estimate may drive a bucket into
//! debt, which later requests wait out). Check-all-then-debit-all is one
//! critical section (a mutex here, one Lua script in Redis), so concurrent
//! requests can never both take the last token, and a request refused by one
//! bucket takes nothing from the others.

use std::borrow::Cow;
use std::collections::HashMap;

/// Bucket keys are the gateway's own (namespaces, key ids, digests): a fast hasher.
type Map = HashMap<String, Bucket, foldhash::fast::RandomState>;
use std::sync::Mutex;
use std::time::Instant;

/// A bucket's shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Spec {
    /// Tokens per second.
    pub(crate) rate: f64,
    /// Capacity.
    pub(crate) burst: f64,
}

/// One bucket to check and debit.
#[derive(Debug, Clone)]
pub(crate) struct Take<'a> {
    /// Borrowed when the key is fixed (a plugin's global bucket).
    pub(crate) key: Cow<'a, str>,
    pub(crate) spec: Spec,
    pub(crate) cost: f64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn level(&self, spec: Spec, now: Instant) -> f64 {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        (self.tokens + dt * spec.rate).min(spec.burst)
    }
}

/// In-memory buckets of one plugin instance.
pub(crate) struct LocalBuckets {
    map: Mutex<Map>,
    max_keys: usize,
}

/// Refused: (index of the refusing take, seconds until it would admit).
pub(crate) type Refusal = (usize, f64);

impl LocalBuckets {
    pub(crate) fn new(max_keys: usize) -> Self {
        LocalBuckets {
            map: Mutex::new(Map::default()),
            max_keys,
        }
    }

    pub(crate) fn take(&self, takes: &[Take<'_>]) -> Result<(), Refusal> {
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let mut levels = Vec::with_capacity(takes.len());
        let mut refusal: Option<Refusal> = None;
        for (i, t) in takes.iter().enumerate() {
            let level = map
                .get(t.key.as_ref())
                .map_or(t.spec.burst, |b| b.level(t.spec, now));
            if level < 1.0 {
                let wait = (1.0 - level) / t.spec.rate;
                if refusal.is_none_or(|(_, w)| wait > w) {
                    refusal = Some((i, wait));
                }
            }
            levels.push(level);
        }
        if let Some(r) = refusal {
            return Err(r);
        }
        if map.len() + takes.len() > self.max_keys {
            evict(&mut map, now, self.max_keys, takes);
        }
        for (t, level) in takes.iter().zip(levels) {
            let bucket = Bucket {
                tokens: level - t.cost,
                at: now,
            };
            // an existing bucket is updated in place: no key copy per request
            match map.get_mut(t.key.as_ref()) {
                Some(b) => *b = bucket,
                None => {
                    map.insert(t.key.to_string(), bucket);
                }
            }
        }
        Ok(())
    }

    /// Credits (or debits, when negative) `delta` tokens to `key`.
    pub(crate) fn adjust(&self, key: &str, spec: Spec, delta: f64) {
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = map.get_mut(key) {
            b.tokens = (b.level(spec, now) + delta).min(spec.burst);
            b.at = now;
        }
    }
}

/// Keeps the map under `max`: buckets that have been idle long enough to be
/// full again carry no state and go first; then the longest idle.
fn evict(map: &mut Map, now: Instant, max: usize, keep: &[Take<'_>]) {
    let idle = |b: &Bucket| now.saturating_duration_since(b.at);
    map.retain(|_, b| idle(b).as_secs() < 60);
    while map.len() + keep.len() > max {
        let oldest = map
            .iter()
            .filter(|(k, _)| !keep.iter().any(|t| t.key == k.as_str()))
            .max_by_key(|(_, b)| idle(b))
            .map(|(k, _)| k.clone());
        match oldest {
            Some(k) => {
                map.remove(&k);
            }
            None => break,
        }
    }
}

/// The Redis side of [`LocalBuckets::take`]: KEYS are the buckets, ARGV
/// `rate, burst, cost` per key. Returns `{1}` or `{0, wait, index}` (1-based).
pub(crate) const TAKE_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local levels = {}
local wait, worst = 0, 0
for i = 1, #KEYS do
  local rate, burst = tonumber(ARGV[3*i-2]), tonumber(ARGV[3*i-1])
  local v = redis.call('HMGET', KEYS[i], 'tk', 'ts')
  local tk, ts = tonumber(v[1]), tonumber(v[2])
  if tk == nil or ts == nil then tk = burst; ts = now end
  tk = math.min(burst, tk + math.max(0, now - ts) * rate)
  levels[i] = tk
  if tk < 1 then
    local w = (1 - tk) / rate
    if w > wait then wait = w; worst = i end
  end
end
if worst > 0 then return {0, tostring(wait), worst} end
for i = 1, #KEYS do
  local rate, burst, cost = tonumber(ARGV[3*i-2]), tonumber(ARGV[3*i-1]), tonumber(ARGV[3*i])
  redis.call('HSET', KEYS[i], 'tk', tostring(levels[i] - cost), 'ts', tostring(now))
  redis.call('PEXPIRE', KEYS[i], math.ceil((burst + math.max(cost, 1)) / rate * 1000) + 1000)
end
return {1}
";

/// Credits `delta` tokens (ARGV: rate, burst, delta) to one bucket.
pub(crate) const ADJUST_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst, delta = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local v = redis.call('HMGET', KEYS[1], 'tk', 'ts')
local tk, ts = tonumber(v[1]), tonumber(v[2])
if tk == nil or ts == nil then return 0 end
tk = math.min(burst, tk + math.max(0, now - ts) * rate + delta)
redis.call('HSET', KEYS[1], 'tk', tostring(tk), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(math.max(burst - tk, 1) / rate * 1000) + 1000)
return 1
";

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn take(key: &str, rate: f64, burst: f64, cost: f64) -> Take<'static> {
        Take {
            key: Cow::Owned(key.to_owned()),
            spec: Spec { rate, burst },
            cost,
        }
    }

    #[test]
    fn all_or_nothing() {
        let b = LocalBuckets::new(100);
        let g = take("g", 0.001, 3.0, 1.0);
        let k = take("k", 0.001, 1.0, 1.0);
        assert!(b.take(&[g.clone(), k.clone()]).is_ok());
        let (idx, wait) = b.take(&[g.clone(), k.clone()]).unwrap_err();
        assert_eq!(idx, 1);
        assert!(wait > 100.0);
        // The refused request took nothing from the global bucket.
        assert!(b.take(std::slice::from_ref(&g)).is_ok());
        assert!(b.take(std::slice::from_ref(&g)).is_ok());
        assert!(b.take(&[g]).is_err());
    }

    #[test]
    fn debt_and_adjust() {
        let b = LocalBuckets::new(100);
        let t = take("t", 1.0, 100.0, 150.0);
        assert!(
            b.take(std::slice::from_ref(&t)).is_ok(),
            "one token available admits"
        );
        assert!(b.take(std::slice::from_ref(&t)).is_err(), "in debt");
        b.adjust("t", t.spec, 100.0);
        assert!(b.take(&[t]).is_ok(), "settled below the estimate");
    }

    #[test]
    fn eviction_keeps_the_cap() {
        let b = LocalBuckets::new(3);
        for i in 0..10 {
            assert!(b.take(&[take(&format!("k{i}"), 1.0, 1.0, 1.0)]).is_ok());
        }
        let len = b.map.lock().map(|m| m.len()).unwrap_or(0);
        assert!(len <= 3, "{len}");
    }
}
