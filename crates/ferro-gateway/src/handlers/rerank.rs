//! `POST /v1/rerank` (CONTRACT §1.4): the Cohere v2 contract, served by the
//! rerank-capable providers of §9 — natively by cohere and bedrock (through
//! their adapters), by together, deepinfra and nvidia-nim through the pure
//! mappings of [`ferro_providers::rerank`] — on the same attempt loop
//! ([`pipeline::execute`]) and with the same extras as every routed surface.
//!
//! Routing: the model id is resolved like any other (`targets[].models`, the
//! catalog, `<instance>/<model>`); since the catalog lists no rerank models, an
//! id nobody claims goes to every rerank-capable target in configured order.
//! An id the index knows for other surfaces only is a 404 `model_not_found`.
//! `top_n: 0` is answered with no results and no upstream call; a negative
//! `top_n` is a 400. Priced per input token where the catalog prices the
//! model and the vendor reports tokens; else unpriced (`null`).

use super::{deadline, json_response, HResult, Upstreamed, MAX_UPSTREAM_BODY};
use crate::body::JsonBody;
use crate::error::{from_transport, from_upstream_status};
use crate::middleware::RequestCtx;
use crate::pipeline;
use crate::state::{AppState, Runtime};
use axum::extract::State;
use axum::Extension;
use bytes::Bytes;
use ferro_providers::native::{self, NativeAdapter};
use ferro_providers::rerank::{self, RerankRequest};
use ferro_providers::spec::{Operation, Wire};
use ferro_providers::ProviderInstance;
use ferro_router::{Resolution, RouteInput, TargetId};
use ferro_types::cost::{cost_usd, CostKind};
use ferro_types::usage::TokenCounts;
use ferro_types::{ApiError, ErrorType};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn unsupported(provider: &str) -> ApiError {
    ApiError::new(
        400,
        ErrorType::InvalidRequestError,
        "unsupported_parameter",
        format!("provider `{provider}` does not offer rerank through the gateway"),
    )
}

fn untranslatable() -> ApiError {
    ApiError::new(
        502,
        ErrorType::UpstreamError,
        "upstream_error",
        "the upstream answer could not be translated",
    )
}

/// Resolves the rerank model (see the module doc).
fn resolve<'a>(rt: &Runtime, model: &'a str) -> Result<Resolution<'a>, ApiError> {
    if let Some(r) = rt.router.resolve(model, Operation::Rerank) {
        return Ok(r);
    }
    let aliased = rt
        .config
        .as_ref()
        .and_then(|c| c.aliases.get(model))
        .map(String::as_str)
        .unwrap_or(model);
    if rt.router.model_info(aliased).is_some() {
        return Err(ApiError::model_not_found());
    }
    let candidates: Vec<TargetId> = (0..rt.router.targets.len())
        .filter(|t| {
            rt.router
                .instance(*t)
                .is_some_and(|i| i.spec.supports(Operation::Rerank))
        })
        .collect();
    if candidates.is_empty() {
        return Err(ApiError::model_not_found());
    }
    Ok(Resolution {
        model: Cow::Owned(aliased.to_owned()),
        candidates,
    })
}

/// One upstream attempt: build, sign, send, map errors, translate, price.
async fn attempt(
    state: &AppState,
    rt: &Runtime,
    inst: &ProviderInstance,
    req: &RerankRequest,
) -> Result<Upstreamed, ApiError> {
    let t0 = Instant::now();
    let model = req.model.as_str();
    let adapter: Option<&'static dyn NativeAdapter> = match inst.spec.wire {
        Wire::Native => Some(native::adapter(inst.spec.id).ok_or_else(|| unsupported(&inst.name))?),
        Wire::OpenAi => None,
        Wire::Mock => return Err(unsupported(&inst.name)),
    };
    let mut nreq = match adapter {
        Some(a) => a.rerank_request(inst, req, model)?,
        None => rerank::openai_request(inst, req, model)?,
    };
    if let Some(a) = adapter {
        a.authorize(state.client.http(), inst, &mut nreq)
            .await
            .map_err(|e| {
                tracing::warn!(provider = %inst.name, "upstream authorization failed: {}", rt.redactor.redact(&e));
                ApiError::new(502, ErrorType::UpstreamError, "upstream_auth_error", "could not obtain upstream credentials")
            })?;
    }
    let resp = state
        .client
        .send(inst, nreq.method, &nreq.url, Some(nreq.body), &nreq.headers)
        .await
        .map_err(|e| from_transport(&e))?;
    let (status, headers, body) = resp
        .into_bytes(MAX_UPSTREAM_BODY)
        .await
        .map_err(|e| from_transport(&e))?;
    let provider_time = t0.elapsed();
    let status = adapter.map_or(status, |a| a.map_status(status));
    if !(200..300).contains(&status) {
        let status = adapter.map_or(status, |a| a.error_status(status, &body));
        let body = adapter
            .and_then(|a| a.error_body(status, &body))
            .map(Bytes::from)
            .unwrap_or(body);
        return Err(from_upstream_status(status, &headers, &body, &rt.redactor));
    }
    let out = match adapter {
        Some(a) => a.rerank_response(req, &body),
        None => rerank::openai_response(inst.spec.id, req, &body),
    }
    .map_err(|e| {
        tracing::warn!(provider = %inst.name, "untranslatable rerank answer: {}", rt.redactor.redact(&e.0));
        untranslatable()
    })?;
    let counts = rerank::counts(&out);
    let cost = (counts.prompt > 0)
        .then(|| rt.router.pricing_entry(inst, model))
        .flatten()
        .and_then(|e| cost_usd(&e.pricing, CostKind::Embedding, &counts));
    Ok(Upstreamed {
        body: Bytes::from(out),
        counts,
        cost,
        provider_time,
        layout: None,
    })
}

pub async fn rerank(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    JsonBody(bytes): JsonBody,
) -> HResult {
    let rt = state.runtime.load_full();
    let mut req = RerankRequest::parse(&bytes)?;
    let res = resolve(&rt, &req.model)?;
    let input = RouteInput {
        model: &res.model,
        prompt: None,
        est_prompt_tokens: bytes.len() as u64 / 4 + 1,
    };
    let plan = pipeline::plan(&rt, &res, input)?;
    let model = res.model.to_string();
    req.model = model.clone();

    if req.top_n == Some(0) {
        // Nothing to rank: answered here, no upstream call.
        let tid = plan.order[0];
        let inst = rt
            .router
            .instance(tid)
            .ok_or_else(|| ApiError::internal("planned target has no instance"))?;
        let up = Upstreamed {
            body: Bytes::from(rerank::empty_answer(&req)),
            counts: TokenCounts::default(),
            cost: None,
            provider_time: Duration::ZERO,
            layout: None,
        };
        let target = &rt.router.targets[tid].name;
        return Ok(json_response(&ctx, inst, target, &model, 0, &up, &up.body));
    }

    let out = pipeline::execute(&rt, &plan, deadline(&rt, &ctx), |_, inst| {
        let (state, rt, req) = (&state, &rt, &req);
        async move { attempt(state, rt, &inst, req).await }
    })
    .await?;
    let target = &rt.router.targets[out.target].name;
    Ok(json_response(
        &ctx,
        &out.instance,
        target,
        &model,
        out.attempts,
        &out.value,
        &out.value.body,
    ))
}
