//! `POST /v1/embeddings`, `/v1/images/generations`, `/v1/moderations`: one
//! model-routed JSON pipeline.

use super::{call_json, deadline, json_response, HResult, PriceAs};
use crate::auth::Identity;
use crate::body::JsonBody;
use crate::governance;
use crate::middleware::RequestCtx;
use crate::pipeline;
use crate::state::AppState;
use crate::upstream::Payload;
use axum::extract::State;
use axum::Extension;
use bytes::Bytes;
use ferro_providers::openai_compat;
use ferro_providers::spec::Operation;
use ferro_router::{Resolution, RouteInput};
use ferro_types::chat::{ModelRequest, Surface};
use ferro_types::ApiError;
use std::borrow::Cow;
use std::sync::Arc;

async fn serve(
    state: Arc<AppState>,
    ctx: RequestCtx,
    identity: Identity,
    bytes: Bytes,
    surface: Surface,
) -> HResult {
    let (op, price_as) = match surface {
        Surface::Embeddings => (Operation::Embeddings, PriceAs::Embedding),
        Surface::Images => (Operation::Images, PriceAs::Image),
        Surface::Moderations => (Operation::Moderations, PriceAs::Unpriced),
    };
    let rt = state.runtime.load_full();
    let governed_as = match surface {
        Surface::Embeddings => ferro_plugins::Surface::Embeddings,
        Surface::Images => ferro_plugins::Surface::Images,
        Surface::Moderations => ferro_plugins::Surface::Moderations,
    };
    let (mut gov, bytes) = governance::admit(&rt, &ctx, &identity, governed_as, bytes, |b| {
        let req = ModelRequest::parse(b, surface)?;
        let model = match &req.model {
            Some(m) => rt
                .router
                .resolve(m, op)
                .ok_or_else(ApiError::model_not_found)?
                .model
                .into_owned(),
            None => String::new(),
        };
        Ok((model, false))
    })
    .await?;
    let req = ModelRequest::parse(&bytes, surface)?;
    let res = match &req.model {
        Some(m) => rt
            .router
            .resolve(m, op)
            .ok_or_else(ApiError::model_not_found)?,
        None => {
            // ★9: moderations without `model` use the first target offering moderation.
            let tid = rt
                .router
                .first_supporting(op)
                .ok_or_else(ApiError::model_not_found)?;
            let default = match rt.router.instance(tid).map(|i| i.spec.id) {
                Some("mistral") => "mistral-moderation-latest",
                _ => "omni-moderation-latest",
            };
            Resolution {
                model: Cow::Borrowed(default),
                candidates: vec![tid],
            }
        }
    };
    let input = RouteInput {
        model: &res.model,
        prompt: None,
        est_prompt_tokens: bytes.len() as u64 / 4 + 1,
    };
    let plan = gov.check(pipeline::plan(&rt, &res, input)).await?;
    let model: &str = &res.model;
    let upstream_body = openai_compat::model_body(&req.obj, req.model.as_deref(), model)
        .map(Bytes::from)
        .unwrap_or_else(|| bytes.clone());
    let out = pipeline::execute(&rt, &plan, deadline(&rt, &ctx), |_, inst| {
        let payload = Payload::Json(upstream_body.clone());
        let (state, rt) = (&state, &rt);
        async move { call_json(state, rt, &inst, op, payload, model, price_as).await }
    })
    .await;
    let out = gov.check(out).await?;
    let target = &rt.router.targets[out.target].name;
    gov.after_json(&out.value, &out.instance.name, target, false)
        .await?;
    Ok(json_response(
        &ctx,
        &out.instance,
        target,
        model,
        out.attempts,
        &out.value,
        &out.value.body,
    ))
}

pub async fn embeddings(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Extension(identity): Extension<Identity>,
    JsonBody(bytes): JsonBody,
) -> HResult {
    serve(state, ctx, identity, bytes, Surface::Embeddings).await
}

pub async fn images(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Extension(identity): Extension<Identity>,
    JsonBody(bytes): JsonBody,
) -> HResult {
    serve(state, ctx, identity, bytes, Surface::Images).await
}

pub async fn moderations(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Extension(identity): Extension<Identity>,
    JsonBody(bytes): JsonBody,
) -> HResult {
    serve(state, ctx, identity, bytes, Surface::Moderations).await
}
