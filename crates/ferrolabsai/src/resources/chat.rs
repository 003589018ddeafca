//! `chat().completions()` and legacy `completions()`.

use crate::client::FerroClient;
use crate::error::{Error, Result};
use crate::stream::ChatCompletionStream;
use crate::transport::json_body;
use crate::types::chat::{ChatCompletion, ChatCompletionRequest};
use crate::types::inference::{Completion, CompletionRequest};
use bytes::Bytes;
use reqwest::Method;
use serde_json::Value;

/// The `chat` namespace.
#[derive(Debug, Clone, Copy)]
pub struct Chat<'a> {
    pub(crate) client: &'a FerroClient,
}

impl<'a> Chat<'a> {
    /// `POST /v1/chat/completions`.
    pub fn completions(&self) -> ChatCompletions<'a> {
        ChatCompletions {
            client: self.client,
        }
    }
}

/// Chat completions (`POST /v1/chat/completions`).
#[derive(Debug, Clone, Copy)]
pub struct ChatCompletions<'a> {
    pub(crate) client: &'a FerroClient,
}

/// The body with `stream` set (always sent, as the Python SDK does).
pub(crate) fn chat_body(req: &ChatCompletionRequest, stream: bool) -> Result<Bytes> {
    let mut v = serde_json::to_value(req)
        .map_err(|e| Error::invalid(format!("cannot serialise the request: {e}")))?;
    if let Some(o) = v.as_object_mut() {
        o.insert("stream".into(), Value::Bool(stream));
    }
    json_body(&v)
}

impl ChatCompletions<'_> {
    /// Creates a completion (`stream: false`). Retried per the policy: a POST
    /// is retried on 429 and connect errors only.
    pub async fn create(&self, req: &ChatCompletionRequest) -> Result<ChatCompletion> {
        let url = self.client.url("/v1/chat/completions")?;
        self.client
            .call_inference(Method::POST, url, Some(chat_body(req, false)?))
            .await
    }

    /// Streams a completion (`stream: true`, `Accept: text/event-stream`).
    /// A non-2xx answer is returned as an error here; never retried.
    pub async fn stream(&self, req: &ChatCompletionRequest) -> Result<ChatCompletionStream> {
        let url = self.client.url("/v1/chat/completions")?;
        let resp = self.client.open_stream(url, chat_body(req, true)?).await?;
        Ok(ChatCompletionStream::new(
            resp,
            self.client.auth.clone(),
            self.client.shared.timeout,
        ))
    }
}

/// Legacy completions (`POST /v1/completions`; no streaming).
#[derive(Debug, Clone, Copy)]
pub struct Completions<'a> {
    pub(crate) client: &'a FerroClient,
}

impl Completions<'_> {
    /// Creates a legacy completion.
    pub async fn create(&self, req: &CompletionRequest) -> Result<Completion> {
        let url = self.client.url("/v1/completions")?;
        self.client
            .call_inference(Method::POST, url, Some(json_body(req)?))
            .await
    }
}
