//! [`FerroClient`]: the async client and its resource accessors.

use crate::config::{header_names, ClientBuilder};
use crate::error::{Error, Result};
use crate::resources::admin::Admin;
use crate::resources::chat::{Chat, Completions};
use crate::resources::inference::{Embeddings, Images, Moderations, Responses};
use crate::resources::models::Models;
use crate::secret::SecretString;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::Url;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Settings shared by every clone of a client (and by key-rotated copies).
pub(crate) struct Shared {
    pub(crate) http: reqwest::Client,
    pub(crate) base: Url,
    pub(crate) timeout: Duration,
    pub(crate) max_retries: u32,
    /// `User-Agent` and the caller's default headers (no `Authorization`).
    pub(crate) headers: HeaderMap,
    /// A caller-supplied `reqwest::Client` may follow redirects: check.
    pub(crate) checks_redirects: bool,
}

/// The credential and its ready-made, sensitive-marked header.
pub(crate) struct Auth {
    pub(crate) key: SecretString,
    pub(crate) header: HeaderValue,
}

impl Auth {
    pub(crate) fn new(key: SecretString) -> Result<Auth> {
        let mut header = HeaderValue::from_str(&format!("Bearer {}", key.expose_secret()))
            .map_err(|_| {
                Error::config("the API key contains characters not allowed in a header")
            })?;
        // Sensitive headers are never indexed by HPACK and are hidden from
        // `Debug` by the http crate.
        header.set_sensitive(true);
        Ok(Auth { key, header })
    }
}

/// The Ferro client (async, tokio). Cheap to clone: clones share one
/// connection pool.
///
/// ```no_run
/// # async fn demo() -> ferrolabsai::Result<()> {
/// use ferrolabsai::{ChatCompletionRequest, ChatMessage, FerroClient};
/// let client = FerroClient::from_env()?; // FERRO_API_KEY, FERRO_BASE_URL
/// let reply = client
///     .chat()
///     .completions()
///     .create(&ChatCompletionRequest::new("gpt-4o-mini", [ChatMessage::user("Hello")]))
///     .await?;
/// println!("{}", reply.content().unwrap_or_default());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct FerroClient {
    pub(crate) shared: Arc<Shared>,
    pub(crate) auth: Arc<Auth>,
}

impl fmt::Debug for FerroClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FerroClient")
            .field("base_url", &self.shared.base.as_str())
            .field("api_key", &self.auth.key)
            .field("timeout", &self.shared.timeout)
            .field("max_retries", &self.shared.max_retries)
            .field("default_headers", &header_names(&self.shared.headers))
            .finish()
    }
}

impl FerroClient {
    /// A builder; see [`ClientBuilder`] for how settings are resolved.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from the environment only (`FERRO_API_KEY` →
    /// `OPENAI_API_KEY`, `FERRO_BASE_URL`).
    pub fn from_env() -> Result<FerroClient> {
        ClientBuilder::default().build()
    }

    /// A client for `api_key` (base URL from `FERRO_BASE_URL` or the default).
    pub fn new(api_key: impl Into<SecretString>) -> Result<FerroClient> {
        ClientBuilder::default().api_key(api_key).build()
    }

    pub(crate) fn from_parts(shared: Arc<Shared>, auth: Arc<Auth>) -> FerroClient {
        FerroClient { shared, auth }
    }

    /// A copy of this client that authenticates with `api_key` instead: same
    /// base URL, settings and connection pool (a cheap clone). Use it after
    /// [`admin().keys().rotate(id)`](crate::Keys::rotate):
    ///
    /// ```no_run
    /// # async fn demo(client: ferrolabsai::FerroClient) -> ferrolabsai::Result<()> {
    /// let rotated = client.admin().keys().rotate("key-id").await?;
    /// let client = client.with_api_key(rotated.key)?;
    /// # Ok(()) }
    /// ```
    pub fn with_api_key(&self, api_key: impl Into<SecretString>) -> Result<FerroClient> {
        let key = api_key.into();
        if key.is_empty() {
            return Err(Error::config("the new API key is empty"));
        }
        Ok(FerroClient {
            shared: self.shared.clone(),
            auth: Arc::new(Auth::new(key)?),
        })
    }

    /// The base URL requests go to (without `/v1`).
    pub fn base_url(&self) -> &str {
        self.shared.base.as_str().trim_end_matches('/')
    }

    /// The per-attempt timeout.
    pub fn timeout(&self) -> Duration {
        self.shared.timeout
    }

    /// Extra attempts after a retryable failure.
    pub fn max_retries(&self) -> u32 {
        self.shared.max_retries
    }

    /// `chat().completions()`: chat completions, plain and streaming.
    pub fn chat(&self) -> Chat<'_> {
        Chat { client: self }
    }

    /// Legacy `/v1/completions`.
    pub fn completions(&self) -> Completions<'_> {
        Completions { client: self }
    }

    /// `/v1/embeddings`.
    pub fn embeddings(&self) -> Embeddings<'_> {
        Embeddings { client: self }
    }

    /// `/v1/images/generations`.
    pub fn images(&self) -> Images<'_> {
        Images { client: self }
    }

    /// `/v1/moderations`.
    pub fn moderations(&self) -> Moderations<'_> {
        Moderations { client: self }
    }

    /// `/v1/responses`.
    pub fn responses(&self) -> Responses<'_> {
        Responses { client: self }
    }

    /// The model catalog (`/v1/models`), filtered client-side.
    pub fn models(&self) -> Models<'_> {
        Models { client: self }
    }

    /// The `/admin/*` API (needs a key with the `read_only` or `admin` scope).
    pub fn admin(&self) -> Admin<'_> {
        Admin { client: self }
    }
}
