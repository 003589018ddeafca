//! The model catalog (client-side lookups), capabilities and probes.

use crate::client::FerroClient;
use crate::error::{ApiError, Error, Result};
use crate::types::models::{self, CapabilityMatrix, Health, ModelInfo, ModelList, Probe};
use reqwest::Method;

/// The model catalog. The gateway has one catalog route, `GET /v1/models`,
/// and ignores its query string, so every filter and lookup here is done
/// client-side over that one fetch (as the Python SDK does).
#[derive(Debug, Clone, Copy)]
pub struct Models<'a> {
    pub(crate) client: &'a FerroClient,
}

impl Models<'_> {
    async fn fetch(&self) -> Result<Vec<ModelInfo>> {
        let url = self.client.url("/v1/models")?;
        let list: ModelList = self.client.call(Method::GET, url, None).await?;
        Ok(list.data)
    }

    /// Every model the gateway can route to.
    pub async fn list(&self) -> Result<Vec<ModelInfo>> {
        self.fetch().await
    }

    /// Models whose `owned_by` equals `provider` and/or whose `capabilities`
    /// include `capability` (`vision`, `function_calling`, `streaming`, …).
    pub async fn list_filtered(
        &self,
        provider: Option<&str>,
        capability: Option<&str>,
    ) -> Result<Vec<ModelInfo>> {
        Ok(models::filter(self.fetch().await?, provider, capability))
    }

    /// The catalog entry of `id`; [`Error::NotFound`] with code
    /// `model_not_found` when absent (raised locally).
    pub async fn retrieve(&self, id: &str) -> Result<ModelInfo> {
        self.fetch()
            .await?
            .into_iter()
            .find(|m| m.id == id)
            .ok_or_else(|| {
                let mut e = ApiError::local(
                    "model_not_found",
                    format!("model {id:?} is not in the gateway catalog"),
                );
                e.status = Some(404);
                Error::NotFound(e)
            })
    }

    /// Models whose id contains `query`, case-insensitively.
    pub async fn search(&self, query: &str) -> Result<Vec<ModelInfo>> {
        Ok(models::search(self.fetch().await?, query))
    }
}

impl FerroClient {
    /// `GET /v1/capabilities`: the per-provider parameter support matrix.
    pub async fn capabilities(&self) -> Result<CapabilityMatrix> {
        let url = self.url("/v1/capabilities")?;
        self.call(Method::GET, url, None).await
    }

    /// `GET /health`. A 503 (degraded, no providers) is returned, not raised;
    /// see [`Health::http_status`].
    pub async fn health(&self) -> Result<Health> {
        let raw = self
            .execute(Method::GET, self.url("/health")?, None, true)
            .await?;
        let mut h: Health = raw.decode()?;
        h.http_status = raw.status;
        Ok(h)
    }

    /// `GET /readyz`. A 503 (`not_ready`) is returned, not raised.
    pub async fn ready(&self) -> Result<Probe> {
        self.probe("/readyz", true).await
    }

    /// `GET /livez`.
    pub async fn live(&self) -> Result<Probe> {
        self.probe("/livez", false).await
    }

    async fn probe(&self, path: &str, accept_503: bool) -> Result<Probe> {
        let raw = self
            .execute(Method::GET, self.url(path)?, None, accept_503)
            .await?;
        let mut p: Probe = raw.decode()?;
        p.http_status = raw.status;
        Ok(p)
    }
}
