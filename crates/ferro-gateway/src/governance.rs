//! The gateway side of the plugin chain (`ferro-plugins`): one [`Gov`] per
//! routed request, called at fixed points by each handler.
//!
//! 1. [`admit`]: after the body is parsed and the alias resolved, before a
//!    target is chosen — `before_request` (may deny, rewrite the body, or find
//!    a cached answer; a hit skips only the provider call).
//! 2. [`Gov::check`] on the outcome of the provider call — a failure runs
//!    `on_error`.
//! 3. [`Gov::after_json`] on a JSON answer, or [`Gov::stream`] for SSE: the
//!    `after_request` screens see the stream event by event (a denial ends it
//!    with a `response_rejected` frame; `schema-guard` with `block` holds it
//!    back until its end), and the log hooks run when it ends.
//! 4. [`Gov::serve_hit`] answers from the cache (JSON or replayed SSE), marked
//!    `X-Gateway-Cache: hit`, `usage.cache_hit: true`, priced at 0.
//!
//! With no plugin enabled every call here is a no-op on an empty `Gov`.

use crate::auth::Identity;
use crate::extras::{rewrite_body, Extras};
use crate::handlers::{HResult, Upstreamed};
use crate::middleware::RequestCtx;
use crate::record::{LogRecord, RouteInfo};
use crate::state::{AppState, Runtime};
use crate::stream::{SseRelay, StreamSummary, StreamTap, TapVerdict};
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use ferro_plugins::{
    Cached, CachedBody, Flight, Outcome, RequestMeta, ResponseView, StreamScreen, Surface,
};
use ferro_types::ApiError;
use futures_util::StreamExt;
use http::{header, HeaderValue, StatusCode};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

/// One request's governance (empty when no plugin is enabled).
pub struct Gov {
    flight: Option<Flight>,
}

/// Runs `before_request`. `facts` reads the parsed request: the model after
/// alias resolution and whether a stream was asked for (its errors, such as
/// 400 or 404, come before any plugin). Returns the body to send on (the
/// plugins' rewrite, or `body` itself).
pub async fn admit<F>(
    rt: &Runtime,
    ctx: &RequestCtx,
    identity: &Identity,
    surface: Surface,
    body: Bytes,
    facts: F,
) -> Result<(Gov, Bytes), ApiError>
where
    F: FnOnce(&Bytes) -> Result<(String, bool), ApiError>,
{
    if rt.plugins.is_empty() {
        return Ok((Gov { flight: None }, body));
    }
    let (model, stream) = facts(&body)?;
    let (gov, rewritten) =
        admit_parsed(rt, ctx, identity, surface, &body, None, &model, stream).await?;
    Ok((gov, rewritten.unwrap_or(body)))
}

/// [`admit`] for a request the handler has already parsed (`obj`: its
/// top-level fields, when at hand; `model` after alias resolution, `stream`):
/// returns the plugins' rewritten body, `None` when `body` goes on unchanged
/// (so the handler's parse stays valid).
#[allow(clippy::too_many_arguments)]
pub async fn admit_parsed(
    rt: &Runtime,
    ctx: &RequestCtx,
    identity: &Identity,
    surface: Surface,
    body: &Bytes,
    obj: Option<&ferro_types::json::JsonObject<'_>>,
    model: &str,
    stream: bool,
) -> Result<(Gov, Option<Bytes>), ApiError> {
    if rt.plugins.is_empty() {
        return Ok((Gov { flight: None }, None));
    }
    let meta = RequestMeta {
        trace_id: ctx.trace_id.clone(),
        api_key_id: identity.id.clone(),
        surface,
        model: model.to_owned(),
        stream,
    };
    let Some(mut flight) = rt.plugins.start(meta, Some(body.clone())) else {
        return Ok((Gov { flight: None }, None));
    };
    if let Some(o) = obj {
        // budgets and token limits read it; spare them a second parse
        flight.know_declared_max_tokens(o.declared_max_tokens());
    }
    flight.before().await.map_err(|e| e.to_api_error())?;
    let rewritten = flight.rewritten_body();
    Ok((
        Gov {
            flight: Some(flight),
        },
        rewritten,
    ))
}

/// Pass-through (CONTRACT §1.4): `before_request` on the JSON body when there
/// is one (surface `passthrough`, never cached); a body the configured request
/// guardrails cannot read (`opaque`: not JSON, e.g. multipart) is refused
/// (400, plugin `gateway`). Answers are not
/// screened; finish with [`Gov::finish_passthrough`].
pub async fn admit_passthrough(
    rt: &Runtime,
    ctx: &RequestCtx,
    identity: &Identity,
    body: &Bytes,
    opaque: bool,
) -> Result<Gov, ApiError> {
    if rt.plugins.is_empty() {
        return Ok(Gov { flight: None });
    }
    let inspectable =
        !opaque && (body.is_empty() || ferro_types::json::JsonObject::parse(body).is_ok());
    if !inspectable && rt.plugins.screens_requests() {
        return Err(ApiError::new(
            400,
            ferro_types::ErrorType::InvalidRequestError,
            "request_rejected",
            "request rejected by gateway (before_request): the request body cannot be inspected by the configured guardrails",
        ));
    }
    let meta = RequestMeta {
        trace_id: ctx.trace_id.clone(),
        api_key_id: identity.id.clone(),
        surface: Surface::Passthrough,
        model: String::new(),
        stream: false,
    };
    let json = (inspectable && !body.is_empty()).then(|| body.clone());
    let mut flight = rt.plugins.start(meta, json);
    if let Some(f) = flight.as_mut() {
        f.before().await.map_err(|e| e.to_api_error())?;
    }
    Ok(Gov { flight })
}

impl Gov {
    /// The log hooks of a pass-through answer (unpriced: no usage is read).
    pub async fn finish_passthrough(&mut self, status: u16) {
        if let Some(f) = self.flight.as_mut() {
            f.finish(Outcome {
                status,
                delivered: (200..300).contains(&status),
                ..Outcome::default()
            })
            .await;
        }
    }

    /// The cached answer that replaces the provider call, if any.
    pub fn hit(&self) -> Option<Arc<Cached>> {
        self.flight.as_ref()?.cache_hit()
    }

    /// Passes `res` through; a failure runs `on_error` and the log hooks.
    pub async fn check<T>(&mut self, res: Result<T, ApiError>) -> Result<T, ApiError> {
        if let (Err(e), Some(f)) = (&res, self.flight.as_mut()) {
            f.fail(e.status, &e.message).await;
        }
        res
    }

    /// `after_request` on a JSON answer, then the log hooks (the answer is
    /// offered to the cache when `cacheable`).
    pub async fn after_json(
        &mut self,
        up: &Upstreamed,
        provider: &str,
        target: &str,
        cacheable: bool,
    ) -> Result<(), ApiError> {
        let Some(f) = self.flight.as_mut() else {
            return Ok(());
        };
        let view = ResponseView::new(&up.body, up.counts, false);
        f.after(&view).await.map_err(|e| e.to_api_error())?;
        let cacheable = cacheable.then(|| Cached {
            body: CachedBody::Json(up.body.clone()),
            provider: provider.to_owned(),
            target: target.to_owned(),
            usage: up.counts,
        });
        f.finish(Outcome {
            status: 200,
            usage: Some(up.counts),
            delivered: true,
            cacheable,
            ..Outcome::default()
        })
        .await;
        Ok(())
    }

    /// Governs a streamed answer: the tap for the relay, and the relay's
    /// `on_finish` wrapped so the log hooks see how the stream ended. Use
    /// [`GovStream::body`] to build the response body.
    pub fn stream(
        &mut self,
        on_finish: Box<dyn FnOnce(StreamSummary) + Send>,
        provider: &str,
        target: &str,
        cache_hit: bool,
    ) -> GovStream {
        let Some(mut flight) = self.flight.take() else {
            return GovStream {
                tap: None,
                on_finish,
                end: None,
            };
        };
        let tap = flight
            .stream_screen()
            .map(|s| Box::new(Tap(s)) as Box<dyn StreamTap>);
        let slot: Arc<Mutex<Option<StreamSummary>>> = Arc::default();
        let inner_slot = slot.clone();
        let on_finish: Box<dyn FnOnce(StreamSummary) + Send> = Box::new(move |s| {
            if let Ok(mut g) = inner_slot.lock() {
                *g = Some(s.clone());
            }
            on_finish(s);
        });
        GovStream {
            tap,
            on_finish,
            end: Some(StreamEnd {
                flight: Some(flight),
                slot,
                provider: provider.to_owned(),
                target: target.to_owned(),
                cache_hit,
            }),
        }
    }

    /// Answers from the cache: `after_request` still screens the answer and
    /// every log hook runs; the response carries the hit markers.
    pub async fn serve_hit(
        &mut self,
        state: &AppState,
        ctx: &RequestCtx,
        identity: &Identity,
        hit: &Cached,
        model: &str,
        client_wants_usage: bool,
    ) -> HResult {
        let extras = Extras {
            provider: &hit.provider,
            target: &hit.target,
            model,
            attempts: 0,
            overhead_ms: Some(ctx.start.elapsed().as_secs_f64() * 1000.0),
            cost_usd: Some(0.0),
            cache_hit: true,
        };
        match &hit.body {
            CachedBody::Json(body) => {
                if let Some(f) = self.flight.as_mut() {
                    let view = ResponseView::new(body, hit.usage, true);
                    f.after(&view).await.map_err(|e| e.to_api_error())?;
                    f.finish(Outcome {
                        status: 200,
                        usage: Some(hit.usage),
                        cache_hit: true,
                        delivered: true,
                        ..Outcome::default()
                    })
                    .await;
                }
                let out = rewrite_body(body, &hit.provider, &ctx.trace_id, Some(0.0), true)
                    .map(Bytes::from)
                    .unwrap_or_else(|| body.clone());
                let mut resp = (StatusCode::OK, out).into_response();
                resp.extensions_mut().insert(RouteInfo {
                    model: model.to_owned(),
                    provider: hit.provider.clone(),
                    target: hit.target.clone(),
                    usage: hit.usage,
                    cost_usd: Some(0.0),
                    cache_hit: true,
                    stream: false,
                });
                let h = resp.headers_mut();
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                extras.write_headers(h, true);
                Ok(resp)
            }
            CachedBody::Sse(events) => {
                let sink = state.sink.clone();
                let record = LogRecord {
                    trace_id: ctx.trace_id.clone(),
                    route: "chat",
                    model: model.to_owned(),
                    provider: hit.provider.clone(),
                    target: hit.target.clone(),
                    api_key_id: identity.id.clone(),
                    status: 200,
                    stream: true,
                    usage: hit.usage,
                    cost_usd: Some(0.0),
                    cache_hit: true,
                    error_message: None,
                    duration_ms: 0.0,
                    ttft_ms: None,
                    created_at: std::time::SystemTime::now(),
                };
                let start = ctx.start;
                let on_finish: Box<dyn FnOnce(StreamSummary) + Send> = Box::new(move |s| {
                    sink.record(LogRecord {
                        error_message: s.error.clone(),
                        duration_ms: start.elapsed().as_secs_f64() * 1000.0,
                        ttft_ms: s.ttft.map(|t| t.as_secs_f64() * 1000.0),
                        ..record
                    });
                });
                let replay = futures_util::stream::iter(
                    events
                        .iter()
                        .map(|e| Ok(ferro_types::sse::data_event(e)))
                        .collect::<Vec<_>>(),
                )
                .boxed();
                let gs = self.stream(on_finish, &hit.provider, &hit.target, true);
                let relay = SseRelay::new(
                    replay,
                    client_wants_usage,
                    None,
                    state.client.timeouts().idle,
                    ctx.start,
                    None,
                )
                .replaying_cache();
                let mut resp = Response::new(gs.body(relay));
                let h = resp.headers_mut();
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/event-stream"),
                );
                h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                extras.write_headers(h, false);
                resp.extensions_mut().insert(RouteInfo {
                    stream: true,
                    cache_hit: true,
                    ..Default::default()
                });
                Ok(resp)
            }
        }
    }
}

/// The governed parts of one streamed answer.
pub struct GovStream {
    /// The screen to install on the relay.
    pub tap: Option<Box<dyn StreamTap>>,
    /// The relay's `on_finish` (the caller's, wrapped).
    pub on_finish: Box<dyn FnOnce(StreamSummary) + Send>,
    end: Option<StreamEnd>,
}

impl GovStream {
    /// The response body: the relay, then the log hooks when it ends (before
    /// the body closes, so a client that read the whole stream sees their
    /// effects), or on drop when the client goes away first.
    ///
    /// `relay` must have been built with this `GovStream`'s `on_finish`; the
    /// tap is installed here.
    pub fn body(self, relay: SseRelay) -> Body {
        let GovStream {
            tap,
            on_finish,
            end,
        } = self;
        let relay = relay.with_tap(tap).with_on_finish(on_finish);
        let Some(end) = end else {
            return Body::from_stream(relay);
        };
        let tail = futures_util::stream::once(async move {
            end.run().await;
            None::<Result<Bytes, Infallible>>
        })
        .filter_map(|x| async move { x });
        Body::from_stream(relay.chain(tail))
    }
}

/// Finishes the flight of a stream from the relay's summary.
struct StreamEnd {
    flight: Option<Flight>,
    slot: Arc<Mutex<Option<StreamSummary>>>,
    provider: String,
    target: String,
    cache_hit: bool,
}

impl StreamEnd {
    fn outcome(&self, flight: &Flight) -> Outcome {
        let summary = self.slot.lock().ok().and_then(|mut g| g.take());
        let Some(s) = summary else {
            return Outcome {
                status: 499,
                cache_hit: self.cache_hit,
                ..Outcome::default()
            };
        };
        let clean = s.completed && s.error.is_none() && !s.cancelled;
        let usage = s.usage.unwrap_or_default();
        let cacheable = (clean && !self.cache_hit)
            .then(|| flight.take_capture())
            .flatten()
            .map(|events| Cached {
                body: CachedBody::Sse(events),
                provider: self.provider.clone(),
                target: self.target.clone(),
                usage,
            });
        Outcome {
            status: if s.cancelled { 499 } else { 200 },
            usage: s.usage,
            cache_hit: self.cache_hit,
            delivered: s.ttft.is_some(),
            cacheable,
        }
    }

    async fn run(mut self) {
        if let Some(mut f) = self.flight.take() {
            let outcome = self.outcome(&f);
            f.finish(outcome).await;
        }
    }
}

impl Drop for StreamEnd {
    fn drop(&mut self) {
        // The client went away before the end: finish on the runtime with
        // what the relay saw (it recorded its summary when it was dropped).
        let Some(mut f) = self.flight.take() else {
            return;
        };
        let outcome = self.outcome(&f);
        if let Ok(h) = tokio::runtime::Handle::try_current() {
            h.spawn(async move { f.finish(outcome).await });
        }
    }
}

/// The plugins' stream screen as the relay's tap.
struct Tap(StreamScreen);

impl StreamTap for Tap {
    fn on_data(&mut self, data: &[u8]) -> TapVerdict {
        match self.0.on_data(data) {
            Ok(ferro_plugins::Screen::Pass) => TapVerdict::Pass,
            Ok(ferro_plugins::Screen::Hold) => TapVerdict::Hold,
            Err(e) => TapVerdict::Reject(e.to_api_error().message.into_owned()),
        }
    }
    fn on_end(&mut self) -> TapVerdict {
        match self.0.on_end() {
            Ok(()) => TapVerdict::Pass,
            Err(e) => TapVerdict::Reject(e.to_api_error().message.into_owned()),
        }
    }
}
