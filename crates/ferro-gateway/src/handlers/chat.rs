//! `POST /v1/chat/completions` (JSON and SSE) and legacy `POST /v1/completions`.

use super::{call_json, deadline, json_response, HResult, PriceAs, MAX_UPSTREAM_BODY};
use crate::auth::Identity;
use crate::body::JsonBody;
use crate::error::{from_transport, from_upstream_status};
use crate::extras::Extras;
use crate::governance;
use crate::middleware::RequestCtx;
use crate::pipeline;
use crate::record::{LogRecord, RouteInfo};
use crate::state::{AppState, Runtime};
use crate::stream::{SseRelay, StreamSummary};
use crate::upstream::{self, Payload};
use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use bytes::Bytes;
use ferro_plugins::Surface;
use ferro_providers::client::{UpstreamBody, UpstreamResponse};
use ferro_providers::openai_compat;
use ferro_providers::spec::{Operation, ProviderSpec};
use ferro_router::{Resolution, RouteInput};
use ferro_types::chat::{ChatRequest, LegacyCompletion};
use ferro_types::{ApiError, ErrorType};
use futures_util::StreamExt;
use http::{header, HeaderValue};
use std::sync::{Arc, OnceLock};

fn resolve<'a>(rt: &Runtime, model: &'a str, op: Operation) -> Result<Resolution<'a>, ApiError> {
    rt.router
        .resolve(model, op)
        .ok_or_else(ApiError::model_not_found)
}

/// The OpenAI-wire upstream bodies of one request, built at most once per
/// variant and shared by every attempt (a clone of `Bytes` is a refcount).
struct ChatBodies<'a> {
    req: &'a ChatRequest<'a>,
    model: &'a str,
    original: &'a Bytes,
    plain: OnceLock<Bytes>,
    promoted: OnceLock<Bytes>,
}

impl<'a> ChatBodies<'a> {
    fn new(req: &'a ChatRequest<'a>, model: &'a str, original: &'a Bytes) -> Self {
        ChatBodies {
            req,
            model,
            original,
            plain: OnceLock::new(),
            promoted: OnceLock::new(),
        }
    }

    fn for_spec(&self, spec: &ProviderSpec) -> Bytes {
        let cell = if spec.promote_max_tokens {
            &self.promoted
        } else {
            &self.plain
        };
        cell.get_or_init(|| {
            openai_compat::chat_body(self.req, self.model, spec)
                .map(Bytes::from)
                .unwrap_or_else(|| self.original.clone())
        })
        .clone()
    }
}

/// Text of all messages, for content-based routing.
fn prompt_text(req: &ChatRequest<'_>) -> String {
    let Some(msgs) = req.obj.get("messages") else {
        return String::new();
    };
    let v: Vec<serde_json::Value> = serde_json::from_str(msgs.get()).unwrap_or_default();
    let mut out = String::new();
    for m in &v {
        match m.get("content") {
            Some(serde_json::Value::String(s)) => out.push_str(s),
            Some(serde_json::Value::Array(parts)) => {
                for p in parts {
                    if let Some(t) = p.get("text").and_then(|t| t.as_str()) {
                        out.push_str(t);
                    }
                }
            }
            _ => {}
        }
        out.push('\n');
    }
    out
}

fn route_input<'a>(model: &'a str, prompt: &'a Option<String>, body_len: usize) -> RouteInput<'a> {
    RouteInput {
        model,
        prompt: prompt.as_deref(),
        est_prompt_tokens: body_len as u64 / 4 + 1,
    }
}

/// Waits for the first upstream bytes of a stream (the commit point): a failure
/// before them is an error the pipeline may retry or fail over; after them the
/// client gets a 200.
async fn commit_stream(resp: UpstreamResponse, rt: &Runtime) -> Result<UpstreamResponse, ApiError> {
    if resp.status != 200 {
        let (status, h, b) = resp
            .into_bytes(MAX_UPSTREAM_BODY)
            .await
            .map_err(|e| from_transport(&e))?;
        return Err(from_upstream_status(status, &h, &b, &rt.redactor));
    }
    let mut stream = match resp.body {
        UpstreamBody::Stream(s) => s,
        UpstreamBody::Full(b) => futures_util::stream::once(async move { Ok(b) }).boxed(),
    };
    match stream.next().await {
        Some(Ok(first)) => Ok(UpstreamResponse {
            status: 200,
            headers: resp.headers,
            body: UpstreamBody::Stream(
                futures_util::stream::once(async move { Ok(first) })
                    .chain(stream)
                    .boxed(),
            ),
        }),
        Some(Err(e)) => Err(from_transport(&e)),
        None => Err(ApiError::new(
            502,
            ErrorType::UpstreamError,
            "upstream_error",
            "the upstream stream ended before any data",
        )
        .with_origin(ferro_types::ErrorOrigin::Transport)),
    }
}

/// A non-streaming chat request through the pipeline (chat and legacy completions).
async fn chat_json(
    state: &AppState,
    rt: &Runtime,
    ctx: &RequestCtx,
    plan: &pipeline::Plan,
    req: &ChatRequest<'_>,
    bodies: &ChatBodies<'_>,
    model: &str,
) -> Result<pipeline::Outcome<super::Upstreamed>, ApiError> {
    pipeline::execute(rt, plan, deadline(rt, ctx), |_, inst| {
        let payload = Payload::Chat {
            req,
            openai_body: bodies.for_spec(inst.spec),
        };
        async move {
            call_json(
                state,
                rt,
                &inst,
                Operation::Chat,
                payload,
                model,
                PriceAs::Chat,
            )
            .await
        }
    })
    .await
}

pub async fn chat_completions(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Extension(identity): Extension<Identity>,
    JsonBody(bytes): JsonBody,
) -> HResult {
    let rt = state.runtime.load_full();
    // Parsed once; again only when a plugin rewrote the body.
    let first = ChatRequest::parse(&bytes)?;
    let (mut gov, rewritten) = {
        let res = resolve(&rt, &first.model, Operation::Chat)?;
        governance::admit_parsed(
            &rt,
            &ctx,
            &identity,
            Surface::Chat,
            &bytes,
            Some(&first.obj),
            &res.model,
            first.stream,
        )
        .await?
    };
    let (req, bytes) = match &rewritten {
        None => (first, &bytes),
        Some(b) => (ChatRequest::parse(b)?, b),
    };
    let res = resolve(&rt, &req.model, Operation::Chat)?;
    if let Some(hit) = gov.hit() {
        return gov
            .serve_hit(
                &state,
                &ctx,
                &identity,
                &hit,
                &res.model,
                req.client_wants_usage,
            )
            .await;
    }
    let prompt = rt.router.strategy.needs_prompt().then(|| prompt_text(&req));
    let plan = gov
        .check(pipeline::plan(
            &rt,
            &res,
            route_input(&res.model, &prompt, bytes.len()),
        ))
        .await?;
    let bodies = ChatBodies::new(&req, &res.model, bytes);
    let model: &str = &res.model;

    if !req.stream {
        let out = chat_json(&state, &rt, &ctx, &plan, &req, &bodies, model).await;
        let out = gov.check(out).await?;
        let target = &rt.router.targets[out.target].name;
        let up = &out.value;
        gov.after_json(up, &out.instance.name, target, true).await?;
        return Ok(json_response(
            &ctx,
            &out.instance,
            target,
            model,
            out.attempts,
            up,
            &up.body,
        ));
    }

    let out = pipeline::execute(&rt, &plan, None, |_, inst| {
        let payload = Payload::Chat {
            req: &req,
            openai_body: bodies.for_spec(inst.spec),
        };
        let (state, rt) = (&state, &rt);
        async move {
            let resp =
                upstream::call(state, rt, &inst, Operation::Chat, payload, model, true).await?;
            commit_stream(resp, rt).await
        }
    })
    .await;
    let out = gov.check(out).await?;
    let inst = out.instance.clone();
    let target_name = rt.router.targets[out.target].name.clone();
    let pricing = rt
        .router
        .pricing_entry(&inst, model)
        .map(|e| e.pricing.clone());
    let upstream_stream = match out.value.body {
        UpstreamBody::Stream(s) => s,
        UpstreamBody::Full(b) => futures_util::stream::once(async move { Ok(b) }).boxed(),
    };
    let sink = state.sink.clone();
    let base = LogRecord {
        trace_id: ctx.trace_id.clone(),
        route: "chat",
        model: model.to_owned(),
        provider: inst.name.clone(),
        target: target_name.clone(),
        api_key_id: identity.id.clone(),
        status: 200,
        stream: true,
        usage: Default::default(),
        cost_usd: None,
        cache_hit: false,
        error_message: None,
        duration_ms: 0.0,
        ttft_ms: None,
        created_at: std::time::SystemTime::now(),
    };
    let start = ctx.start;
    let permit = out.permit;
    let on_finish = Box::new(move |s: StreamSummary| {
        drop(permit);
        let error_message = match (&s.error, s.cancelled) {
            (Some(e), _) => Some(e.clone()),
            (None, true) => Some("client disconnected".to_owned()),
            _ => None,
        };
        sink.record(LogRecord {
            usage: s.usage.unwrap_or_default(),
            cost_usd: s.cost_usd,
            error_message,
            duration_ms: start.elapsed().as_secs_f64() * 1000.0,
            ttft_ms: s.ttft.map(|t| t.as_secs_f64() * 1000.0),
            ..base
        });
    });
    let governed = gov.stream(on_finish, &inst.name, &target_name, false);
    let relay = SseRelay::new(
        upstream_stream,
        req.client_wants_usage,
        pricing,
        state.client.timeouts().idle,
        ctx.start,
        None,
    );
    let mut resp = Response::new(governed.body(relay));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Extras {
        provider: &inst.name,
        target: &target_name,
        model,
        attempts: out.attempts,
        overhead_ms: Some(ctx.start.elapsed().as_secs_f64() * 1000.0),
        cost_usd: None,
        cache_hit: false,
    }
    .write_headers(h, false);
    resp.extensions_mut().insert(RouteInfo {
        stream: true,
        ..Default::default()
    });
    Ok(resp)
}

/// Legacy completions: one user message through chat routing, answered in the
/// `text_completion` shape.
pub async fn completions(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Extension(identity): Extension<Identity>,
    JsonBody(bytes): JsonBody,
) -> HResult {
    let rt = state.runtime.load_full();
    let legacy = LegacyCompletion::parse(&bytes)?;
    let chat_bytes = Bytes::from(legacy.chat_body.clone());
    let (mut gov, chat_bytes) = governance::admit(
        &rt,
        &ctx,
        &identity,
        Surface::Completions,
        chat_bytes,
        |_| {
            let res = resolve(&rt, &legacy.model, Operation::Chat)?;
            Ok((res.model.into_owned(), false))
        },
    )
    .await?;
    let req = ChatRequest::parse(&chat_bytes)?;
    let res = resolve(&rt, &legacy.model, Operation::Chat)?;
    let prompt = rt
        .router
        .strategy
        .needs_prompt()
        .then(|| legacy.prompt.clone());
    let plan = gov
        .check(pipeline::plan(
            &rt,
            &res,
            route_input(&res.model, &prompt, bytes.len()),
        ))
        .await?;
    let bodies = ChatBodies::new(&req, &res.model, &chat_bytes);
    let model: &str = &res.model;
    let out = chat_json(&state, &rt, &ctx, &plan, &req, &bodies, model).await;
    let out = gov.check(out).await?;
    let target = &rt.router.targets[out.target].name;
    gov.after_json(&out.value, &out.instance.name, target, false)
        .await?;
    let text_body = to_text_completion(&out.value.body, &legacy).ok_or_else(|| {
        ApiError::new(
            502,
            ErrorType::UpstreamError,
            "upstream_error",
            "the upstream answer was not a chat completion",
        )
    })?;
    Ok(json_response(
        &ctx,
        &out.instance,
        target,
        model,
        out.attempts,
        &out.value,
        &text_body,
    ))
}

/// Chat completion → text completion (`echo` prepends the prompt).
fn to_text_completion(chat: &[u8], legacy: &LegacyCompletion) -> Option<Vec<u8>> {
    let v: serde_json::Value = serde_json::from_slice(chat).ok()?;
    let choices: Vec<serde_json::Value> = v
        .get("choices")?
        .as_array()?
        .iter()
        .map(|c| {
            let text = c
                .pointer("/message/content")
                .and_then(|t| t.as_str())
                .unwrap_or("");
            let text = if legacy.echo {
                format!("{}{}", legacy.prompt, text)
            } else {
                text.to_owned()
            };
            serde_json::json!({
                "text": text,
                "index": c.get("index").cloned().unwrap_or(serde_json::json!(0)),
                "logprobs": null,
                "finish_reason": c.get("finish_reason").cloned().unwrap_or(serde_json::Value::Null),
            })
        })
        .collect();
    let id = v.get("id").and_then(|i| i.as_str()).unwrap_or("");
    let mut out = serde_json::json!({
        "id": id.replacen("chatcmpl", "cmpl", 1),
        "object": "text_completion",
        "created": v.get("created").cloned().unwrap_or(serde_json::json!(0)),
        "model": v.get("model").cloned().unwrap_or(serde_json::json!(legacy.model)),
        "choices": choices,
    });
    if let Some(u) = v.get("usage") {
        out["usage"] = u.clone();
    }
    serde_json::to_vec(&out).ok()
}
