//! `rate-limit`: token buckets over the whole gateway (`requests_per_second` /
//! `burst`), per API key (`key_rpm`), per end user (`user_rpm`, the body's
//! `user`) and ★ tokens per API key (`key_tpm`: the estimate is reserved
//! before the call and settled on the actual usage). In memory, or in Redis
//! when `REDIS_URL` is set (see [`crate::shared`]).

use super::bucket::{LocalBuckets, Spec, Take, ADJUST_LUA, TAKE_LUA};
use super::{BuildCtx, Builtin};
use crate::config::Conf;
use crate::context::Ctx;
use crate::error::{Deny, PluginError};
use crate::flight::Outcome;
use crate::shared::{count_fallback, FailMode, Shared};
use crate::{Plugin, PluginResult, PluginType, Stage};
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

pub(crate) const BUILTIN: Builtin = Builtin {
    name: "rate-limit",
    kind: PluginType::RateLimit,
    summary: "Bounds request rate globally and per API key or user, and tokens per minute per API key (reserved before the call, settled on actual usage), independently of the per-IP HTTP limiter; shared across instances through Redis when REDIS_URL is set.",
    keys: &["requests_per_second", "burst", "key_rpm", "user_rpm", "key_tpm"],
    build,
};

/// Go's default when `requests_per_second` is absent.
const DEFAULT_RPS: f64 = 100.0;
const MAX_KEYS: usize = 100_000;

fn take_script() -> &'static redis::Script {
    static S: OnceLock<redis::Script> = OnceLock::new();
    S.get_or_init(|| redis::Script::new(TAKE_LUA))
}

fn adjust_script() -> &'static redis::Script {
    static S: OnceLock<redis::Script> = OnceLock::new();
    S.get_or_init(|| redis::Script::new(ADJUST_LUA))
}

struct RateLimit {
    global: Spec,
    key: Option<Spec>,
    user: Option<Spec>,
    tpm: Option<Spec>,
    local: LocalBuckets,
    shared: Shared,
    /// Key namespace of this (name, config).
    ns: String,
    /// `<ns>:g`, the global bucket's key (built once).
    global_key: String,
}

/// What `on_request` reserved for `key_tpm`, settled in `on_log`.
struct TpmHold {
    key: String,
    estimate: f64,
    in_redis: bool,
}

fn per_minute(c: &mut Conf<'_>, key: &str) -> Option<Spec> {
    let rpm = c.positive(key)?;
    Some(Spec {
        rate: rpm / 60.0,
        burst: rpm,
    })
}

fn build(c: &mut Conf<'_>, b: &BuildCtx<'_>) -> Option<Arc<dyn Plugin>> {
    let rate = c.positive("requests_per_second").unwrap_or(DEFAULT_RPS);
    let burst = match c.positive("burst") {
        Some(v) if v < 1.0 => {
            c.err("burst", "must be at least 1");
            rate
        }
        Some(v) => v,
        None => rate.max(1.0),
    };
    let ns = format!("rl:{}", b.fingerprint);
    Some(Arc::new(RateLimit {
        global: Spec { rate, burst },
        key: per_minute(c, "key_rpm"),
        user: per_minute(c, "user_rpm"),
        tpm: per_minute(c, "key_tpm"),
        local: LocalBuckets::new(MAX_KEYS),
        shared: b.shared.clone(),
        global_key: format!("{ns}:g"),
        ns,
    }))
}

fn digest(s: &str) -> String {
    hex::encode(&Sha256::digest(s.as_bytes())[..12])
}

const REASONS: [&str; 4] = [
    "rate limit exceeded",
    "per-key rate limit exceeded",
    "per-user rate limit exceeded",
    "per-key token rate limit exceeded",
];

impl RateLimit {
    /// The buckets this request touches, with the reason each one gives.
    fn takes(&self, ctx: &Ctx) -> (Vec<Take<'_>>, Vec<&'static str>, Option<f64>) {
        let mut takes = vec![Take {
            key: Cow::Borrowed(&self.global_key),
            spec: self.global,
            cost: 1.0,
        }];
        let mut reasons = vec![REASONS[0]];
        let key = &ctx.meta().api_key_id;
        // Key ids are the gateway's own (a stored key's id, `master-key:<hex>`):
        // short and not secret, so they name buckets as they are.
        if let (Some(spec), false) = (self.key, key.is_empty()) {
            takes.push(Take {
                key: Cow::Owned(format!("{}:k:{key}", self.ns)),
                spec,
                cost: 1.0,
            });
            reasons.push(REASONS[1]);
        }
        // `user` is read (and the body parsed) only when a per-user limit is set.
        if let Some((spec, user)) = self
            .user
            .and_then(|spec| Some((spec, ctx.field_str("user").filter(|u| !u.is_empty())?)))
        {
            takes.push(Take {
                key: Cow::Owned(format!("{}:u:{}", self.ns, digest(user))),
                spec,
                cost: 1.0,
            });
            reasons.push(REASONS[2]);
        }
        let mut estimate = None;
        if let (Some(spec), false) = (self.tpm, key.is_empty()) {
            let est = (ctx.est_prompt_tokens() + ctx.declared_max_tokens().unwrap_or(0)) as f64;
            takes.push(Take {
                key: Cow::Owned(format!("{}:t:{key}", self.ns)),
                spec,
                cost: est,
            });
            reasons.push(REASONS[3]);
            estimate = Some(est);
        }
        (takes, reasons, estimate)
    }

    /// Takes from Redis; `Ok(None)` when Redis is unreachable.
    async fn take_redis(
        &self,
        takes: &[Take<'_>],
    ) -> Result<Option<Result<(), (usize, f64)>>, PluginError> {
        let Some(r) = self.shared.redis() else {
            return Ok(None);
        };
        let keys: Vec<String> = takes.iter().map(|t| r.key(&[&t.key])).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let mut args = Vec::with_capacity(takes.len() * 3);
        for t in takes {
            args.extend([
                t.spec.rate.to_string(),
                t.spec.burst.to_string(),
                t.cost.to_string(),
            ]);
        }
        match r.script::<Vec<String>>(take_script(), &keys, &args).await {
            Ok(v) if v.first().map(String::as_str) == Some("1") => Ok(Some(Ok(()))),
            Ok(v) => {
                let wait = v.get(1).and_then(|w| w.parse::<f64>().ok()).unwrap_or(1.0);
                let idx = v.get(2).and_then(|i| i.parse::<usize>().ok()).unwrap_or(1);
                Ok(Some(Err((idx.saturating_sub(1), wait))))
            }
            Err(_) => match r.mode() {
                FailMode::Open => {
                    count_fallback();
                    Ok(None)
                }
                FailMode::Closed => Err(PluginError::Failed(
                    "rate-limit state (Redis) is unreachable".to_owned(),
                )),
            },
        }
    }
}

#[async_trait]
impl Plugin for RateLimit {
    fn name(&self) -> &'static str {
        BUILTIN.name
    }
    fn kind(&self) -> PluginType {
        BUILTIN.kind
    }
    fn stages(&self) -> &'static [Stage] {
        &[Stage::BeforeRequest]
    }
    async fn on_request(&self, ctx: &mut Ctx) -> PluginResult {
        let (takes, reasons, estimate) = self.takes(ctx);
        let (verdict, in_redis) = match self.take_redis(&takes).await? {
            Some(v) => (v, true),
            None => (self.local.take(&takes), false),
        };
        if let Err((idx, wait)) = verdict {
            return Err(PluginError::Deny(Deny::RateLimited {
                reason: reasons.get(idx).copied().unwrap_or(REASONS[0]).to_owned(),
                retry_after: wait.ceil().max(1.0) as u64,
            }));
        }
        if let (Some(estimate), Some(t)) = (estimate, takes.last()) {
            ctx.set_slot(TpmHold {
                key: t.key.to_string(),
                estimate,
                in_redis,
            });
        }
        Ok(())
    }
    fn has_log_hook(&self) -> bool {
        true
    }
    async fn on_log(&self, ctx: &mut Ctx, outcome: &Outcome) -> PluginResult {
        let (Some(hold), Some(spec)) = (ctx.take_slot::<TpmHold>(), self.tpm) else {
            return Ok(());
        };
        let actual = match (&outcome.usage, outcome.cache_hit) {
            (_, true) => 0.0,
            (Some(u), _) => u.total as f64,
            (None, _) if outcome.delivered => hold.estimate,
            (None, _) => 0.0,
        };
        let delta = hold.estimate - actual;
        if delta == 0.0 {
            return Ok(());
        }
        if let (true, Some(r)) = (hold.in_redis, self.shared.redis()) {
            let key = r.key(&[&hold.key]);
            let args = [
                spec.rate.to_string(),
                spec.burst.to_string(),
                delta.to_string(),
            ];
            if r.script::<i64>(adjust_script(), &[&key], &args)
                .await
                .is_ok()
            {
                return Ok(());
            }
        }
        self.local.adjust(&hold.key, spec, delta);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::builtin::testing::*;
    use crate::context::Surface;
    use crate::error::{Deny, PluginError};
    use crate::flight::Outcome;
    use ferro_types::usage::TokenCounts;
    use serde_json::json;

    fn body(user: &str) -> serde_json::Value {
        json!({"model": "m", "user": user, "messages": [{"role": "user", "content": "hi"}]})
    }

    #[tokio::test]
    async fn global_key_and_user_buckets() {
        let p = plugin(
            "rate-limit",
            json!({"requests_per_second": 0.001, "burst": 3, "key_rpm": 2, "user_rpm": 1}),
        );
        assert!(p
            .on_request(&mut ctx_as(Surface::Chat, "a", body("u1")))
            .await
            .is_ok());
        let e = p
            .on_request(&mut ctx_as(Surface::Chat, "a", body("u1")))
            .await
            .unwrap_err();
        match e {
            PluginError::Deny(Deny::RateLimited {
                reason,
                retry_after,
            }) => {
                assert_eq!(reason, "per-user rate limit exceeded");
                assert!(retry_after >= 1);
            }
            other => panic!("{other:?}"),
        }
        assert!(p
            .on_request(&mut ctx_as(Surface::Chat, "a", body("u2")))
            .await
            .is_ok());
        let e = p
            .on_request(&mut ctx_as(Surface::Chat, "a", body("u3")))
            .await
            .unwrap_err();
        assert!(format!("{e:?}").contains("per-key"), "{e:?}");
        assert!(p
            .on_request(&mut ctx_as(Surface::Chat, "b", body("u4")))
            .await
            .is_ok());
        let e = p
            .on_request(&mut ctx_as(Surface::Chat, "c", body("u5")))
            .await
            .unwrap_err();
        assert!(
            format!("{e:?}").contains("\"rate limit exceeded\""),
            "{e:?}"
        );
    }

    #[tokio::test]
    async fn tokens_per_minute_reserve_and_settle() {
        let p = plugin("rate-limit", json!({"key_tpm": 60}));
        let big = json!({"model": "m", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]});
        let mut ctx = ctx_for(big.clone());
        assert!(
            p.on_request(&mut ctx).await.is_ok(),
            "one token left admits"
        );
        assert!(
            p.on_request(&mut ctx_for(big.clone())).await.is_err(),
            "estimate put the key in debt"
        );
        let used = TokenCounts {
            total: 10,
            ..TokenCounts::default()
        };
        p.on_log(
            &mut ctx,
            &Outcome {
                status: 200,
                usage: Some(used),
                ..Outcome::default()
            },
        )
        .await
        .unwrap();
        assert!(
            p.on_request(&mut ctx_for(big)).await.is_ok(),
            "settled on actual usage"
        );
        assert!(
            build_err("rate-limit", json!({"requests_per_second": 0})).contains("greater than 0")
        );
    }
}
