//! `POST /v1/chat/completions` (JSON and SSE) and legacy `POST /v1/completions`.

use super::{call_json, json_response, HResult, PriceAs};
use crate::auth::Identity;
use crate::body::read_json;
use crate::error::{from_transport, from_upstream_status};
use crate::extras::Extras;
use crate::middleware::RequestCtx;
use crate::record::{LogRecord, RouteInfo};
use crate::state::{AppState, Runtime};
use crate::stream::{SseRelay, StreamSummary};
use crate::upstream::{self, Payload};
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use bytes::Bytes;
use ferro_providers::openai_compat;
use ferro_providers::spec::Operation;
use ferro_router::Resolution;
use ferro_types::chat::{ChatRequest, LegacyCompletion};
use ferro_types::ApiError;
use http::{header, HeaderMap, HeaderValue};
use std::sync::Arc;

fn resolve<'a>(rt: &Runtime, model: &'a str, op: Operation) -> Result<Resolution<'a>, ApiError> {
    rt.router
        .resolve(model, op)
        .ok_or_else(ApiError::model_not_found)
}

pub async fn chat_completions(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Extension(identity): Extension<Identity>,
    headers: HeaderMap,
    body: Body,
) -> HResult {
    let rt = state.runtime.load_full();
    let bytes = read_json(&headers, body, rt.max_request_bytes).await?;
    let req = ChatRequest::parse(&bytes)?;
    let res = resolve(&rt, &req.model, Operation::Chat)?;
    let tid = res.candidates[0];
    let target = &rt.router.targets[tid];
    let inst = rt
        .router
        .instance(tid)
        .ok_or_else(ApiError::model_not_found)?
        .clone();
    let upstream_body = openai_compat::chat_body(&req, &res.model, inst.spec)
        .map(Bytes::from)
        .unwrap_or_else(|| bytes.clone());

    if !req.stream {
        let up = call_json(
            &state,
            &rt,
            &inst,
            Operation::Chat,
            Payload::Chat {
                req: &req,
                openai_body: upstream_body,
            },
            &res.model,
            PriceAs::Chat,
        )
        .await?;
        return Ok(json_response(
            &ctx,
            &inst,
            &target.name,
            &res.model,
            &up,
            &up.body,
        ));
    }

    // Streaming: wait for the upstream's status before committing to a 200.
    let payload = Payload::Chat {
        req: &req,
        openai_body: upstream_body,
    };
    let resp = upstream::call(
        &state,
        &rt,
        &inst,
        Operation::Chat,
        payload,
        &res.model,
        true,
    )
    .await?;
    if resp.status != 200 {
        let (status, h, b) = resp
            .into_bytes(super::MAX_UPSTREAM_BODY)
            .await
            .map_err(|e| from_transport(&e))?;
        return Err(from_upstream_status(status, &h, &b, &rt.redactor).into());
    }
    let pricing = rt
        .router
        .pricing_entry(&inst, &res.model)
        .map(|e| e.pricing.clone());
    let upstream_stream = match resp.body {
        ferro_providers::client::UpstreamBody::Stream(s) => s,
        ferro_providers::client::UpstreamBody::Full(b) => {
            futures_util::StreamExt::boxed(futures_util::stream::once(async move { Ok(b) }))
        }
    };
    let sink = state.sink.clone();
    let base = LogRecord {
        trace_id: ctx.trace_id.clone(),
        route: "chat",
        model: res.model.to_string(),
        provider: inst.name.clone(),
        target: target.name.clone(),
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
    let on_finish = Box::new(move |s: StreamSummary| {
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
    let relay = SseRelay::new(
        upstream_stream,
        req.client_wants_usage,
        pricing,
        state.client.timeouts().idle,
        ctx.start,
        Some(on_finish),
    );
    let mut out = Response::new(Body::from_stream(relay));
    let h = out.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Extras {
        provider: &inst.name,
        target: &target.name,
        model: &res.model,
        attempts: 1,
        overhead_ms: Some(ctx.start.elapsed().as_secs_f64() * 1000.0),
        cost_usd: None,
        cache_hit: false,
    }
    .write_headers(h, false);
    out.extensions_mut().insert(RouteInfo {
        stream: true,
        ..Default::default()
    });
    Ok(out)
}

/// Legacy completions: one user message through chat routing, answered in the
/// `text_completion` shape.
pub async fn completions(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    headers: HeaderMap,
    body: Body,
) -> HResult {
    let rt = state.runtime.load_full();
    let bytes = read_json(&headers, body, rt.max_request_bytes).await?;
    let legacy = LegacyCompletion::parse(&bytes)?;
    let req = ChatRequest::parse(&legacy.chat_body)?;
    let res = resolve(&rt, &legacy.model, Operation::Chat)?;
    let tid = res.candidates[0];
    let target_name = rt.router.targets[tid].name.clone();
    let inst = rt
        .router
        .instance(tid)
        .ok_or_else(ApiError::model_not_found)?
        .clone();
    let upstream_body = openai_compat::chat_body(&req, &res.model, inst.spec)
        .map(Bytes::from)
        .unwrap_or_else(|| Bytes::from(legacy.chat_body.clone()));
    let up = call_json(
        &state,
        &rt,
        &inst,
        Operation::Chat,
        Payload::Chat {
            req: &req,
            openai_body: upstream_body,
        },
        &res.model,
        PriceAs::Chat,
    )
    .await?;
    let text_body = to_text_completion(&up.body, &legacy).ok_or_else(|| {
        ApiError::new(
            502,
            ferro_types::ErrorType::UpstreamError,
            "upstream_error",
            "the upstream answer was not a chat completion",
        )
    })?;
    Ok(json_response(
        &ctx,
        &inst,
        &target_name,
        &res.model,
        &up,
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
    let mut bytes = Vec::new();
    serde_json::to_writer(&mut bytes, &out).ok()?;
    Some(bytes)
}
