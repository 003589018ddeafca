//! Routing: which provider instance serves a request, decided without I/O.
//!
//! * [`registry`] builds provider instances from env vars and the config's
//!   `providers:` list, then the targets that point at them;
//! * [`index`] is the routing index of CONTRACT §8.1 (aliases, exact ids from the
//!   catalog and configured models, the explicit provider prefix of ★5, any-model
//!   providers) and the catalog enrichment served by `/v1/models`.
//!
//! Must not depend on the HTTP server or on storage.

pub mod index;
pub mod registry;

pub use index::{Resolution, Router};
pub use registry::{Target, TargetId};
