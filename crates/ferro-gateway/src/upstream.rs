//! One upstream attempt, whatever the provider's wire: in-process for the mock,
//! the client's bytes for OpenAI-wire vendors, translation for native ones.
//! Callers always get an OpenAI-shaped [`UpstreamResponse`] or an [`ApiError`].

use crate::error::from_transport;
use crate::handlers::MAX_UPSTREAM_BODY;
use crate::state::{AppState, Runtime};
use bytes::Bytes;
use ferro_providers::client::{UpstreamBody, UpstreamResponse};
use ferro_providers::native::{self, ModelFacts, NativeRequest};
use ferro_providers::spec::{Operation, Wire};
use ferro_providers::{mock, ProviderInstance};
use ferro_types::chat::ChatRequest;
use ferro_types::{ApiError, ErrorType};
use http::{HeaderName, Method};

/// W3C trace context, sent upstream when the request is traced.
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// What is being sent.
pub enum Payload<'a> {
    /// A chat request: the parsed view (for translation) and the OpenAI-wire body.
    Chat {
        req: &'a ChatRequest<'a>,
        openai_body: Bytes,
    },
    /// An OpenAI-wire JSON body of another surface.
    Json(Bytes),
}

impl Payload<'_> {
    fn openai_body(&self) -> Bytes {
        match self {
            Payload::Chat { openai_body, .. } => openai_body.clone(),
            Payload::Json(b) => b.clone(),
        }
    }
}

fn unsupported(op: Operation, provider: &str) -> ApiError {
    ApiError::new(
        400,
        ErrorType::InvalidRequestError,
        "unsupported_parameter",
        format!(
            "provider `{provider}` does not offer {} through the gateway",
            op.surface()
        ),
    )
}

/// Sends `payload` for `op` to `inst`. `stream` asks for an SSE answer (chat only).
pub async fn call(
    state: &AppState,
    rt: &Runtime,
    inst: &ProviderInstance,
    op: Operation,
    payload: Payload<'_>,
    model: &str,
    stream: bool,
) -> Result<UpstreamResponse, ApiError> {
    match inst.spec.wire {
        Wire::Mock => Ok(mock::respond(op, &payload.openai_body(), &inst.mock).await),
        Wire::OpenAi => {
            let tp = crate::observe::traceparent().map(|v| (TRACEPARENT, v));
            let body = Some(payload.openai_body());
            let sent = match inst.parsed_url(op) {
                Some(url) => {
                    state
                        .client
                        .send(inst, Method::POST, url, body, tp.as_slice())
                        .await
                }
                // not a valid URL: let the client report it as usual
                None => {
                    state
                        .client
                        .send(inst, Method::POST, &inst.url(op), body, tp.as_slice())
                        .await
                }
            };
            sent.map_err(|e| from_transport(&e))
        }
        Wire::Native => {
            let adapter =
                native::adapter(inst.spec.id).ok_or_else(|| unsupported(op, &inst.name))?;
            let mut nreq: NativeRequest = match (&payload, op) {
                (Payload::Chat { req, .. }, Operation::Chat | Operation::Completions) => {
                    let facts = ModelFacts {
                        max_output_tokens: rt
                            .router
                            .pricing_entry(inst, model)
                            .and_then(|e| e.max_output_tokens)
                            .filter(|m| *m > 0),
                    };
                    adapter.chat_request(inst, req, model, facts, rt.unsupported_policy)?
                }
                (Payload::Json(body), Operation::Embeddings) => {
                    adapter.embed_request(inst, body, model)?
                }
                _ => return Err(unsupported(op, &inst.name)),
            };
            adapter
                .authorize(state.client.http(), inst, &mut nreq)
                .await
                .map_err(|e| {
                    tracing::warn!(provider = %inst.name, "upstream authorization failed: {}", rt.redactor.redact(&e));
                    ApiError::new(502, ErrorType::UpstreamError, "upstream_auth_error", "could not obtain upstream credentials")
                })?;
            if let Some(v) = crate::observe::traceparent() {
                nreq.headers.push((TRACEPARENT, v));
            }
            let resp = state
                .client
                .send(inst, nreq.method, &nreq.url, Some(nreq.body), &nreq.headers)
                .await
                .map_err(|e| from_transport(&e))?;
            if op == Operation::Embeddings {
                let status = adapter.map_status(resp.status);
                let (_, headers, body) = resp
                    .into_bytes(MAX_UPSTREAM_BODY)
                    .await
                    .map_err(|e| from_transport(&e))?;
                let status = if (200..300).contains(&status) {
                    status
                } else {
                    adapter.error_status(status, &body)
                };
                let body = if (200..300).contains(&status) {
                    adapter
                        .embed_response_for(&payload.openai_body(), &body, model)
                        .map(Bytes::from)
                        .map_err(|_| {
                            ApiError::new(
                                502,
                                ErrorType::UpstreamError,
                                "upstream_error",
                                "the upstream answer could not be translated",
                            )
                        })?
                } else {
                    adapter
                        .error_body(status, &body)
                        .map(Bytes::from)
                        .unwrap_or(body)
                };
                return Ok(UpstreamResponse {
                    status,
                    headers,
                    body: UpstreamBody::Full(body),
                });
            }
            native::translate_chat_response(adapter, resp, model, stream, MAX_UPSTREAM_BODY)
                .await
                .map_err(|e| from_transport(&e))
        }
    }
}
