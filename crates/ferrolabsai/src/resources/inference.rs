//! Embeddings, images, moderations, rerank and the Responses API.

use crate::client::FerroClient;
use crate::error::Result;
use crate::transport::{json_body, seg};
use crate::types::inference::{
    EmbeddingRequest, EmbeddingResponse, ImageRequest, ImageResponse, ModerationRequest,
    ModerationResponse, RerankRequest, RerankResponse, Response,
};
use crate::types::Deleted;
use reqwest::Method;
use serde::Serialize;

/// `POST /v1/embeddings`.
#[derive(Debug, Clone, Copy)]
pub struct Embeddings<'a> {
    pub(crate) client: &'a FerroClient,
}

impl Embeddings<'_> {
    /// Embeds the input.
    pub async fn create(&self, req: &EmbeddingRequest) -> Result<EmbeddingResponse> {
        let url = self.client.url("/v1/embeddings")?;
        self.client
            .call_inference(Method::POST, url, Some(json_body(req)?))
            .await
    }
}

/// `POST /v1/images/generations`.
#[derive(Debug, Clone, Copy)]
pub struct Images<'a> {
    pub(crate) client: &'a FerroClient,
}

impl Images<'_> {
    /// Generates images.
    pub async fn generate(&self, req: &ImageRequest) -> Result<ImageResponse> {
        let url = self.client.url("/v1/images/generations")?;
        self.client
            .call_inference(Method::POST, url, Some(json_body(req)?))
            .await
    }
}

/// `POST /v1/moderations`.
#[derive(Debug, Clone, Copy)]
pub struct Moderations<'a> {
    pub(crate) client: &'a FerroClient,
}

impl Moderations<'_> {
    /// Classifies the input.
    pub async fn create(&self, req: &ModerationRequest) -> Result<ModerationResponse> {
        let url = self.client.url("/v1/moderations")?;
        self.client
            .call_inference(Method::POST, url, Some(json_body(req)?))
            .await
    }
}

/// The Responses API (`/v1/responses`).
#[derive(Debug, Clone, Copy)]
pub struct Responses<'a> {
    pub(crate) client: &'a FerroClient,
}

impl Responses<'_> {
    /// `POST /v1/responses` with `params` sent verbatim (any serialisable
    /// value, e.g. `serde_json::json!({"model": …, "input": …})`). Streaming
    /// is not wrapped.
    pub async fn create<P: Serialize + ?Sized>(&self, params: &P) -> Result<Response> {
        let url = self.client.url("/v1/responses")?;
        self.client
            .call_inference(Method::POST, url, Some(json_body(params)?))
            .await
    }

    /// `GET /v1/responses/{id}`.
    pub async fn retrieve(&self, id: &str) -> Result<Response> {
        let url = self.client.url(&format!("/v1/responses/{}", seg(id)?))?;
        self.client.call_inference(Method::GET, url, None).await
    }

    /// `DELETE /v1/responses/{id}`.
    pub async fn delete(&self, id: &str) -> Result<Deleted> {
        let url = self.client.url(&format!("/v1/responses/{}", seg(id)?))?;
        self.client.call(Method::DELETE, url, None).await
    }
}

impl FerroClient {
    /// `POST /v1/rerank` (Cohere v2 contract).
    pub async fn rerank(&self, req: &RerankRequest) -> Result<RerankResponse> {
        let url = self.url("/v1/rerank")?;
        self.call_inference(Method::POST, url, Some(json_body(req)?))
            .await
    }
}
