//! Ferro's wire layer: the parts of the OpenAI API the gateway reads and writes,
//! with no I/O. It owns the error envelope, strict JSON checks, request views that
//! parse only what routing needs, the SSE codec, the embedded model catalog and the
//! cost formula.
//!
//! Must not depend on tokio, hyper, any server or HTTP client crate, so the SDK,
//! the CLI, fuzzers and benches can reuse it.

pub mod catalog;
pub mod chat;
pub mod cost;
pub mod error;
pub mod json;
pub mod sse;
pub mod usage;

pub use error::{ApiError, ErrorOrigin, ErrorType};
