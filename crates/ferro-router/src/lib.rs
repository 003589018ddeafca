//! Routing: which provider instance serves a request, decided without I/O.
//!
//! * [`registry`] builds provider instances from env vars and the config's
//!   `providers:` list, then the targets that point at them;
//! * [`index`] is the routing index of CONTRACT §8.1 (aliases, exact ids from the
//!   catalog and configured models, the explicit provider prefix of ★5, any-model
//!   providers) and the catalog enrichment served by `/v1/models`;
//! * [`strategy`] orders eligible targets per request (the eight modes);
//! * [`policy`], [`breaker`], [`limiter`], [`stats`] hold each target's retry
//!   settings, circuit breaker, concurrency cap and observed latency.
//!
//! Must not depend on the HTTP server or on storage.

pub mod breaker;
pub mod index;
pub mod limiter;
pub mod policy;
pub mod registry;
pub mod stats;
pub mod strategy;

pub use index::{Resolution, Router};
pub use policy::{RetryPolicy, TargetPolicy};
pub use registry::{Target, TargetId};
pub use strategy::{RouteInput, Strategy};
