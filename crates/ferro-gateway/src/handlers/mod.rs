//! Route handlers. Every routed surface goes through [`call_json`] or the stream
//! path of [`chat`], so extras, cost and error mapping cannot differ between them.

pub mod capabilities;
pub mod chat;
pub mod models;
pub mod passthrough;
pub mod probes;
pub mod rerank;
pub mod surfaces;

use crate::error::{from_transport, from_upstream_status, GwError};
use crate::extras::{body_usage, rewrite_body, rewrite_laid_out, Extras};
use crate::middleware::RequestCtx;
use crate::state::{AppState, Runtime};
use crate::upstream;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use ferro_providers::spec::Operation;
use ferro_providers::ProviderInstance;
use ferro_types::cost::{cost_usd, CostKind};
use ferro_types::json::ObjectLayout;
use ferro_types::usage::TokenCounts;
use ferro_types::ApiError;
use http::{header, HeaderValue, StatusCode};
use std::time::{Duration, Instant};

/// Largest upstream JSON body the gateway will buffer.
pub const MAX_UPSTREAM_BODY: usize = 64 * 1024 * 1024;

/// How a surface's usage is priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceAs {
    Chat,
    Embedding,
    Image,
    Unpriced,
}

/// A successful non-streaming upstream answer.
pub struct Upstreamed {
    pub body: Bytes,
    pub counts: TokenCounts,
    pub cost: Option<f64>,
    pub provider_time: Duration,
    /// `body`'s top-level layout (from the usage read), for the rewrite.
    pub layout: Option<ObjectLayout>,
}

/// One non-streaming upstream call: send, read, map errors, price.
pub async fn call_json(
    state: &AppState,
    rt: &Runtime,
    inst: &ProviderInstance,
    op: Operation,
    payload: upstream::Payload<'_>,
    model: &str,
    price_as: PriceAs,
) -> Result<Upstreamed, ApiError> {
    {
        let t0 = Instant::now();
        let resp = upstream::call(state, rt, inst, op, payload, model, false).await?;
        let (status, headers, bytes) = resp
            .into_bytes(MAX_UPSTREAM_BODY)
            .await
            .map_err(|e| from_transport(&e))?;
        let provider_time = t0.elapsed();
        if !(200..300).contains(&status) {
            return Err(from_upstream_status(status, &headers, &bytes, &rt.redactor));
        }
        let (counts, items, layout) = body_usage(&bytes).unwrap_or_default();
        let kind = match price_as {
            PriceAs::Chat => Some(CostKind::Chat),
            PriceAs::Embedding => Some(CostKind::Embedding),
            PriceAs::Image => Some(CostKind::Image(items as u64)),
            PriceAs::Unpriced => None,
        };
        let cost = kind.and_then(|k| {
            rt.router
                .pricing_entry(inst, model)
                .and_then(|e| cost_usd(&e.pricing, k, &counts))
        });
        Ok(Upstreamed {
            body: bytes,
            counts,
            cost,
            provider_time,
            layout,
        })
    }
}

/// The request's deadline (`request_timeout`, non-streaming only).
pub fn deadline(rt: &Runtime, ctx: &RequestCtx) -> Option<Instant> {
    rt.request_timeout.map(|t| ctx.start + t)
}

/// Builds the client response of a JSON surface with the extras of ★3.
pub fn json_response(
    ctx: &RequestCtx,
    inst: &ProviderInstance,
    target: &str,
    model: &str,
    attempts: u32,
    up: &Upstreamed,
    body: &[u8],
) -> Response {
    let overhead = ctx.start.elapsed().saturating_sub(up.provider_time);
    let extras = Extras {
        provider: &inst.name,
        target,
        model,
        attempts,
        overhead_ms: Some(overhead.as_secs_f64() * 1000.0),
        cost_usd: up.cost,
        cache_hit: false,
    };
    let same = body.as_ptr() == up.body.as_ptr() && body.len() == up.body.len();
    let out = match (&up.layout, same) {
        (Some(l), true) => Some(rewrite_laid_out(
            body,
            l,
            &inst.name,
            &ctx.trace_id,
            up.cost,
        )),
        _ => rewrite_body(body, &inst.name, &ctx.trace_id, up.cost, false),
    }
    .map(Bytes::from)
    .unwrap_or_else(|| Bytes::copy_from_slice(body));
    let mut resp = (StatusCode::OK, out).into_response();
    resp.extensions_mut().insert(crate::record::RouteInfo {
        model: model.to_owned(),
        provider: inst.name.clone(),
        target: target.to_owned(),
        usage: up.counts,
        cost_usd: up.cost,
        cache_hit: false,
        stream: false,
    });
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    extras.write_headers(h, true);
    resp
}

/// Result type of handlers.
pub type HResult = Result<Response, GwError>;
