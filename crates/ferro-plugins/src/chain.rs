//! The compiled plugin chain: one instance per (name, config), listed per
//! stage in config order, and the stage runners with the failure policy.

use crate::builtin;
use crate::context::{Ctx, RequestMeta, ResponseView};
use crate::error::{ChainError, PluginError};
use crate::flight::{Flight, Outcome};
use crate::shared::Shared;
use crate::stats::{self, counters, Counters, Ended};
use crate::{ChunkScreen, Plugin, Stage};
use bytes::Bytes;
use ferro_config::PluginEntry;
use futures_util::FutureExt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

/// Stage names by counter index (`Instance::stats`).
const HOOK_STAGES: [&str; 4] = ["before_request", "after_request", "on_error", stats::LOG];

pub(crate) struct Instance {
    pub(crate) plugin: Arc<dyn Plugin>,
    /// Counters for before / after / on_error / log.
    stats: [Arc<Counters>; 4],
}

/// The plugins of one config, compiled. Immutable; a reload builds a new one
/// (sharing the [`Shared`] state of the previous one).
pub struct Chain {
    pub(crate) instances: Vec<Instance>,
    /// (entry index, instance id), in config order.
    before: Vec<(usize, usize)>,
    after: Vec<(usize, usize)>,
    on_error: Vec<(usize, usize)>,
    shared: Shared,
    /// A response cache is listed at `after_request`: streams are captured.
    pub(crate) captures_streams: bool,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = |ids: &[(usize, usize)]| -> Vec<&'static str> {
            ids.iter()
                .map(|(_, i)| self.instances[*i].plugin.name())
                .collect()
        };
        f.debug_struct("Chain")
            .field("before_request", &names(&self.before))
            .field("after_request", &names(&self.after))
            .field("on_error", &names(&self.on_error))
            .finish()
    }
}

impl Chain {
    /// A chain with no plugins.
    pub fn empty(shared: Shared) -> Chain {
        Chain {
            instances: Vec::new(),
            before: Vec::new(),
            after: Vec::new(),
            on_error: Vec::new(),
            shared,
            captures_streams: false,
        }
    }

    /// Compiles the enabled entries of `plugins:`. Every problem is reported,
    /// each with its path (`plugins[3].config.action: …`); warnings are returned
    /// beside the chain.
    pub fn build(
        entries: &[PluginEntry],
        shared: &Shared,
    ) -> Result<(Chain, Vec<String>), Vec<String>> {
        let mut errs = Vec::new();
        let mut warnings = Vec::new();
        // (name, config) -> instance id, with the stages it is listed at.
        let mut groups: Vec<(usize, Vec<(usize, Stage)>)> = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            if !e.enabled {
                continue;
            }
            let Some(stage) = Stage::parse(&e.stage) else {
                errs.push(format!("plugins[{i}].stage: unknown stage `{}`", e.stage));
                continue;
            };
            let same = groups.iter_mut().find(|(first, _)| {
                entries[*first].name == e.name && entries[*first].config == e.config
            });
            match same {
                Some((first, listed)) => {
                    if listed.iter().any(|(_, s)| *s == stage) {
                        errs.push(format!(
                            "plugins[{i}]: `{}` is already listed at {} (plugins[{first}])",
                            e.name, e.stage
                        ));
                    } else {
                        listed.push((i, stage));
                    }
                }
                None => groups.push((i, vec![(i, stage)])),
            }
        }
        // The multi-stage identity rule: a name listed at several stages must
        // carry one config; several configs are only allowed at one stage.
        for (gi, (first, listed)) in groups.iter().enumerate() {
            let name = &entries[*first].name;
            for (other_first, other) in groups.iter().skip(gi + 1) {
                if entries[*other_first].name != *name {
                    continue;
                }
                let multi = listed.len() > 1
                    || other.len() > 1
                    || listed
                        .iter()
                        .any(|(_, s)| other.iter().all(|(_, o)| o != s));
                if multi {
                    errs.push(format!(
                        "plugins[{other_first}].config: `{name}` is listed at several stages, so its config must be identical at each (it differs from plugins[{first}])"
                    ));
                }
            }
        }
        let mut chain = Chain::empty(shared.clone());
        for (first, listed) in &groups {
            let e = &entries[*first];
            let stages: Vec<Stage> = listed.iter().map(|(_, s)| *s).collect();
            let path = format!("plugins[{first}].config");
            let built = match builtin::build(&e.name, &e.config, &path, &stages, shared) {
                Ok((p, w)) => {
                    warnings.extend(w);
                    p
                }
                Err(es) => {
                    errs.extend(es);
                    continue;
                }
            };
            for (i, s) in listed {
                if !built.stages().contains(s) {
                    let allowed: Vec<&str> = built.stages().iter().map(|s| s.as_str()).collect();
                    errs.push(format!(
                        "plugins[{i}].stage: `{}` cannot be listed at {} (allowed: {})",
                        e.name,
                        s.as_str(),
                        allowed.join(", ")
                    ));
                }
            }
            let name = built.name();
            let id = chain.instances.len();
            chain.instances.push(Instance {
                stats: [
                    counters(name, stats::stage_key(Stage::BeforeRequest)),
                    counters(name, stats::stage_key(Stage::AfterRequest)),
                    counters(name, stats::stage_key(Stage::OnError)),
                    counters(name, stats::LOG),
                ],
                plugin: built,
            });
            for (i, s) in listed {
                let list = match s {
                    Stage::BeforeRequest => &mut chain.before,
                    Stage::AfterRequest => &mut chain.after,
                    Stage::OnError => &mut chain.on_error,
                };
                list.push((*i, id));
            }
            if name == "response-cache" && stages.contains(&Stage::AfterRequest) {
                chain.captures_streams = true;
            }
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        chain.before.sort_unstable();
        chain.after.sort_unstable();
        chain.on_error.sort_unstable();
        Ok((chain, warnings))
    }

    /// A chain of one given plugin (tests of the framework itself).
    #[cfg(test)]
    pub(crate) fn single(plugin: Arc<dyn Plugin>, stages: &[Stage]) -> Chain {
        let mut c = Chain::empty(Shared::local(None));
        let name = plugin.name();
        c.instances.push(Instance {
            stats: [
                counters(name, "before_request"),
                counters(name, "after_request"),
                counters(name, "on_error"),
                counters(name, stats::LOG),
            ],
            plugin,
        });
        for s in stages {
            match s {
                Stage::BeforeRequest => c.before.push((0, 0)),
                Stage::AfterRequest => c.after.push((0, 0)),
                Stage::OnError => c.on_error.push((0, 0)),
            }
        }
        c
    }

    /// No plugin is enabled.
    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
    }

    /// The state shared across reloads (carry it into the next build).
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Opens the chain for one request; `None` when there are no plugins (the
    /// request then pays nothing). `body` is the request's JSON (after alias
    /// resolution), `None` when it is not inspectable.
    pub fn start(self: &Arc<Self>, meta: RequestMeta, body: Option<Bytes>) -> Option<Flight> {
        if self.is_empty() {
            return None;
        }
        let ctx = Ctx::new(meta, body, self.instances.len());
        Some(Flight::new(self.clone(), ctx))
    }

    /// Whether a guardrail screens requests (a body it cannot read is then refused).
    pub fn screens_requests(&self) -> bool {
        self.before
            .iter()
            .any(|(_, id)| self.instances[*id].plugin.kind() == crate::PluginType::Guardrail)
    }

    /// Whether any plugin screens answers.
    pub fn has_after(&self) -> bool {
        !self.after.is_empty()
    }

    async fn timed<F>(
        &self,
        id: usize,
        stage: usize,
        ctx_stage: Stage,
        fut: F,
    ) -> Result<(), ChainError>
    where
        F: Future<Output = Result<(), PluginError>>,
    {
        let inst = &self.instances[id];
        let t0 = Instant::now();
        let res = AssertUnwindSafe(fut)
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err(PluginError::Failed("panicked".to_owned())));
        if let Some(observe) = stats::observer() {
            observe(&stats::HookCall {
                plugin: inst.plugin.name(),
                stage: HOOK_STAGES[stage],
                took: t0.elapsed(),
                outcome: match &res {
                    Ok(()) => "ok",
                    Err(PluginError::Deny(_)) => "denied",
                    Err(PluginError::Failed(_)) => "failed",
                },
            });
        }
        judge(inst, &inst.stats[stage], ctx_stage, t0, res)
    }

    pub(crate) async fn run_before(&self, ctx: &mut Ctx) -> Result<(), ChainError> {
        for &id in self.before.iter().map(|(_, id)| id) {
            ctx.current = id;
            let p = self.instances[id].plugin.clone();
            self.timed(id, 0, Stage::BeforeRequest, p.on_request(ctx))
                .await?;
        }
        Ok(())
    }

    pub(crate) async fn run_after(
        &self,
        ctx: &mut Ctx,
        view: &ResponseView<'_>,
    ) -> Result<(), ChainError> {
        for &id in self.after.iter().map(|(_, id)| id) {
            ctx.current = id;
            let p = self.instances[id].plugin.clone();
            self.timed(id, 1, Stage::AfterRequest, p.on_response(ctx, view))
                .await?;
        }
        Ok(())
    }

    pub(crate) async fn run_on_error(&self, ctx: &mut Ctx, status: u16, message: &str) {
        for &id in self.on_error.iter().map(|(_, id)| id) {
            ctx.current = id;
            let p = self.instances[id].plugin.clone();
            let fut = async {
                p.on_error(ctx, status, message).await;
                Ok(())
            };
            let _ = self.timed(id, 2, Stage::OnError, fut).await;
        }
    }

    /// The log hook of every instance; failures are logged, never returned.
    pub(crate) async fn run_log(&self, ctx: &mut Ctx, outcome: &Outcome) {
        for id in 0..self.instances.len() {
            if !self.instances[id].plugin.has_log_hook() {
                continue;
            }
            ctx.current = id;
            let p = self.instances[id].plugin.clone();
            if let Err(e) = self
                .timed(id, 3, Stage::OnError, p.on_log(ctx, outcome))
                .await
            {
                tracing::warn!(plugin = e.plugin, "plugin log hook failed: {:?}", e.error);
            }
        }
    }

    pub(crate) fn stream_screens(&self, ctx: &mut Ctx) -> Vec<(usize, Box<dyn ChunkScreen>)> {
        let mut out = Vec::new();
        for &id in self.after.iter().map(|(_, id)| id) {
            ctx.current = id;
            if let Some(s) = self.instances[id].plugin.on_stream(ctx) {
                out.push((id, s));
            }
        }
        out
    }

    pub(crate) fn judge_chunk(
        &self,
        id: usize,
        t0: Instant,
        res: Result<(), PluginError>,
    ) -> Result<(), ChainError> {
        let inst = &self.instances[id];
        judge(inst, &inst.stats[1], Stage::AfterRequest, t0, res)
    }
}

/// Applies the failure policy: denials always stop the chain; failures stop
/// it unless the plugin's type fails open.
fn judge(
    inst: &Instance,
    counters: &Counters,
    stage: Stage,
    t0: Instant,
    res: Result<(), PluginError>,
) -> Result<(), ChainError> {
    let took = t0.elapsed();
    let name = inst.plugin.name();
    match res {
        Ok(()) => {
            counters.record(took, Ended::Ok);
            Ok(())
        }
        Err(e @ PluginError::Deny(_)) => {
            counters.record(took, Ended::Denied);
            Err(ChainError {
                plugin: name,
                stage,
                error: e,
            })
        }
        Err(PluginError::Failed(msg)) => {
            counters.record(took, Ended::Failed);
            let open = inst.plugin.kind().fails_open();
            tracing::warn!(
                plugin = name,
                stage = stage.as_str(),
                fails_open = open,
                "plugin failed: {msg}"
            );
            if open {
                Ok(())
            } else {
                Err(ChainError {
                    plugin: name,
                    stage,
                    error: PluginError::Failed(msg),
                })
            }
        }
    }
}
