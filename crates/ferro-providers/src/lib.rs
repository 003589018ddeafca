//! Providers: who Ferro can talk to and how.
//!
//! * [`spec`] — the static table of the 30 built-in provider types (plus `mock`):
//!   wire family, default API root, auth style, surfaces, catalog prefixes.
//! * [`base_url`] — the `<PROVIDER>_BASE_URL` rule of CONTRACT §7.
//! * [`instance`] — a configured provider instance (built-in from env, or named).
//! * [`openai_compat`] — the one adapter every OpenAI-wire vendor shares.
//! * [`mock`] — the in-process `mock` provider (★10).
//! * [`native`] — the interface native-wire adapters implement, and their registry.
//! * [`gemini`] — the Gemini adapter (generateContent, SSE, embeddings);
//!   [`vertex`] — Vertex AI (Gemini and Claude models, service-account OAuth).
//! * [`client`] — the upstream HTTP client (pooled, rustls, no redirects).
//! * [`bedrock`] (Converse, SigV4, event stream) and [`cohere`] (v2) adapters;
//!   [`rerank`] — `POST /v1/rerank` (Cohere v2 contract) and the OpenAI-wire
//!   rerank mappings; [`params`] — the per-provider parameter matrix.
//!
//! Must not depend on the server or on storage.

pub mod anthropic;
pub mod base_url;
pub mod bedrock;
pub mod client;
pub mod cohere;
pub mod gemini;
pub mod instance;
pub mod mock;
pub mod native;
pub mod openai_compat;
pub mod params;
pub mod rerank;
pub mod secret;
pub mod spec;
pub mod vertex;

pub use instance::ProviderInstance;
pub use secret::Secret;
pub use spec::{Operation, ProviderSpec, Wire};
