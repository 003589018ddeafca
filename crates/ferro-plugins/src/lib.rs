//! Ferro's plugins: the phase trait every plugin implements, the per-request
//! context it sees, the compiled chain the gateway runs, and the eleven built-ins
//! of the Go gateway 1.5 (CONTRACT §5.5) with exactly their config keys.
//!
//! Owns policy, never transport: it must not depend on the server, on axum or on
//! hyper. The gateway hands it a parsed request and the response it got, and
//! maps the verdicts ([`ChainError`]) to HTTP with [`ChainError::to_api_error`].
//!
//! # A request's life through the stages (plugin-author guide)
//!
//! A config lists plugins per stage (`before_request`, `after_request`,
//! `on_error`), in order. [`Chain::build`] compiles the list once per config
//! load: config keys are checked (unknown keys and enum values are load errors),
//! patterns are compiled, and an entry listed at several stages becomes **one**
//! instance (its `config` must be identical at each stage), so state such as a
//! budget reservation flows from its `before_request` to its `after_request` side.
//!
//! For one request the gateway opens a [`Flight`] ([`Chain::start`]) and:
//!
//! 1. **`before_request`** — after the body is parsed and the model alias is
//!    resolved, before a target is chosen: [`Plugin::on_request`] of every plugin
//!    listed there runs in order. A plugin may read the request
//!    ([`Ctx::texts`], [`Ctx::body`]), rewrite it ([`Ctx::body_mut`]; the gateway
//!    then sends the rewritten bytes), deny it ([`Deny`]: 400 `request_rejected`,
//!    429 `rate_limit_exceeded`, 402 `insufficient_quota`) or answer it from the
//!    cache ([`Ctx::set_cache_hit`]). **Nothing shortens the chain**: a cache hit
//!    skips only the provider call, every later guardrail, limit and budget still
//!    runs.
//! 2. **the provider call** (skipped on a cache hit).
//! 3. **`after_request`** — [`Plugin::on_response`] on a JSON answer, or on a
//!    stream [`Plugin::on_stream`] returns a [`ChunkScreen`] that sees each
//!    content delta as it passes (a denial ends the stream with an error frame;
//!    [`Screen::Hold`] buffers the rest of the stream until its end, for plugins
//!    that need the whole text). A denial is 502 `response_rejected`.
//! 4. **`on_error`** — [`Plugin::on_error`] when the request failed (a denial
//!    included). Errors here are logged, never returned.
//! 5. **log** — [`Plugin::on_log`] runs once for **every** instance of the chain
//!    when the request is over (stream end included, a client disconnect too):
//!    the place to settle what `on_request` reserved. If the gateway drops a
//!    flight without finishing it, the drop finishes it on the runtime.
//!
//! Per-request state a plugin keeps between its hooks lives in its slot of the
//! context ([`Ctx::slot`]). A plugin that **fails** (returns
//! [`PluginError::Failed`] or panics) fails open when its [`PluginType`] is
//! `logging` or `metrics` (logged, request continues) and closed otherwise (500
//! `plugin_error`). Every hook is timed per plugin and stage ([`stats`]).
//!
//! # Shared state
//!
//! Rate-limit buckets, budget reservations and cached responses live in this
//! process, or in Redis when `REDIS_URL` is set ([`Shared::from_env`]), so that
//! several gateway instances enforce one limit. See [`shared`] for the keys, the
//! Lua scripts and the fallback when Redis is unreachable.

#![warn(missing_docs)]

mod builtin;
mod catalog;
mod chain;
mod config;
mod context;
mod error;
mod flight;
pub mod shared;
mod stats;
mod text;

#[cfg(test)]
mod tests;

pub use catalog::{catalog, catalog_json, CatalogEntry};
pub use chain::Chain;
pub use context::{ChoiceDoc, Ctx, RequestMeta, ResponseView, Surface};
pub use error::{ChainError, Deny, PluginError};
pub use flight::{Cached, CachedBody, Flight, Outcome, StreamScreen};
pub use shared::{FailMode, Shared};
pub use stats::{observe_hooks, stats, HookCall, PluginStat};

use async_trait::async_trait;

/// Checks `plugins:` entries offline — keys, enum values, patterns, stages,
/// the multi-stage identity rule — without touching files or Redis; returns
/// the warnings. This is what `ferrogw validate` reports.
pub fn validate(entries: &[ferro_config::PluginEntry]) -> Result<Vec<String>, Vec<String>> {
    Chain::build(entries, &Shared::local(None)).map(|(_, w)| w)
}

/// The stage a plugin entry is listed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Before routing; may deny, rewrite or answer from cache.
    BeforeRequest,
    /// On the provider's answer (JSON or stream).
    AfterRequest,
    /// When the request failed.
    OnError,
}

impl Stage {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::BeforeRequest => "before_request",
            Stage::AfterRequest => "after_request",
            Stage::OnError => "on_error",
        }
    }

    /// Parses the config spelling.
    pub fn parse(s: &str) -> Option<Stage> {
        match s {
            "before_request" => Some(Stage::BeforeRequest),
            "after_request" => Some(Stage::AfterRequest),
            "on_error" => Some(Stage::OnError),
            _ => None,
        }
    }
}

/// What a plugin is, as it reports itself (this, not the config's `type`,
/// decides fail-open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginType {
    /// Screens content; fails closed.
    Guardrail,
    /// Observes; fails open.
    Logging,
    /// Observes; fails open.
    Metrics,
    /// Decides who may call; fails closed.
    Auth,
    /// Rewrites or answers requests; fails closed.
    Transform,
    /// Limits rate or spend; fails closed.
    RateLimit,
}

impl PluginType {
    /// The config / catalog spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginType::Guardrail => "guardrail",
            PluginType::Logging => "logging",
            PluginType::Metrics => "metrics",
            PluginType::Auth => "auth",
            PluginType::Transform => "transform",
            PluginType::RateLimit => "ratelimit",
        }
    }

    /// Whether a failure of a plugin of this type lets the request continue.
    pub fn fails_open(self) -> bool {
        matches!(self, PluginType::Logging | PluginType::Metrics)
    }
}

/// Result of a plugin hook.
pub type PluginResult = Result<(), PluginError>;

/// The phase trait. Every hook has a no-op default; a plugin implements the
/// stages it works at and declares them in [`Plugin::stages`] (listing it
/// elsewhere is a load error).
#[async_trait]
pub trait Plugin: Send + Sync + 'static {
    /// The registered name (`plugins[].name`).
    fn name(&self) -> &'static str;
    /// What the plugin is; decides fail-open vs fail-closed.
    fn kind(&self) -> PluginType;
    /// The stages the plugin may be listed at.
    fn stages(&self) -> &'static [Stage] {
        &[Stage::BeforeRequest, Stage::AfterRequest, Stage::OnError]
    }
    /// `before_request`.
    async fn on_request(&self, _ctx: &mut Ctx) -> PluginResult {
        Ok(())
    }
    /// `after_request`, JSON answers (also cache hits).
    async fn on_response(&self, _ctx: &mut Ctx, _resp: &ResponseView<'_>) -> PluginResult {
        Ok(())
    }
    /// `after_request`, streams: a screen that sees each content delta.
    fn on_stream(&self, _ctx: &Ctx) -> Option<Box<dyn ChunkScreen>> {
        None
    }
    /// `on_error`: the request failed with this (redacted) error.
    async fn on_error(&self, _ctx: &mut Ctx, _status: u16, _message: &str) {}
    /// Whether the plugin implements [`Plugin::on_log`]: the chain calls the
    /// log hook only of plugins that say so (a plugin overriding `on_log` must
    /// return `true`).
    fn has_log_hook(&self) -> bool {
        false
    }
    /// End of the request, exactly once, for every instance of the chain whose
    /// [`Plugin::has_log_hook`] is true.
    async fn on_log(&self, _ctx: &mut Ctx, _outcome: &Outcome) -> PluginResult {
        Ok(())
    }
}

/// What a [`ChunkScreen`] wants done with the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// Forward as it comes.
    Pass,
    /// Hold everything from here until the end, then decide in `on_end`.
    Hold,
}

/// Screens a streamed answer, one content delta at a time.
pub trait ChunkScreen: Send {
    /// A delta of choice `choice`'s text (content, refusal or tool arguments).
    fn on_delta(&mut self, choice: u32, text: &str) -> Result<Screen, PluginError>;
    /// The stream ended cleanly.
    fn on_end(&mut self) -> Result<(), PluginError> {
        Ok(())
    }
    /// Hold the whole stream from its first event (a screen that can only
    /// judge the complete answer and may refuse it).
    fn holds_everything(&self) -> bool {
        false
    }
}
