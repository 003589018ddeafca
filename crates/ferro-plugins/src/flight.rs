//! One request's pass through the chain ([`Flight`]), the stream screen of
//! `after_request` ([`StreamScreen`]), and what a finished request reports
//! ([`Outcome`]).

use crate::chain::Chain;
use crate::context::{Ctx, ResponseView};
use crate::error::ChainError;
use crate::{ChunkScreen, Screen};
use bytes::Bytes;
use ferro_types::usage::TokenCounts;
use serde::Deserialize;
use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A cached answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Cached {
    /// What to replay.
    pub body: CachedBody,
    /// Provider instance that first served it.
    pub provider: String,
    /// Target it was routed to.
    pub target: String,
    /// Usage of the original answer (reported again, priced at 0).
    pub usage: TokenCounts,
}

/// The cached bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum CachedBody {
    /// A JSON answer, as the upstream sent it (before the gateway's extras).
    Json(Bytes),
    /// An SSE answer: the upstream events' `data:` payloads, usage chunk included.
    Sse(Vec<Bytes>),
}

/// How a request ended, for the log hook.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// HTTP status returned to the client (499: the client went away).
    pub status: u16,
    /// Usage of the answer, when known.
    pub usage: Option<TokenCounts>,
    /// Served from the cache.
    pub cache_hit: bool,
    /// The client got (part of) an answer.
    pub delivered: bool,
    /// The answer, when it may be cached (successful, complete, not a hit).
    pub cacheable: Option<Cached>,
}

/// Largest streamed answer captured for the cache.
const MAX_CAPTURE: usize = 2 * 1024 * 1024;

/// One request's pass through the chain. Finish it with one of
/// [`Flight::fail`], [`Flight::finish`]; a flight dropped unfinished (client
/// gone, early return) is finished on the runtime with status 499, so what
/// `before_request` reserved is always settled.
pub struct Flight {
    chain: Arc<Chain>,
    ctx: Option<Ctx>,
    capture: Arc<Mutex<Option<Vec<Bytes>>>>,
}

impl std::fmt::Debug for Flight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flight").field("ctx", &self.ctx).finish()
    }
}

impl Flight {
    pub(crate) fn new(chain: Arc<Chain>, ctx: Ctx) -> Flight {
        Flight {
            chain,
            ctx: Some(ctx),
            capture: Arc::new(Mutex::new(None)),
        }
    }

    /// The request context (`None` once finished).
    pub fn ctx(&self) -> Option<&Ctx> {
        self.ctx.as_ref()
    }

    /// Runs `before_request`. On a denial or failure the `on_error` and log
    /// hooks run too and the flight is finished.
    pub async fn before(&mut self) -> Result<(), ChainError> {
        let Some(ctx) = self.ctx.as_mut() else {
            return Ok(());
        };
        match self.chain.run_before(ctx).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let api = e.to_api_error();
                self.fail(api.status, &api.message).await;
                Err(e)
            }
        }
    }

    /// The request body as the plugins left it, when one rewrote it.
    pub fn rewritten_body(&self) -> Option<Bytes> {
        self.ctx.as_ref()?.rewritten_body()
    }

    /// See [`Ctx::know_declared_max_tokens`]: call before [`Flight::before`].
    pub fn know_declared_max_tokens(&self, v: Option<u64>) {
        if let Some(c) = self.ctx.as_ref() {
            c.know_declared_max_tokens(v);
        }
    }

    /// The cached answer that replaces the provider call, if any.
    pub fn cache_hit(&self) -> Option<Arc<Cached>> {
        self.ctx.as_ref()?.cache_hit().cloned()
    }

    /// Runs `after_request` on a JSON answer. On a denial or failure the
    /// `on_error` and log hooks run (with the answer's usage: the provider was
    /// paid) and the flight is finished.
    pub async fn after(&mut self, view: &ResponseView<'_>) -> Result<(), ChainError> {
        let Some(ctx) = self.ctx.as_mut() else {
            return Ok(());
        };
        let Err(e) = self.chain.run_after(ctx, view).await else {
            return Ok(());
        };
        let api = e.to_api_error();
        self.chain.run_on_error(ctx, api.status, &api.message).await;
        let outcome = Outcome {
            status: api.status,
            usage: Some(view.usage),
            cache_hit: view.cache_hit,
            ..Outcome::default()
        };
        self.finish(outcome).await;
        Err(e)
    }

    /// The request failed with `status` / `message`: runs `on_error`, then the
    /// log hooks; finishes the flight.
    pub async fn fail(&mut self, status: u16, message: &str) {
        if let Some(ctx) = self.ctx.as_mut() {
            self.chain.run_on_error(ctx, status, message).await;
        }
        self.finish(Outcome {
            status,
            ..Outcome::default()
        })
        .await;
    }

    /// Runs the log hooks with `outcome`; finishes the flight.
    pub async fn finish(&mut self, outcome: Outcome) {
        if let Some(mut ctx) = self.ctx.take() {
            self.chain.run_log(&mut ctx, &outcome).await;
        }
    }

    /// The screen for a streamed answer (`None` when nothing needs to see it).
    pub fn stream_screen(&mut self) -> Option<StreamScreen> {
        let ctx = self.ctx.as_mut()?;
        let screens = self.chain.stream_screens(ctx);
        let capture = self.chain.captures_streams && ctx.cache_hit().is_none();
        if screens.is_empty() && !capture {
            return None;
        }
        Some(StreamScreen {
            chain: self.chain.clone(),
            screens,
            capture: capture.then(Vec::new),
            captured_bytes: 0,
            out: self.capture.clone(),
        })
    }

    /// The events a [`StreamScreen`] captured for the cache (complete streams only).
    pub fn take_capture(&self) -> Option<Vec<Bytes>> {
        self.capture.lock().ok()?.take()
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        let Some(mut ctx) = self.ctx.take() else {
            return;
        };
        let chain = self.chain.clone();
        let outcome = Outcome {
            status: 499,
            ..Outcome::default()
        };
        // The log hooks settle reservations (budget, token limits); they may
        // need Redis, so they run as a task of their own. Bounded: one small
        // task per abandoned request.
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn(async move { chain.run_log(&mut ctx, &outcome).await });
            }
            Err(_) => tracing::warn!("plugin flight dropped outside a runtime; log hooks skipped"),
        }
    }
}

#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(borrow, default)]
    choices: Vec<ChoiceDelta<'a>>,
}

#[derive(Deserialize)]
struct ChoiceDelta<'a> {
    #[serde(default)]
    index: u32,
    #[serde(borrow, default)]
    delta: Option<Delta<'a>>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    refusal: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    tool_calls: Option<Vec<ToolDelta<'a>>>,
}

#[derive(Deserialize)]
struct ToolDelta<'a> {
    #[serde(borrow, default)]
    function: Option<FnDelta<'a>>,
}

#[derive(Deserialize)]
struct FnDelta<'a> {
    #[serde(borrow, default)]
    arguments: Option<Cow<'a, str>>,
}

/// Screens a streamed answer event by event (the `after_request` plugins'
/// [`ChunkScreen`]s), and captures it for the response cache.
pub struct StreamScreen {
    chain: Arc<Chain>,
    screens: Vec<(usize, Box<dyn ChunkScreen>)>,
    capture: Option<Vec<Bytes>>,
    captured_bytes: usize,
    out: Arc<Mutex<Option<Vec<Bytes>>>>,
}

impl StreamScreen {
    /// One upstream event's `data:` payload, before it is forwarded.
    pub fn on_data(&mut self, data: &[u8]) -> Result<Screen, ChainError> {
        if let Some(c) = &mut self.capture {
            self.captured_bytes += data.len();
            if self.captured_bytes > MAX_CAPTURE {
                self.capture = None;
            } else {
                c.push(Bytes::copy_from_slice(data));
            }
        }
        if self.screens.is_empty() {
            return Ok(Screen::Pass);
        }
        let mut verdict = match self.screens.iter().any(|(_, s)| s.holds_everything()) {
            true => Screen::Hold,
            false => Screen::Pass,
        };
        if data == b"[DONE]" {
            return Ok(verdict);
        }
        let Ok(chunk) = serde_json::from_slice::<Chunk<'_>>(data) else {
            return Ok(verdict);
        };
        for choice in &chunk.choices {
            let Some(d) = &choice.delta else { continue };
            let args = d
                .tool_calls
                .iter()
                .flatten()
                .filter_map(|t| t.function.as_ref()?.arguments.as_deref());
            let texts = d
                .content
                .as_deref()
                .into_iter()
                .chain(d.refusal.as_deref())
                .chain(args);
            for text in texts.filter(|t| !t.is_empty()) {
                for (id, s) in &mut self.screens {
                    let t0 = Instant::now();
                    let res = s.on_delta(choice.index, text);
                    let v = match res {
                        Ok(v) => {
                            self.chain.judge_chunk(*id, t0, Ok(()))?;
                            v
                        }
                        Err(e) => {
                            self.chain.judge_chunk(*id, t0, Err(e))?;
                            Screen::Pass
                        }
                    };
                    if v == Screen::Hold {
                        verdict = Screen::Hold;
                    }
                }
            }
        }
        Ok(verdict)
    }

    /// The upstream ended cleanly: the screens' last word; a complete stream
    /// is handed to the flight for the cache.
    pub fn on_end(&mut self) -> Result<(), ChainError> {
        for (id, s) in &mut self.screens {
            let t0 = Instant::now();
            let res = s.on_end();
            self.chain.judge_chunk(*id, t0, res)?;
        }
        if let (Some(c), Ok(mut out)) = (self.capture.take(), self.out.lock()) {
            *out = Some(c);
        }
        Ok(())
    }
}
