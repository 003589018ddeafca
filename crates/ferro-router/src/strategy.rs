//! The eight routing strategies of CONTRACT §5.2, compiled once per config.
//! Per request a strategy turns the eligible targets (those serving the model)
//! into an ordered list of attempts. Pool modes walk the list on failure;
//! named modes stop at their one choice.

use crate::policy::TargetPolicy;
use crate::registry::{Target, TargetId};
use ferro_config::Config;
use rand::Rng;
use regex::Regex;

/// How `cost-optimized` treats targets without a catalog price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unpriced {
    /// After every priced target, in configured order.
    Fallback,
    /// Never routed to.
    Skip,
    /// Treated as free.
    Allow,
}

#[derive(Debug)]
enum ContentKind {
    Contains(String),
    NotContains(String),
    Regex(Regex),
}

#[derive(Debug)]
enum Mode {
    Single,
    Fallback,
    LoadBalance,
    LeastLatency,
    CostOptimized(Unpriced),
    Conditional(Vec<(bool, String, TargetId)>),
    ContentBased(Vec<(ContentKind, TargetId)>),
    AbTest(Vec<(TargetId, f64)>),
}

/// A compiled strategy.
#[derive(Debug)]
pub struct Strategy {
    mode: Mode,
}

/// What a strategy may look at for one request.
#[derive(Debug, Clone, Copy)]
pub struct RouteInput<'a> {
    pub model: &'a str,
    /// Prompt text (only computed when [`Strategy::needs_prompt`]).
    pub prompt: Option<&'a str>,
    /// Estimated prompt tokens (chars / 4 + 1).
    pub est_prompt_tokens: u64,
}

fn target_id(targets: &[Target], key: &str, path: &str) -> Result<TargetId, String> {
    targets
        .iter()
        .position(|t| t.name == key)
        .ok_or_else(|| format!("{path}: `{key}` is not a configured target"))
}

impl Strategy {
    pub fn compile(cfg: Option<&Config>, targets: &[Target]) -> Result<Strategy, Vec<String>> {
        let Some(cfg) = cfg else {
            // Env-only gateways: first provider that serves the model, then the others.
            return Ok(Strategy {
                mode: Mode::Fallback,
            });
        };
        let s = &cfg.strategy;
        let mut errs = Vec::new();
        let mode = match s.mode.as_deref().unwrap_or("single") {
            "single" => Mode::Single,
            "fallback" => Mode::Fallback,
            "loadbalance" | "load-balance" => {
                let ws: Vec<f64> = cfg
                    .targets
                    .iter()
                    .map(|t| t.weight.unwrap_or(1.0))
                    .collect();
                if ws.iter().all(|w| *w == 0.0) {
                    errs.push("targets: loadbalance needs at least one non-zero weight".to_owned());
                }
                Mode::LoadBalance
            }
            "least-latency" => Mode::LeastLatency,
            "cost-optimized" => Mode::CostOptimized(match s.unpriced_strategy.as_deref() {
                Some("skip") => Unpriced::Skip,
                Some("allow") => Unpriced::Allow,
                _ => Unpriced::Fallback,
            }),
            "conditional" => {
                let mut out = Vec::new();
                for (i, c) in s.conditions.iter().enumerate() {
                    match target_id(
                        targets,
                        &c.target_key,
                        &format!("strategy.conditions[{i}].target_key"),
                    ) {
                        Ok(t) => out.push((c.key == "model_prefix", c.value.clone(), t)),
                        Err(e) => errs.push(e),
                    }
                }
                Mode::Conditional(out)
            }
            "content-based" => {
                let mut out = Vec::new();
                for (i, c) in s.content_conditions.iter().enumerate() {
                    let path = format!("strategy.content_conditions[{i}]");
                    let kind = match c.kind.as_str() {
                        "prompt_contains" => ContentKind::Contains(c.value.clone()),
                        "prompt_not_contains" => ContentKind::NotContains(c.value.clone()),
                        _ => match Regex::new(&c.value) {
                            Ok(r) => ContentKind::Regex(r),
                            Err(e) => {
                                errs.push(format!("{path}.value: invalid regex: {e}"));
                                continue;
                            }
                        },
                    };
                    match target_id(targets, &c.target_key, &format!("{path}.target_key")) {
                        Ok(t) => out.push((kind, t)),
                        Err(e) => errs.push(e),
                    }
                }
                Mode::ContentBased(out)
            }
            "ab-test" => {
                let mut out = Vec::new();
                for (i, v) in s.ab_variants.iter().enumerate() {
                    match target_id(
                        targets,
                        &v.target_key,
                        &format!("strategy.ab_variants[{i}].target_key"),
                    ) {
                        Ok(t) => out.push((t, v.weight)),
                        Err(e) => errs.push(e),
                    }
                }
                if !out.is_empty() && out.iter().all(|(_, w)| *w == 0.0) {
                    errs.push(
                        "strategy.ab_variants: at least one weight must be non-zero".to_owned(),
                    );
                }
                Mode::AbTest(out)
            }
            other => {
                errs.push(format!("strategy.mode: unknown mode `{other}`"));
                Mode::Single
            }
        };
        if errs.is_empty() {
            Ok(Strategy { mode })
        } else {
            Err(errs)
        }
    }

    /// Pool modes advance to the next candidate on failure; named modes do not.
    pub fn is_pool(&self) -> bool {
        !matches!(
            self.mode,
            Mode::Single | Mode::Conditional(_) | Mode::ContentBased(_)
        )
    }

    pub fn needs_prompt(&self) -> bool {
        matches!(self.mode, Mode::ContentBased(_))
    }

    pub fn name(&self) -> &'static str {
        match self.mode {
            Mode::Single => "single",
            Mode::Fallback => "fallback",
            Mode::LoadBalance => "loadbalance",
            Mode::LeastLatency => "least-latency",
            Mode::CostOptimized(_) => "cost-optimized",
            Mode::Conditional(_) => "conditional",
            Mode::ContentBased(_) => "content-based",
            Mode::AbTest(_) => "ab-test",
        }
    }

    /// Whether `cost-optimized` + `skip` hides unpriced models.
    pub fn skips_unpriced(&self) -> bool {
        matches!(self.mode, Mode::CostOptimized(Unpriced::Skip))
    }

    /// Orders `eligible` (configured order) into the attempts for one request.
    /// `price` gives a target's catalog input price for this model.
    pub fn order(
        &self,
        eligible: &[TargetId],
        input: RouteInput<'_>,
        policies: &[TargetPolicy],
        price: &dyn Fn(TargetId) -> Option<f64>,
    ) -> Vec<TargetId> {
        let first_or = |t: TargetId| -> Vec<TargetId> {
            if eligible.contains(&t) {
                vec![t]
            } else {
                eligible.first().copied().into_iter().collect()
            }
        };
        match &self.mode {
            Mode::Single => eligible.first().copied().into_iter().collect(),
            Mode::Fallback => eligible.to_vec(),
            Mode::LoadBalance => weighted_order(
                eligible
                    .iter()
                    .map(|t| (*t, policies.get(*t).map(|p| p.weight).unwrap_or(1.0))),
            ),
            Mode::AbTest(variants) => weighted_order(
                variants
                    .iter()
                    .filter(|(t, _)| eligible.contains(t))
                    .copied(),
            ),
            Mode::LeastLatency => {
                let mut unseen: Vec<TargetId> = Vec::new();
                let mut seen: Vec<(TargetId, std::time::Duration)> = Vec::new();
                for t in eligible {
                    match policies.get(*t).and_then(|p| p.health.latency.p50()) {
                        Some(d) => seen.push((*t, d)),
                        None => unseen.push(*t),
                    }
                }
                shuffle(&mut unseen);
                seen.sort_by_key(|(_, d)| *d);
                unseen
                    .into_iter()
                    .chain(seen.into_iter().map(|(t, _)| t))
                    .collect()
            }
            Mode::CostOptimized(unpriced) => {
                let tokens = input.est_prompt_tokens as f64;
                let mut priced: Vec<(TargetId, f64)> = Vec::new();
                let mut rest: Vec<TargetId> = Vec::new();
                for t in eligible {
                    match (price(*t), unpriced) {
                        (Some(p), _) => priced.push((*t, p * tokens)),
                        (None, Unpriced::Allow) => priced.push((*t, 0.0)),
                        (None, Unpriced::Fallback) => rest.push(*t),
                        (None, Unpriced::Skip) => {}
                    }
                }
                priced.sort_by(|a, b| a.1.total_cmp(&b.1));
                priced.into_iter().map(|(t, _)| t).chain(rest).collect()
            }
            Mode::Conditional(conds) => {
                let hit = conds.iter().find(|(prefix, value, _)| {
                    if *prefix {
                        input.model.starts_with(value.as_str())
                    } else {
                        input.model == value
                    }
                });
                match hit {
                    Some((_, _, t)) => first_or(*t),
                    None => first_or(0),
                }
            }
            Mode::ContentBased(conds) => {
                let prompt = input.prompt.unwrap_or("");
                let hit = conds.iter().find(|(k, _)| match k {
                    ContentKind::Contains(v) => prompt.contains(v.as_str()),
                    ContentKind::NotContains(v) => !prompt.contains(v.as_str()),
                    ContentKind::Regex(r) => r.is_match(prompt),
                });
                match hit {
                    Some((_, t)) => first_or(*t),
                    None => eligible.first().copied().into_iter().collect(),
                }
            }
        }
    }
}

/// Weighted random order without replacement; zero weights are drained (never chosen).
fn weighted_order(items: impl Iterator<Item = (TargetId, f64)>) -> Vec<TargetId> {
    let mut pool: Vec<(TargetId, f64)> = items.filter(|(_, w)| *w > 0.0).collect();
    let mut out = Vec::with_capacity(pool.len());
    let mut rng = rand::thread_rng();
    while !pool.is_empty() {
        let total: f64 = pool.iter().map(|(_, w)| w).sum();
        let mut pick = rng.gen_range(0.0..total);
        let mut idx = pool.len() - 1;
        for (i, (_, w)) in pool.iter().enumerate() {
            if pick < *w {
                idx = i;
                break;
            }
            pick -= w;
        }
        out.push(pool.swap_remove(idx).0);
    }
    out
}

fn shuffle(v: &mut [TargetId]) {
    use rand::seq::SliceRandom;
    v.shuffle(&mut rand::thread_rng());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_split_is_proportional_and_drains_zero() {
        let mut counts = [0usize; 3];
        for _ in 0..10_000 {
            let o = weighted_order([(0, 1.0), (1, 3.0), (2, 0.0)].into_iter());
            assert_eq!(o.len(), 2);
            counts[o[0]] += 1;
        }
        assert_eq!(counts[2], 0);
        let share = counts[1] as f64 / 10_000.0;
        assert!((share - 0.75).abs() < 0.03, "{share}");
    }
}
