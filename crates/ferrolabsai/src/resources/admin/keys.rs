//! `/admin/keys` (CONTRACT §4).

use crate::client::FerroClient;
use crate::error::Result;
use crate::transport::{items, json_body, seg};
use crate::types::admin::{
    ApiKey, CreateKeyRequest, CreatedApiKey, KeyUsageQuery, Page, UpdateKeyRequest,
};
use reqwest::Method;
use serde_json::Value;

/// API keys.
#[derive(Debug, Clone, Copy)]
pub struct Keys<'a> {
    pub(crate) client: &'a FerroClient,
}

impl Keys<'_> {
    fn key_url(&self, id: &str, suffix: &str) -> Result<reqwest::Url> {
        self.client
            .url(&format!("/admin/keys/{}{suffix}", seg(id)?))
    }

    /// `GET /admin/keys`: every key, secrets masked. Accepts a bare array or
    /// a `{keys|data: [...]}` envelope.
    pub async fn list(&self) -> Result<Vec<ApiKey>> {
        let url = self.client.url("/admin/keys")?;
        let v: Value = self.client.call(Method::GET, url, None).await?;
        items(v, &["keys", "data"])
    }

    /// `GET /admin/keys/{id}` (masked).
    pub async fn get(&self, id: &str) -> Result<ApiKey> {
        self.client
            .call(Method::GET, self.key_url(id, "")?, None)
            .await
    }

    /// `POST /admin/keys`: the answer holds the full secret, once.
    pub async fn create(&self, req: &CreateKeyRequest) -> Result<CreatedApiKey> {
        let url = self.client.url("/admin/keys")?;
        self.client
            .call(Method::POST, url, Some(json_body(req)?))
            .await
    }

    /// `PUT /admin/keys/{id}`: name, scopes, expiry, `active` (suspend/resume).
    pub async fn update(&self, id: &str, req: &UpdateKeyRequest) -> Result<ApiKey> {
        self.client
            .call(Method::PUT, self.key_url(id, "")?, Some(json_body(req)?))
            .await
    }

    /// `DELETE /admin/keys/{id}`: removes the record.
    pub async fn delete(&self, id: &str) -> Result<()> {
        self.client
            .call_unit(Method::DELETE, self.key_url(id, "")?)
            .await
    }

    /// `POST /admin/keys/{id}/revoke`: invalidates the key, keeps the record.
    pub async fn revoke(&self, id: &str) -> Result<()> {
        self.client
            .call_unit(Method::POST, self.key_url(id, "/revoke")?)
            .await
    }

    /// `POST /admin/keys/{id}/rotate`: a new secret for the same id; the old
    /// one stops working at once. Switch a client over with
    /// [`FerroClient::with_api_key`].
    pub async fn rotate(&self, id: &str) -> Result<CreatedApiKey> {
        self.client
            .call(Method::POST, self.key_url(id, "/rotate")?, None)
            .await
    }

    /// `GET /admin/keys/usage`: per-key usage, `{data, summary, filters}`.
    pub async fn usage(&self, q: &KeyUsageQuery) -> Result<Page<ApiKey>> {
        let url = self.client.url_q(
            "/admin/keys/usage",
            &[
                ("limit", Some(q.limit.to_string())),
                ("offset", Some(q.offset.to_string())),
                ("sort", Some(q.sort.clone())),
                ("active", q.active.map(|a| a.to_string())),
                ("since", q.since.clone()),
            ],
        )?;
        self.client.call(Method::GET, url, None).await
    }
}
