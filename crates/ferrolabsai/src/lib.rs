//! # ferrolabsai — the Rust SDK for the Ferro AI gateway
//!
//! A typed client for Ferro's whole HTTP surface: OpenAI-compatible inference
//! (chat — plain and streaming —, legacy completions, embeddings, images,
//! moderations, rerank, the Responses API), the model catalog, capabilities,
//! the probes and the `/admin/*` API. It mirrors the Python SDK `ferrolabsai`
//! 0.3.0 (same environment variables, retry policy, error mapping and
//! extras), and enforces the SDK security guidelines instead of documenting
//! them (see [Security](#security)).
//!
//! The crate depends on `ferro-types` (wire types and the SSE codec) and an
//! HTTP client (`reqwest` with rustls) only: never on the gateway, a store or
//! a database driver.
//!
//! ## Quick start
//!
//! ```no_run
//! use ferrolabsai::{ChatCompletionRequest, ChatMessage, FerroClient};
//! use futures_util::StreamExt;
//!
//! # async fn demo() -> ferrolabsai::Result<()> {
//! // FERRO_API_KEY (else OPENAI_API_KEY) and FERRO_BASE_URL (default http://localhost:8080).
//! let client = FerroClient::from_env()?;
//!
//! let req = ChatCompletionRequest::new("gpt-4o-mini", [ChatMessage::user("Hello, Ferro")]);
//! let reply = client.chat().completions().create(&req).await?;
//! println!("{}", reply.content().unwrap_or_default());
//! // Ferro's extras: reported by the gateway, format-checked, not authenticated.
//! if let (Some(p), Some(t)) = (&reply.provider, &reply.trace_id) {
//!     println!("served by {p}, trace {t}");
//! }
//! if let Some(cost) = reply.usage.as_ref().and_then(|u| u.cost_usd.as_ref()) {
//!     println!("cost ${:.6}", cost.value());
//! }
//!
//! let mut stream = client.chat().completions().stream(&req.include_usage(true)).await?;
//! while let Some(chunk) = stream.next().await {
//!     print!("{}", chunk?.content().unwrap_or_default());
//! }
//! # Ok(()) }
//! ```
//!
//! Building explicitly:
//!
//! ```no_run
//! # fn demo() -> ferrolabsai::Result<()> {
//! use std::time::Duration;
//! let client = ferrolabsai::FerroClient::builder()
//!     .api_key(std::env::var("MY_FERRO_KEY").unwrap_or_default())
//!     .base_url("https://ferro.internal.example.com")
//!     .timeout(Duration::from_secs(60))
//!     .max_retries(3)
//!     .default_header("x-team", "search")
//!     .build()?;
//! # Ok(()) }
//! ```
//!
//! ## Surface
//!
//! | call | HTTP |
//! |---|---|
//! | `chat().completions().create(&req)` / `.stream(&req)` | `POST /v1/chat/completions` |
//! | `completions().create(&req)` | `POST /v1/completions` |
//! | `embeddings().create(&req)` | `POST /v1/embeddings` |
//! | `images().generate(&req)` | `POST /v1/images/generations` |
//! | `moderations().create(&req)` | `POST /v1/moderations` |
//! | `rerank(&req)` | `POST /v1/rerank` |
//! | `responses().create(&params)` / `.retrieve(id)` / `.delete(id)` | `/v1/responses[/{id}]` |
//! | `models().list()` / `.list_filtered(provider, capability)` / `.retrieve(id)` / `.search(q)` | `GET /v1/models` (filtered client-side) |
//! | `capabilities()` | `GET /v1/capabilities` |
//! | `health()` / `ready()` / `live()` | `GET /health`, `/readyz`, `/livez` (503 bodies returned) |
//! | `admin().dashboard()` / `.health()` | `GET /admin/dashboard`, `/admin/health` |
//! | `admin().keys()` `.list/get/create/update/delete/revoke/rotate/usage` | `/admin/keys…` |
//! | `admin().config()` `.get/create/update/delete/history/rollback` | `/admin/config…` |
//! | `admin().logs()` `.list/stats/delete` | `/admin/logs…` |
//! | `admin().providers()` / `.plugins()` `.list/catalog`, `admin().audit().list` | `/admin/…` |
//!
//! With the `blocking` feature, [`blocking::FerroClient`] offers the same
//! surface synchronously.
//!
//! ## Errors and retries
//!
//! Every call returns [`Result<T, Error>`](Error); [`Error`] mirrors the
//! Python exception hierarchy (401 [`Error::Auth`], 402
//! [`Error::BudgetExceeded`], 403 [`Error::Permission`], 404
//! [`Error::NotFound`], 429 [`Error::RateLimit`], ≥ 500 [`Error::Server`],
//! other statuses [`Error::Api`], [`Error::Connection`], [`Error::Stream`]),
//! each with status, code, message and request id.
//!
//! Non-streaming calls are retried up to `max_retries` (default 2) times: 429
//! always; 408 and 5xx only for idempotent methods (GET, HEAD, PUT, DELETE,
//! OPTIONS — so an inference POST is never re-sent after the gateway may have
//! processed it); connect errors always, other timeouts only for idempotent
//! methods. The delay is `Retry-After` (seconds, capped at 30 s) or full
//! jitter `uniform(0, min(0.5·2^(n−1), 8))` s. Streams are never retried.
//!
//! ## Security
//!
//! - **Keys never print.** The key is a [`SecretString`]: `Debug` shows
//!   `[REDACTED]`, there is no `Display`/`Serialize`, the `Authorization`
//!   header is marked sensitive, and any echo of the key in a server message
//!   is replaced with `[REDACTED]` before it reaches an [`Error`]. Keys
//!   returned by create/rotate are [`SecretString`]s too.
//! - **HTTPS off loopback.** `http://` is accepted only for `localhost`,
//!   `127.0.0.0/8` and `::1` unless [`ClientBuilder::allow_insecure_http`];
//!   base URLs with credentials, a query or a fragment are refused.
//! - **No redirects.** The SDK's HTTP client never follows redirects (a 3xx is
//!   an [`Error::Api`]), so the key is never replayed to another host; a
//!   bring-your-own client that follows one is detected and refused.
//! - **Untrusted extras.** `trace_id`, `provider`, `gateway_overhead_ms` and
//!   every `cost_usd` are [`Untrusted`] values, validated before exposure
//!   (ids: 1–128 chars of `[0-9A-Za-z_-]`; amounts: finite and ≥ 0); invalid
//!   values become `None` with a `tracing` warning.
//! - **Rotation.** [`admin().keys().rotate(id)`](Keys::rotate) returns the
//!   new secret and [`FerroClient::with_api_key`] switches a client to it
//!   without rebuilding the connection pool.
//!
//! ## Supported versions
//!
//! - **Rust:** MSRV 1.85 (the workspace `rust-version`); raising it is a minor
//!   version bump, never a patch.
//! - **Gateway:** Ferro (this repository) and the Go Ferro Labs AI Gateway
//!   1.4+ (CONTRACT §1–§6). Fields a newer gateway adds are kept in each
//!   type's `extra` map, so upgrading the gateway never breaks decoding.
//! - **Semver:** the crate follows semver from 1.0; until then a minor bump
//!   may change the API. [`Error`] is `#[non_exhaustive]`.

#![warn(missing_docs)]

mod client;
mod config;
mod error;
mod retry;
mod secret;
mod stream;
mod transport;
mod untrusted;

pub mod resources;
pub mod types;

#[cfg(feature = "blocking")]
pub mod blocking;

pub use client::FerroClient;
pub use config::{ClientBuilder, DEFAULT_BASE_URL, DEFAULT_TIMEOUT, USER_AGENT_VALUE};
pub use error::{ApiError, Error, Result};
pub use resources::admin::{Admin, Audit, Config, Keys, Logs, Plugins, Providers};
pub use resources::chat::{Chat, ChatCompletions, Completions};
pub use resources::inference::{Embeddings, Images, Moderations, Responses};
pub use resources::models::Models;
pub use retry::{DEFAULT_MAX_RETRIES, RETRY_AFTER_MAX};
pub use secret::SecretString;
pub use stream::ChatCompletionStream;
pub use types::admin::{
    Ack, AdminHealth, ApiKey, AuditEntry, AuditQuery, ConfigHistoryEntry, CreateKeyRequest,
    CreatedApiKey, Dashboard, GatewayConfig, KeyUsageQuery, LogEntry, LogPurge, LogQuery, LogStats,
    LogStatsQuery, Page, UpdateKeyRequest,
};
pub use types::chat::{
    AssistantMessage, ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ChatMessage,
    Choice, ChunkChoice, ChunkDelta, FunctionCall, FunctionCallDelta, FunctionDefinition,
    MessageContent, Role, Stop, StreamOptions, Tool, ToolCall, ToolCallDelta,
};
pub use types::inference::{
    Completion, CompletionChoice, CompletionRequest, Embedding, EmbeddingInput, EmbeddingRequest,
    EmbeddingResponse, EmbeddingVector, Image, ImageRequest, ImageResponse, ModerationRequest,
    ModerationResponse, ModerationResult, RerankRequest, RerankResponse, RerankResult, Response,
    ResponseUsage,
};
pub use types::models::{CapabilityMatrix, Health, ModelInfo, Probe};
pub use types::{Deleted, JsonMap, Usage};
pub use untrusted::Untrusted;
