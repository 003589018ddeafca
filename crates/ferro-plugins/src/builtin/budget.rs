//! `budget`: a USD spend limit per API key, ★ reserve-then-settle. Before the
//! call the request's estimated cost (prompt estimate × input price + declared
//! ceiling, or [`DEFAULT_COMPLETION_ESTIMATE`] tokens, × output price) is
//! reserved — admitted only while committed spend plus in-flight reservations
//! is under the limit — and when the request is over the reservation is
//! replaced by the actual cost of its usage. Concurrent requests therefore
//! cannot overspend by more than one in-flight estimate. Spend survives
//! restarts (journal under `FERRO_DATA_DIR`, or Redis with `REDIS_URL`; Redis
//! reservations expire after [`RESERVATION_TTL_MS`] should an instance die).

use super::budget_store::LocalBudget;
use super::{BuildCtx, Builtin};
use crate::config::Conf;
use crate::context::Ctx;
use crate::error::{Deny, PluginError};
use crate::flight::Outcome;
use crate::shared::{count_fallback, FailMode, Shared};
use crate::{Plugin, PluginResult, PluginType, Stage};
use async_trait::async_trait;
use ferro_types::catalog::Pricing;
use ferro_types::cost::{cost_usd, CostKind};
use ferro_types::usage::TokenCounts;
use sha2::{Digest, Sha256};
use std::sync::{Arc, OnceLock};

pub(crate) const BUILTIN: Builtin = Builtin {
    name: "budget",
    kind: PluginType::RateLimit,
    summary: "Reserves each request's estimated cost per API key before the call and settles it on actual usage, refusing requests once the configured USD budget is spent; spend persists across restarts and is shared through Redis when REDIS_URL is set.",
    keys: &[
        "spend_limit_usd",
        "input_per_m_tokens",
        "output_per_m_tokens",
        "cache_read_per_m_tokens",
        "cache_write_per_m_tokens",
        "max_keys",
        "store_id",
    ],
    build,
};

/// Completion tokens assumed when a request declares no ceiling.
pub const DEFAULT_COMPLETION_ESTIMATE: u64 = 1024;
/// Lifetime of a Redis reservation whose request never settled.
pub const RESERVATION_TTL_MS: u64 = 10 * 60 * 1000;

const RESERVE_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0') or 0
local held = 0
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  local v = all[i + 1]
  local sep = string.find(v, ':', 1, true)
  local amount, expires = tonumber(string.sub(v, 1, sep - 1)), tonumber(string.sub(v, sep + 1))
  if expires < now then redis.call('HDEL', KEYS[2], all[i]) else held = held + amount end
end
if spent + held >= tonumber(ARGV[1]) then return {0, tostring(spent)} end
redis.call('HSET', KEYS[2], ARGV[3], ARGV[2] .. ':' .. tostring(now + tonumber(ARGV[4])))
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[4]))
return {1, tostring(spent)}
";

const SETTLE_LUA: &str = r"
redis.call('HDEL', KEYS[2], ARGV[1])
if tonumber(ARGV[2]) > 0 then redis.call('HINCRBYFLOAT', KEYS[1], 'spent', ARGV[2]) end
return 1
";

fn script(lua: &'static str, cell: &'static OnceLock<redis::Script>) -> &'static redis::Script {
    cell.get_or_init(|| redis::Script::new(lua))
}
static RESERVE: OnceLock<redis::Script> = OnceLock::new();
static SETTLE: OnceLock<redis::Script> = OnceLock::new();

struct Budget {
    limit: f64,
    pricing: Pricing,
    store_id: String,
    store: Arc<LocalBudget>,
    shared: Shared,
    /// Listed at `after_request`: records spend even without a reservation.
    records: bool,
}

/// What `on_request` reserved.
struct Hold {
    amount: f64,
    /// Redis reservation id, when it was made there.
    redis_id: Option<String>,
}

fn build(c: &mut Conf<'_>, b: &BuildCtx<'_>) -> Option<Arc<dyn Plugin>> {
    let limit = c.non_neg("spend_limit_usd").unwrap_or(0.0);
    let input = c.non_neg("input_per_m_tokens").unwrap_or(0.0);
    let output = c.non_neg("output_per_m_tokens").unwrap_or(0.0);
    let pricing = Pricing {
        input_per_m_tokens: Some(input),
        output_per_m_tokens: Some(output),
        cache_read_per_m_tokens: c.non_neg("cache_read_per_m_tokens"),
        cache_write_per_m_tokens: c.non_neg("cache_write_per_m_tokens"),
        ..Pricing::default()
    };
    let max_keys = c.count("max_keys").unwrap_or(10_000);
    let store_id = c
        .string("store_id")
        .filter(|s| !s.trim().is_empty())
        .unwrap_or("default")
        .to_owned();
    if limit > 0.0 && input == 0.0 && output == 0.0 {
        c.err(
            "spend_limit_usd",
            "is set but input_per_m_tokens and output_per_m_tokens are both 0, so no request would ever cost anything",
        );
    }
    let store = match b.shared.budget_store(&store_id) {
        Ok(s) => s,
        Err(e) => {
            c.err("store_id", e);
            return None;
        }
    };
    store.set_max_keys(usize::try_from(max_keys).unwrap_or(usize::MAX));
    Some(Arc::new(Budget {
        limit,
        pricing,
        store_id,
        store,
        shared: b.shared.clone(),
        records: b.stages.contains(&Stage::AfterRequest),
    }))
}

fn key_digest(k: &str) -> String {
    hex::encode(&Sha256::digest(k.as_bytes())[..12])
}

/// A reservation id unique across instances and requests.
fn fresh_id() -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let h = Sha256::digest(format!("{}:{nanos}:{n}", std::process::id()).as_bytes());
    hex::encode(&h[..12])
}

impl Budget {
    fn cost(&self, usage: &TokenCounts) -> f64 {
        cost_usd(&self.pricing, CostKind::Chat, usage).unwrap_or(0.0)
    }

    fn estimate(&self, ctx: &Ctx) -> f64 {
        let completion = ctx
            .declared_max_tokens()
            .unwrap_or(DEFAULT_COMPLETION_ESTIMATE);
        self.cost(&TokenCounts {
            prompt: ctx.est_prompt_tokens(),
            completion,
            ..TokenCounts::default()
        })
    }

    fn redis_keys(&self, r: &crate::shared::Redis, key: &str) -> (String, String) {
        let base = r.key(&["budget", &self.store_id, &key_digest(key)]);
        let res = format!("{base}:res");
        (base, res)
    }

    fn exhausted(&self, spent: f64) -> PluginError {
        PluginError::Deny(Deny::Quota(format!(
            "budget exceeded: spent ${spent:.4} of ${:.2} limit",
            self.limit
        )))
    }

    /// Reserves in Redis: `Ok(None)` when Redis is unreachable and the fail
    /// mode is open.
    async fn reserve_redis(&self, key: &str, amount: f64) -> Result<Option<Hold>, PluginError> {
        let Some(r) = self.shared.redis() else {
            return Ok(None);
        };
        let (base, res) = self.redis_keys(r, key);
        let id = fresh_id();
        let args = [
            self.limit.to_string(),
            amount.to_string(),
            id.clone(),
            RESERVATION_TTL_MS.to_string(),
        ];
        match r
            .script::<Vec<String>>(script(RESERVE_LUA, &RESERVE), &[&base, &res], &args)
            .await
        {
            Ok(v) if v.first().map(String::as_str) == Some("1") => Ok(Some(Hold {
                amount,
                redis_id: Some(id),
            })),
            Ok(v) => {
                let spent = v.get(1).and_then(|s| s.parse().ok()).unwrap_or(self.limit);
                Err(self.exhausted(spent))
            }
            Err(_) => match r.mode() {
                FailMode::Open => {
                    count_fallback();
                    Ok(None)
                }
                FailMode::Closed => Err(PluginError::Failed(
                    "budget state (Redis) is unreachable".to_owned(),
                )),
            },
        }
    }

    async fn settle_redis(&self, key: &str, id: &str, actual: f64) -> bool {
        let Some(r) = self.shared.redis() else {
            return false;
        };
        let (base, res) = self.redis_keys(r, key);
        let args = [id.to_owned(), actual.to_string()];
        r.script::<i64>(script(SETTLE_LUA, &SETTLE), &[&base, &res], &args)
            .await
            .is_ok()
    }
}

#[async_trait]
impl Plugin for Budget {
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
        let key = ctx.meta().api_key_id.clone();
        if key.is_empty() || self.limit <= 0.0 {
            return Ok(());
        }
        let amount = self.estimate(ctx);
        let hold = match self.reserve_redis(&key, amount).await? {
            Some(h) => h,
            None => {
                self.store
                    .reserve(&key, self.limit, amount)
                    .map_err(PluginError::Failed)?
                    .map_err(|spent| self.exhausted(spent))?;
                Hold {
                    amount,
                    redis_id: None,
                }
            }
        };
        ctx.set_slot(hold);
        Ok(())
    }

    fn has_log_hook(&self) -> bool {
        true
    }
    async fn on_log(&self, ctx: &mut Ctx, outcome: &Outcome) -> PluginResult {
        let key = ctx.meta().api_key_id.clone();
        if key.is_empty() {
            return Ok(());
        }
        let hold = ctx.take_slot::<Hold>();
        let actual = match (&outcome.usage, outcome.cache_hit) {
            (_, true) => 0.0,
            (Some(u), _) => self.cost(u),
            // The client went away mid-answer: the provider billed something.
            (None, _) if outcome.delivered => hold.as_ref().map_or(0.0, |h| h.amount),
            (None, _) => 0.0,
        };
        match hold {
            Some(Hold {
                redis_id: Some(id), ..
            }) if !self.settle_redis(&key, &id, actual).await => {
                // The Redis reservation expires on its own; keep the spend here.
                self.store.settle(&key, 0.0, actual);
            }
            Some(Hold {
                redis_id: Some(_), ..
            }) => {}
            Some(Hold {
                amount,
                redis_id: None,
            }) => self.store.settle(&key, amount, actual),
            None if self.records && actual > 0.0 => {
                let recorded = match self.shared.redis() {
                    Some(r) => {
                        let (base, _) = self.redis_keys(r, &key);
                        let cmd = redis::cmd("HINCRBYFLOAT")
                            .arg(&base)
                            .arg("spent")
                            .arg(actual.to_string())
                            .clone();
                        r.cmd::<String>(&cmd).await.is_ok()
                    }
                    None => false,
                };
                if !recorded {
                    self.store.settle(&key, 0.0, actual);
                }
            }
            None => {}
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::builtin::testing::*;
    use crate::error::{Deny, PluginError};
    use crate::flight::Outcome;
    use crate::shared::Shared;
    use ferro_types::usage::TokenCounts;
    use serde_json::json;

    fn cfg() -> serde_json::Value {
        // $1 per million tokens in and out: 1000 tokens cost $0.001.
        json!({"spend_limit_usd": 0.002, "input_per_m_tokens": 1.0, "output_per_m_tokens": 1.0, "store_id": "t"})
    }

    fn used(n: u64) -> Outcome {
        Outcome {
            status: 200,
            usage: Some(TokenCounts {
                prompt: n,
                completion: 0,
                total: n,
                ..TokenCounts::default()
            }),
            ..Outcome::default()
        }
    }

    #[tokio::test]
    async fn reserve_then_settle() {
        let dir = tempfile::tempdir().unwrap();
        let shared = Shared::local(Some(dir.path().to_path_buf()));
        let p = plugin_with("budget", cfg(), &shared);
        let small = json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
        let mut a = ctx_for(small.clone());
        p.on_request(&mut a).await.unwrap();
        p.on_log(&mut a, &used(1500)).await.unwrap();
        let mut b = ctx_for(small.clone());
        p.on_request(&mut b).await.unwrap();
        p.on_log(&mut b, &used(1000)).await.unwrap();
        let e = p.on_request(&mut ctx_for(small.clone())).await.unwrap_err();
        assert!(
            matches!(e, PluginError::Deny(Deny::Quota(ref m)) if m.contains("spent $0.0025")),
            "{e:?}"
        );
        // A new store over the same directory sees the spend (restart, after
        // the shutdown flush; spend settled meanwhile is only buffered).
        shared.flush();
        let again = plugin_with(
            "budget",
            cfg(),
            &Shared::local(Some(dir.path().to_path_buf())),
        );
        assert!(again.on_request(&mut ctx_for(small)).await.is_err());
    }

    #[tokio::test]
    async fn in_flight_reservations_block_concurrent_overspend() {
        let p = plugin("budget", cfg());
        // Each reservation: ~25 prompt + 1024 completion tokens ≈ $0.00105.
        let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        let mut held = Vec::new();
        for _ in 0..10 {
            let mut c = ctx_for(body.clone());
            if p.on_request(&mut c).await.is_ok() {
                held.push(c);
            }
        }
        assert_eq!(held.len(), 2, "only two estimates fit under the limit");
        for mut c in held {
            p.on_log(
                &mut c,
                &Outcome {
                    status: 499,
                    ..Outcome::default()
                },
            )
            .await
            .unwrap();
        }
        assert!(
            p.on_request(&mut ctx_for(body)).await.is_ok(),
            "released reservations free the budget"
        );
        assert!(build_err("budget", json!({"spend_limit_usd": 1})).contains("both 0"));
    }
}
