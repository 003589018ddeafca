//! [`ClientBuilder`]: credentials, base URL policy, timeouts, retries and the
//! HTTP client, resolved from arguments and then the environment.

use crate::client::{Auth, FerroClient, Shared};
use crate::error::{ApiError, Error, Result};
use crate::retry::DEFAULT_MAX_RETRIES;
use crate::secret::SecretString;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, USER_AGENT};
use reqwest::Url;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Base URL used when neither the builder nor `FERRO_BASE_URL` gives one.
pub const DEFAULT_BASE_URL: &str = "http://localhost:8080";
/// Default per-attempt timeout (as in the Python SDK).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// The `User-Agent` the SDK sends.
pub const USER_AGENT_VALUE: &str = concat!("ferrolabsai-rust/", env!("CARGO_PKG_VERSION"));

type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

enum Http {
    Default,
    Builder(Box<reqwest::ClientBuilder>),
    Client(reqwest::Client),
}

/// Builds a [`FerroClient`]. Obtain one with [`FerroClient::builder`].
///
/// Resolution (CONTRACT §11.1): the API key is the builder's, else
/// `FERRO_API_KEY`, else `OPENAI_API_KEY` (empty values count as unset); the
/// base URL is the builder's, else `FERRO_BASE_URL`, else
/// `http://localhost:8080`, with trailing `/` stripped. Paths include `/v1`,
/// so the base URL must **not** end in `/v1`.
pub struct ClientBuilder {
    api_key: Option<SecretString>,
    base_url: Option<String>,
    timeout: Duration,
    max_retries: u32,
    default_headers: HeaderMap,
    http: Http,
    allow_insecure_http: bool,
    invalid_header: Option<String>,
    env: Option<EnvLookup>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            api_key: None,
            base_url: None,
            timeout: DEFAULT_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            default_headers: HeaderMap::new(),
            http: Http::Default,
            allow_insecure_http: false,
            invalid_header: None,
            env: None,
        }
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("api_key", &self.api_key)
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("default_headers", &header_names(&self.default_headers))
            .field("allow_insecure_http", &self.allow_insecure_http)
            .finish_non_exhaustive()
    }
}

pub(crate) fn header_names(h: &HeaderMap) -> Vec<&str> {
    h.keys().map(HeaderName::as_str).collect()
}

impl ClientBuilder {
    /// The API key (a `&str`, `String` or [`SecretString`]). Prefer the
    /// environment (`FERRO_API_KEY`) or a secret manager over a literal.
    pub fn api_key(mut self, key: impl Into<SecretString>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The gateway's base URL, without `/v1` (e.g. `https://gw.example.com`).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Per-attempt timeout for non-streaming calls; for streams, the longest
    /// wait for the response headers and then for each next chunk. Default
    /// 120 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Extra attempts after a retryable failure (default 2; 0 disables).
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Headers sent on every request (merged over `User-Agent`). They cannot
    /// set `Authorization`: the key goes through [`api_key`](Self::api_key).
    pub fn default_headers(mut self, headers: HeaderMap) -> Self {
        self.default_headers.extend(headers);
        self
    }

    /// Adds one default header; an invalid name or value makes
    /// [`build`](Self::build) fail.
    pub fn default_header(mut self, name: &str, value: &str) -> Self {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(n), Ok(v)) => {
                self.default_headers.insert(n, v);
            }
            _ => self.invalid_header = Some(name.to_owned()),
        }
        self
    }

    /// Allows `http://` to a non-loopback host. Without it, plain HTTP is
    /// accepted only for `localhost`, `127.0.0.0/8` and `::1`, so a key is
    /// never sent in clear text over a network by mistake.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Customise the HTTP client (proxies, TLS roots, pool settings…). The
    /// SDK still applies its own policy on top: redirects are never followed,
    /// and the connect timeout is the client's timeout.
    pub fn http_client_builder(mut self, builder: reqwest::ClientBuilder) -> Self {
        self.http = Http::Builder(Box::new(builder));
        self
    }

    /// Bring your own `reqwest::Client`. The SDK cannot change its redirect
    /// policy, so build it with `redirect(reqwest::redirect::Policy::none())`:
    /// a response that arrives from another URL than the one requested (a
    /// followed redirect) is refused with [`Error::Config`].
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Http::Client(client);
        self
    }

    /// Reads the environment through `lookup` instead of the process
    /// environment (for tests and embedding).
    pub fn env_lookup(
        mut self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.env = Some(Arc::new(lookup));
        self
    }

    /// Resolves the settings and builds the client.
    ///
    /// Fails with [`Error::Auth`] when no key is found (as the Python SDK
    /// does) and with [`Error::Config`] for a refused base URL or header.
    pub fn build(self) -> Result<FerroClient> {
        let env = |k: &str| -> Option<String> {
            let v = match &self.env {
                Some(f) => f(k),
                None => std::env::var(k).ok(),
            };
            v.filter(|s| !s.trim().is_empty())
        };
        let key = self
            .api_key
            .clone()
            .filter(|k| !k.is_empty())
            .or_else(|| env("FERRO_API_KEY").map(SecretString::from))
            .or_else(|| env("OPENAI_API_KEY").map(SecretString::from))
            .ok_or_else(|| {
                Error::Auth(ApiError::local(
                    "missing_api_key",
                    "no API key provided: pass .api_key(...) or set FERRO_API_KEY",
                ))
            })?;
        let raw_url = self
            .base_url
            .clone()
            .or_else(|| env("FERRO_BASE_URL"))
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        let base = parse_base_url(&raw_url, self.allow_insecure_http)?;
        let auth = Auth::new(key)?;

        let mut headers = HeaderMap::new();
        headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        if let Some(name) = &self.invalid_header {
            return Err(Error::config(format!(
                "default header {name:?} has an invalid name or value"
            )));
        }
        if self.default_headers.contains_key(AUTHORIZATION) {
            return Err(Error::config(
                "default headers may not set Authorization; use .api_key(...)",
            ));
        }
        headers.extend(self.default_headers);

        let (http, checks_redirects) = match self.http {
            Http::Client(c) => (c, true),
            Http::Default => (configure(reqwest::Client::builder(), self.timeout)?, false),
            Http::Builder(b) => (configure(*b, self.timeout)?, false),
        };
        Ok(FerroClient::from_parts(
            Arc::new(Shared {
                http,
                base,
                timeout: self.timeout,
                max_retries: self.max_retries,
                headers,
                checks_redirects,
            }),
            Arc::new(auth),
        ))
    }
}

fn configure(b: reqwest::ClientBuilder, timeout: Duration) -> Result<reqwest::Client> {
    b.redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeout)
        .build()
        .map_err(|e| Error::config(format!("cannot build the HTTP client: {e}")))
}

/// Validates a base URL: `http`/`https` with a host, no credentials, query or
/// fragment, and HTTPS unless the host is loopback or insecure HTTP is allowed.
pub(crate) fn parse_base_url(raw: &str, allow_insecure_http: bool) -> Result<Url> {
    let trimmed = raw.trim().trim_end_matches('/');
    let url = Url::parse(trimmed).map_err(|e| Error::config(format!("invalid base URL: {e}")))?;
    match url.scheme() {
        "https" | "http" => {}
        s => {
            return Err(Error::config(format!(
                "base URL scheme must be https or http, not {s:?}"
            )))
        }
    }
    if url.host().is_none() {
        return Err(Error::config("base URL has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::config(
            "base URL may not carry credentials; pass the key with .api_key(...)",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::config("base URL may not have a query or fragment"));
    }
    if url.scheme() == "http" && !allow_insecure_http && !is_loopback(&url) {
        return Err(Error::config(format!(
            "refusing plain http:// to non-loopback host {:?}: the API key would travel unencrypted; \
             use https:// or .allow_insecure_http(true)",
            url.host_str().unwrap_or("")
        )));
    }
    Ok(url)
}

/// `localhost`, `127.0.0.0/8`, `::1` (and IPv4-mapped loopback).
pub(crate) fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn https_required_off_loopback() {
        for ok in [
            "http://localhost:8080",
            "http://LOCALHOST",
            "http://127.0.0.1:9",
            "http://127.8.9.10",
            "http://[::1]:8080/",
            "https://gw.example.com",
            "https://gw.example.com/prefix/",
        ] {
            assert!(parse_base_url(ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "http://gw.example.com",
            "http://10.0.0.5:8080",
            "http://localhost.evil.com",
            "http://[::ffff:10.0.0.1]",
        ] {
            let e = parse_base_url(bad, false).unwrap_err();
            assert!(matches!(e, Error::Config { .. }), "{bad}");
            assert!(parse_base_url(bad, true).is_ok(), "{bad}");
        }
    }

    #[test]
    fn refused_shapes() {
        for bad in [
            "ftp://localhost",
            "https://user:pw@gw.example.com",
            "https://gw.example.com/?a=1",
            "https://gw.example.com/#x",
            "not a url",
        ] {
            assert!(parse_base_url(bad, true).is_err(), "{bad}");
        }
    }

    #[test]
    fn trailing_slashes_are_stripped() {
        let u = parse_base_url("https://gw.example.com/ferro///", false).unwrap();
        assert_eq!(u.path(), "/ferro");
    }
}
