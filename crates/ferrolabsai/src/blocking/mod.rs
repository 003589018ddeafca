//! A synchronous client (feature `blocking`).
//!
//! [`FerroClient`] wraps the async [`crate::FerroClient`] and drives it on a
//! private current-thread tokio runtime (not reqwest's `blocking` feature),
//! so both clients share one implementation: the same retry policy, error
//! mapping, security checks and types. Calling it from inside an async
//! runtime returns [`Error::Config`] instead of panicking; use the async
//! client there.
//!
//! ```no_run
//! # fn demo() -> ferrolabsai::Result<()> {
//! use ferrolabsai::{blocking::FerroClient, ChatCompletionRequest, ChatMessage};
//! let client = FerroClient::from_env()?;
//! let req = ChatCompletionRequest::new("gpt-4o-mini", [ChatMessage::user("Hello")]);
//! println!("{:?}", client.chat().completions().create(&req)?.content());
//! for chunk in client.chat().completions().stream(&req)? {
//!     print!("{}", chunk?.content().unwrap_or_default());
//! }
//! # Ok(()) }
//! ```

mod admin;

pub use admin::{Admin, Audit, Config, Keys, Logs, Plugins, Providers};

use crate::error::{Error, Result};
use crate::secret::SecretString;
use crate::types::chat::{ChatCompletion, ChatCompletionChunk, ChatCompletionRequest};
use crate::types::inference::{
    Completion, CompletionRequest, EmbeddingRequest, EmbeddingResponse, ImageRequest,
    ImageResponse, ModerationRequest, ModerationResponse, RerankRequest, RerankResponse, Response,
};
use crate::types::models::{CapabilityMatrix, Health, ModelInfo, Probe};
use crate::types::Deleted;
use crate::ClientBuilder;
use futures_util::StreamExt;
use serde::Serialize;
use std::future::Future;
use std::sync::Arc;

/// Generates blocking wrappers that forward to the async resource.
macro_rules! forward {
    ($( $(#[$m:meta])* fn $name:ident(&self $(, $arg:ident : $ty:ty)*) -> $ret:ty; )*) => {$(
        $(#[$m])*
        pub fn $name(&self $(, $arg: $ty)*) -> Result<$ret> {
            self.client.run(self.inner().$name($($arg),*))
        }
    )*};
}
pub(crate) use forward;

/// The private runtime. Dropping a tokio runtime inside an async context
/// panics, so the last owner shuts it down in the background there.
#[derive(Debug)]
struct Rt(Option<tokio::runtime::Runtime>);

impl Rt {
    fn block_on<F: Future>(&self, f: F) -> Option<F::Output> {
        self.0.as_ref().map(|rt| rt.block_on(f))
    }
}

impl Drop for Rt {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                rt.shutdown_background();
            }
        }
    }
}

/// The blocking Ferro client. Cheap to clone (clones share the runtime and
/// the connection pool).
#[derive(Clone, Debug)]
pub struct FerroClient {
    inner: crate::FerroClient,
    rt: Arc<Rt>,
}

impl ClientBuilder {
    /// Builds a [`blocking::FerroClient`](FerroClient).
    pub fn build_blocking(self) -> Result<FerroClient> {
        FerroClient::from_async(self.build()?)
    }
}

impl FerroClient {
    /// A builder; finish it with [`ClientBuilder::build_blocking`].
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from the environment (see [`ClientBuilder`]).
    pub fn from_env() -> Result<FerroClient> {
        ClientBuilder::default().build_blocking()
    }

    /// A client for `api_key`.
    pub fn new(api_key: impl Into<SecretString>) -> Result<FerroClient> {
        ClientBuilder::default().api_key(api_key).build_blocking()
    }

    /// Wraps an async client.
    pub fn from_async(inner: crate::FerroClient) -> Result<FerroClient> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::config(format!("cannot start the blocking runtime: {e}")))?;
        Ok(FerroClient {
            inner,
            rt: Arc::new(Rt(Some(rt))),
        })
    }

    /// The async client underneath.
    pub fn as_async(&self) -> &crate::FerroClient {
        &self.inner
    }

    pub(crate) fn run<T>(&self, fut: impl Future<Output = Result<T>>) -> Result<T> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::config(
                "the blocking client was called inside an async runtime; use ferrolabsai::FerroClient",
            ));
        }
        self.rt
            .block_on(fut)
            .unwrap_or_else(|| Err(Error::config("the blocking runtime is shut down")))
    }

    /// A copy authenticating with `api_key` (see [`crate::FerroClient::with_api_key`]).
    pub fn with_api_key(&self, api_key: impl Into<SecretString>) -> Result<FerroClient> {
        Ok(FerroClient {
            inner: self.inner.with_api_key(api_key)?,
            rt: self.rt.clone(),
        })
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        self.inner.base_url()
    }

    /// Chat completions.
    pub fn chat(&self) -> Chat<'_> {
        Chat { client: self }
    }

    /// Legacy completions.
    pub fn completions(&self) -> Completions<'_> {
        Completions { client: self }
    }

    /// Embeddings.
    pub fn embeddings(&self) -> Embeddings<'_> {
        Embeddings { client: self }
    }

    /// Images.
    pub fn images(&self) -> Images<'_> {
        Images { client: self }
    }

    /// Moderations.
    pub fn moderations(&self) -> Moderations<'_> {
        Moderations { client: self }
    }

    /// The Responses API.
    pub fn responses(&self) -> Responses<'_> {
        Responses { client: self }
    }

    /// The model catalog.
    pub fn models(&self) -> Models<'_> {
        Models { client: self }
    }

    /// The admin API.
    pub fn admin(&self) -> Admin<'_> {
        Admin { client: self }
    }

    /// `POST /v1/rerank`.
    pub fn rerank(&self, req: &RerankRequest) -> Result<RerankResponse> {
        self.run(self.inner.rerank(req))
    }

    /// `GET /v1/capabilities`.
    pub fn capabilities(&self) -> Result<CapabilityMatrix> {
        self.run(self.inner.capabilities())
    }

    /// `GET /health` (503 returned, not raised).
    pub fn health(&self) -> Result<Health> {
        self.run(self.inner.health())
    }

    /// `GET /readyz` (503 returned, not raised).
    pub fn ready(&self) -> Result<Probe> {
        self.run(self.inner.ready())
    }

    /// `GET /livez`.
    pub fn live(&self) -> Result<Probe> {
        self.run(self.inner.live())
    }
}

/// Declares a blocking resource view over its async twin.
macro_rules! resource {
    ($(#[$m:meta])* $name:ident => $async_ty:ident via $accessor:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name<'a> {
            pub(crate) client: &'a FerroClient,
        }

        impl<'a> $name<'a> {
            fn inner(&self) -> crate::$async_ty<'a> {
                self.client.inner.$accessor()
            }
        }
    };
}
pub(crate) use resource;

/// The `chat` namespace.
#[derive(Debug, Clone, Copy)]
pub struct Chat<'a> {
    client: &'a FerroClient,
}
resource!(/// Legacy completions.
    Completions => Completions via completions);
resource!(/// Embeddings.
    Embeddings => Embeddings via embeddings);
resource!(/// Images.
    Images => Images via images);
resource!(/// Moderations.
    Moderations => Moderations via moderations);
resource!(/// The Responses API.
    Responses => Responses via responses);
resource!(/// The model catalog.
    Models => Models via models);

impl<'a> Chat<'a> {
    /// Chat completions.
    pub fn completions(&self) -> ChatCompletions<'a> {
        ChatCompletions {
            client: self.client,
        }
    }
}

/// Chat completions.
#[derive(Debug, Clone, Copy)]
pub struct ChatCompletions<'a> {
    client: &'a FerroClient,
}

impl<'a> ChatCompletions<'a> {
    fn inner(&self) -> crate::ChatCompletions<'a> {
        self.client.inner.chat().completions()
    }

    forward! {
        /// Creates a completion.
        fn create(&self, req: &ChatCompletionRequest) -> ChatCompletion;
    }

    /// Streams a completion as an iterator of chunks (never retried).
    pub fn stream(&self, req: &ChatCompletionRequest) -> Result<ChatCompletionStream> {
        let inner = self.client.run(self.inner().stream(req))?;
        Ok(ChatCompletionStream {
            inner,
            rt: self.client.rt.clone(),
        })
    }
}

/// A blocking chat stream: `Iterator<Item = Result<ChatCompletionChunk>>`.
#[derive(Debug)]
pub struct ChatCompletionStream {
    inner: crate::ChatCompletionStream,
    rt: Arc<Rt>,
}

impl ChatCompletionStream {
    /// The stream's trace id.
    pub fn trace_id(&self) -> Option<&crate::Untrusted<String>> {
        self.inner.trace_id()
    }

    /// The stream's provider.
    pub fn provider(&self) -> Option<&crate::Untrusted<String>> {
        self.inner.provider()
    }
}

impl Iterator for ChatCompletionStream {
    type Item = Result<ChatCompletionChunk>;

    fn next(&mut self) -> Option<Self::Item> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Some(Err(Error::config(
                "the blocking stream was polled inside an async runtime",
            )));
        }
        self.rt.block_on(self.inner.next()).flatten()
    }
}

impl Completions<'_> {
    forward! {
        /// `POST /v1/completions`.
        fn create(&self, req: &CompletionRequest) -> Completion;
    }
}

impl Embeddings<'_> {
    forward! {
        /// `POST /v1/embeddings`.
        fn create(&self, req: &EmbeddingRequest) -> EmbeddingResponse;
    }
}

impl Images<'_> {
    forward! {
        /// `POST /v1/images/generations`.
        fn generate(&self, req: &ImageRequest) -> ImageResponse;
    }
}

impl Moderations<'_> {
    forward! {
        /// `POST /v1/moderations`.
        fn create(&self, req: &ModerationRequest) -> ModerationResponse;
    }
}

impl Responses<'_> {
    /// `POST /v1/responses` (params verbatim).
    pub fn create<P: Serialize + ?Sized>(&self, params: &P) -> Result<Response> {
        self.client.run(self.inner().create(params))
    }

    forward! {
        /// `GET /v1/responses/{id}`.
        fn retrieve(&self, id: &str) -> Response;
        /// `DELETE /v1/responses/{id}`.
        fn delete(&self, id: &str) -> Deleted;
    }
}

impl Models<'_> {
    forward! {
        /// Every routable model.
        fn list(&self) -> Vec<ModelInfo>;
        /// Filtered client-side by owner and capability.
        fn list_filtered(&self, provider: Option<&str>, capability: Option<&str>) -> Vec<ModelInfo>;
        /// One model (local `NotFound` when absent).
        fn retrieve(&self, id: &str) -> ModelInfo;
        /// Case-insensitive id search.
        fn search(&self, query: &str) -> Vec<ModelInfo>;
    }
}
