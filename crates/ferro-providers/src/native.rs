//! The native-adapter interface: providers whose wire is not OpenAI's
//! (Anthropic, Gemini, Vertex AI, Bedrock, Cohere) implement [`NativeAdapter`]
//! with pure translation functions; the gateway calls them through
//! [`adapter`] and never matches on a provider id itself.
//!
//! Contract for implementers:
//! * `chat_request` turns a validated OpenAI chat request into the native HTTP
//!   request (URL, headers incl. credentials, body). Only fields the native API
//!   accepts are sent; unsupported OpenAI fields follow `policy`.
//! * `chat_response` turns a native 2xx body into an OpenAI `chat.completion`
//!   JSON body whose `usage` is normalised (`prompt_tokens` includes cached
//!   tokens; `cache_read_tokens` / `cache_write_tokens` / `reasoning_tokens`
//!   set when known, `prompt_tokens_details.cached_tokens` too).
//! * `stream` returns a translator fed raw upstream body bytes (it does its own
//!   framing: SSE or AWS event-stream) that emits OpenAI
//!   `chat.completion.chunk` JSON payloads, ending with one usage-only chunk
//!   (`"choices":[]`, `usage` as above). The gateway adds `data: ` framing and
//!   the final `[DONE]`, prices the usage chunk and strips it for clients that
//!   did not ask for it.
//! * `error_body` turns a native error body into an OpenAI error envelope so the
//!   gateway's status mapping reads its message; `map_status` lets a vendor
//!   status be seen as another (Anthropic 529 overloaded → 503), and
//!   `error_status` does the same from the error body (Gemini's 400
//!   `API_KEY_INVALID` → 401).
//! * `embed_request` / `embed_response` translate embeddings;
//!   `embed_response_for` also gets the client's request, for vendors that
//!   report no usage and must estimate it (Gemini).
//! * `rerank_request` / `rerank_response` serve `POST /v1/rerank` (Cohere v2
//!   contract, [`crate::rerank`]); the default says the provider does not rerank.

use crate::client::{UpstreamBody, UpstreamError, UpstreamResponse};
use crate::instance::{InstanceSettings, ProviderInstance};
use crate::spec::ProviderSpec;
use bytes::Bytes;
use ferro_types::chat::ChatRequest;
use ferro_types::ApiError;
use futures_util::future::BoxFuture;
use futures_util::stream::{BoxStream, Stream};
use http::{HeaderName, HeaderValue, Method};
use std::pin::Pin;
use std::task::{Context, Poll};

/// What to do with an OpenAI parameter the native API cannot express
/// (`compatibility.on_unsupported_param`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnsupportedPolicy {
    /// Drop it and log a warning.
    #[default]
    Warn,
    /// Drop it silently.
    Drop,
    /// Refuse the request: 400 `unsupported_parameter`.
    Reject,
}

/// How the gateway should treat a parameter for a provider (`GET /v1/capabilities`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamSupport {
    Forward,
    Translate,
    Unsupported,
}

impl ParamSupport {
    pub fn as_str(self) -> &'static str {
        match self {
            ParamSupport::Forward => "forward",
            ParamSupport::Translate => "translate",
            ParamSupport::Unsupported => "unsupported",
        }
    }
}

/// Facts about the model a request targets, from the catalog.
#[derive(Debug, Clone, Copy, Default)]
pub struct ModelFacts {
    pub max_output_tokens: Option<u64>,
}

/// A native HTTP request, ready to send.
#[derive(Debug, Clone)]
pub struct NativeRequest {
    pub method: Method,
    pub url: String,
    /// Headers besides the instance's configured ones (auth included here when
    /// the adapter computes it, e.g. SigV4).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
}

/// A translation failure of an upstream payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslateError(pub String);

/// Incremental stream translation: native bytes in, OpenAI chunk payloads out.
pub trait StreamTranslator: Send {
    /// Feeds raw upstream body bytes; appends complete OpenAI chunk JSON payloads.
    fn push(&mut self, chunk: &[u8], out: &mut Vec<Vec<u8>>) -> Result<(), TranslateError>;
    /// The upstream body ended; flush (e.g. the usage-only chunk if not yet sent).
    fn finish(&mut self, out: &mut Vec<Vec<u8>>) -> Result<(), TranslateError>;
}

/// A provider family with its own wire format.
pub trait NativeAdapter: Send + Sync {
    /// Instance settings from env vars (CONTRACT §7), `None` when the provider's
    /// required vars are absent. Default: `key_env` + `base_url_env`.
    fn settings_from_env(
        &self,
        spec: &'static ProviderSpec,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Option<InstanceSettings> {
        let get = |k: &str| {
            env(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        Some(InstanceSettings {
            name: spec.id.to_owned(),
            api_key: Some(crate::Secret::new(get(spec.key_env)?)),
            base_url: spec.base_url_env.and_then(get),
            ..Default::default()
        })
    }

    /// The API root of an instance. Default: the `<PROVIDER>_BASE_URL` rule over
    /// the spec's default root.
    fn root(&self, spec: &ProviderSpec, s: &InstanceSettings) -> Result<String, String> {
        crate::base_url::resolve_root(s.base_url.as_deref().unwrap_or(""), spec.default_root)
    }

    /// Builds the native chat request. `model` is the id to send upstream.
    fn chat_request(
        &self,
        inst: &ProviderInstance,
        req: &ChatRequest<'_>,
        model: &str,
        facts: ModelFacts,
        policy: UnsupportedPolicy,
    ) -> Result<NativeRequest, ApiError>;

    /// Translates a native 2xx chat body into an OpenAI chat completion body.
    fn chat_response(&self, body: &[u8], model: &str) -> Result<Vec<u8>, TranslateError>;

    /// A fresh stream translator for one response.
    fn stream(&self, model: &str) -> Box<dyn StreamTranslator>;

    /// Builds a native embeddings request from an OpenAI embeddings body.
    fn embed_request(
        &self,
        _inst: &ProviderInstance,
        _body: &[u8],
        _model: &str,
    ) -> Result<NativeRequest, ApiError> {
        Err(ApiError::new(
            400,
            ferro_types::ErrorType::InvalidRequestError,
            "unsupported_parameter",
            "this provider does not offer embeddings through the gateway",
        ))
    }

    /// Translates a native 2xx embeddings body into an OpenAI embeddings body.
    fn embed_response(&self, _body: &[u8], _model: &str) -> Result<Vec<u8>, TranslateError> {
        Err(TranslateError("embeddings not supported".into()))
    }

    /// Like [`NativeAdapter::embed_response`], also given the client's OpenAI
    /// request body, for vendors that report no usage (the adapter estimates
    /// it from the input). Default: `embed_response`.
    fn embed_response_for(
        &self,
        _request: &[u8],
        body: &[u8],
        model: &str,
    ) -> Result<Vec<u8>, TranslateError> {
        self.embed_response(body, model)
    }

    /// Builds a native rerank request (`POST /v1/rerank`, Cohere v2 contract,
    /// see [`crate::rerank`]). Default: the provider does not rerank.
    fn rerank_request(
        &self,
        _inst: &ProviderInstance,
        _req: &crate::rerank::RerankRequest,
        _model: &str,
    ) -> Result<NativeRequest, ApiError> {
        Err(ApiError::new(
            400,
            ferro_types::ErrorType::InvalidRequestError,
            "unsupported_parameter",
            "this provider does not offer rerank through the gateway",
        ))
    }

    /// Translates a native 2xx rerank body into the contract's answer
    /// (`{id?, results, model, meta?}`, best first, `top_n` and
    /// `return_documents` applied). Default: unsupported.
    fn rerank_response(
        &self,
        _req: &crate::rerank::RerankRequest,
        _body: &[u8],
    ) -> Result<Vec<u8>, TranslateError> {
        Err(TranslateError("rerank not supported".into()))
    }

    /// Async step before sending (OAuth token exchange, request signing that
    /// needs the clock). Default: nothing.
    fn authorize<'a>(
        &'a self,
        _http: &'a reqwest::Client,
        _inst: &'a ProviderInstance,
        _req: &'a mut NativeRequest,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }

    /// Native error body → `{"error":{"message","type","code"}}` (None: leave as is).
    fn error_body(&self, _status: u16, _body: &[u8]) -> Option<Vec<u8>> {
        None
    }

    /// Status as the gateway should classify it.
    fn map_status(&self, status: u16) -> u16 {
        status
    }

    /// Status of a native error answer given its body, for vendors whose
    /// status alone misleads (Gemini's invalid API key is a 400 whose details
    /// say `API_KEY_INVALID`). Applied after `map_status`. Default: unchanged.
    fn error_status(&self, status: u16, _body: &[u8]) -> u16 {
        status
    }

    /// Per-parameter support for `GET /v1/capabilities` and the unsupported policy.
    fn param_support(&self, _param: &str) -> ParamSupport {
        ParamSupport::Translate
    }
}

/// The native adapter of a provider type, if this build has one.
#[allow(clippy::match_single_binding)] // one arm per adapter module as they land
pub fn adapter(provider_id: &str) -> Option<&'static dyn NativeAdapter> {
    match provider_id {
        "anthropic" => Some(&crate::anthropic::Anthropic),
        "gemini" => Some(&crate::gemini::Gemini),
        "vertex-ai" => Some(&crate::vertex::Vertex),
        "bedrock" => Some(&crate::bedrock::Bedrock),
        "cohere" => Some(&crate::cohere::Cohere),
        _ => None,
    }
}

/// Wraps an upstream body stream with a translator, yielding OpenAI SSE bytes
/// (`data: {...}\n\n`, then `data: [DONE]\n\n` after a clean end).
pub struct TranslatedStream {
    inner: BoxStream<'static, Result<Bytes, UpstreamError>>,
    tr: Box<dyn StreamTranslator>,
    out: Vec<Vec<u8>>,
    done: bool,
}

impl TranslatedStream {
    pub fn new(
        inner: BoxStream<'static, Result<Bytes, UpstreamError>>,
        tr: Box<dyn StreamTranslator>,
    ) -> Self {
        TranslatedStream {
            inner,
            tr,
            out: Vec::new(),
            done: false,
        }
    }

    fn frame(out: &mut Vec<Vec<u8>>, done: bool) -> Bytes {
        let mut b = Vec::with_capacity(out.iter().map(|p| p.len() + 8).sum::<usize>() + 16);
        for p in out.drain(..) {
            b.extend_from_slice(b"data: ");
            b.extend_from_slice(&p);
            b.extend_from_slice(b"\n\n");
        }
        if done {
            b.extend_from_slice(b"data: [DONE]\n\n");
        }
        Bytes::from(b)
    }
}

impl Stream for TranslatedStream {
    type Item = Result<Bytes, UpstreamError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            match this.inner.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(Some(Ok(chunk))) => {
                    let mut out = std::mem::take(&mut this.out);
                    if let Err(e) = this.tr.push(&chunk, &mut out) {
                        this.done = true;
                        return Poll::Ready(Some(Err(UpstreamError::Io(e.0))));
                    }
                    if !out.is_empty() {
                        let b = Self::frame(&mut out, false);
                        this.out = out;
                        return Poll::Ready(Some(Ok(b)));
                    }
                    this.out = out;
                }
                Poll::Ready(None) => {
                    this.done = true;
                    let mut out = std::mem::take(&mut this.out);
                    if let Err(e) = this.tr.finish(&mut out) {
                        return Poll::Ready(Some(Err(UpstreamError::Io(e.0))));
                    }
                    return Poll::Ready(Some(Ok(Self::frame(&mut out, true))));
                }
            }
        }
    }
}

/// Rewrites a native upstream response into its OpenAI shape: 2xx bodies
/// translated (streamed or whole), error bodies converted to the envelope and
/// statuses mapped.
pub async fn translate_chat_response(
    adapter: &'static dyn NativeAdapter,
    resp: UpstreamResponse,
    model: &str,
    stream: bool,
    limit: usize,
) -> Result<UpstreamResponse, UpstreamError> {
    let status = adapter.map_status(resp.status);
    if !(200..300).contains(&status) {
        let (_, headers, body) = resp.into_bytes(limit).await?;
        let status = adapter.error_status(status, &body);
        let body = adapter
            .error_body(status, &body)
            .map(Bytes::from)
            .unwrap_or(body);
        return Ok(UpstreamResponse {
            status,
            headers,
            body: UpstreamBody::Full(body),
        });
    }
    if stream {
        let inner = match resp.body {
            UpstreamBody::Stream(s) => s,
            UpstreamBody::Full(b) => Box::pin(futures_util::stream::once(async move { Ok(b) })),
        };
        let mut headers = resp.headers;
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        return Ok(UpstreamResponse {
            status,
            headers,
            body: UpstreamBody::Stream(Box::pin(TranslatedStream::new(
                inner,
                adapter.stream(model),
            ))),
        });
    }
    let (_, headers, body) = resp.into_bytes(limit).await?;
    let out = adapter
        .chat_response(&body, model)
        .map_err(|e| UpstreamError::Io(format!("untranslatable upstream answer: {}", e.0)))?;
    Ok(UpstreamResponse {
        status,
        headers,
        body: UpstreamBody::Full(Bytes::from(out)),
    })
}
