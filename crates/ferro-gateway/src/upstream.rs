//! One upstream attempt: in-process for the mock provider, HTTP otherwise.

use crate::state::AppState;
use bytes::Bytes;
use ferro_providers::client::{UpstreamError, UpstreamResponse};
use ferro_providers::spec::Operation;
use ferro_providers::{mock, ProviderInstance};
use http::Method;

/// Sends `body` for `op` to `inst`.
pub async fn call(
    state: &AppState,
    inst: &ProviderInstance,
    op: Operation,
    body: Bytes,
) -> Result<UpstreamResponse, UpstreamError> {
    if inst.is_mock() {
        return Ok(mock::respond(op, &body, &inst.mock).await);
    }
    let url = inst.url(op);
    state
        .client
        .send(inst, Method::POST, &url, Some(body), &[])
        .await
}
