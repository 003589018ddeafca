//! Sending requests: URLs, headers, the retry loop, error mapping, decoding.
//!
//! Request bodies are serialised once into `Bytes`; each retry clones the
//! `Bytes` (a reference count), never the JSON.

use crate::client::FerroClient;
use crate::error::{self, Error, Result};
use crate::retry;
use crate::types::GatewayExtras;
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// Most of an error body kept for the message; the rest is not read.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// A response read in full.
pub(crate) struct Raw {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

enum AttemptError {
    /// May be retried, depending on method and kind.
    Transport(reqwest::Error),
    /// Never retried.
    Fatal(Error),
}

/// Percent-encodes one path segment (an id). Refuses ids that would change
/// the path's meaning (`""`, `.`, `..`).
pub(crate) fn seg(id: &str) -> Result<String> {
    if id.is_empty() || id == "." || id == ".." {
        return Err(Error::invalid(format!("invalid id {id:?}")));
    }
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Ok(out)
}

/// Serialises a request body once.
pub(crate) fn json_body<T: Serialize + ?Sized>(value: &T) -> Result<Bytes> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| Error::invalid(format!("cannot serialise the request body: {e}")))
}

/// A bare array, or the first of `keys` holding an array in an object
/// (the Python SDK's `items()`).
pub(crate) fn items<T: DeserializeOwned>(v: Value, keys: &[&str]) -> Result<Vec<T>> {
    let arr = match v {
        Value::Array(a) => a,
        Value::Object(mut o) => keys
            .iter()
            .find_map(|k| match o.remove(*k) {
                Some(Value::Array(a)) => Some(a),
                _ => None,
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    serde_json::from_value(Value::Array(arr)).map_err(|e| Error::Decode {
        message: e.to_string(),
        request_id: None,
    })
}

impl Raw {
    fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Parses the body (an empty body reads as `{}`).
    pub(crate) fn decode<T: DeserializeOwned>(&self) -> Result<T> {
        let body: &[u8] = if self.body.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &self.body
        };
        serde_json::from_slice(body).map_err(|e| Error::Decode {
            message: e.to_string(),
            request_id: error::request_id(&self.headers, None),
        })
    }
}

impl FerroClient {
    /// `base + path` (`path` starts with `/`, ids already [`seg`]-encoded).
    pub(crate) fn url(&self, path: &str) -> Result<Url> {
        let base = self.shared.base.as_str().trim_end_matches('/');
        Url::parse(&format!("{base}{path}"))
            .map_err(|e| Error::invalid(format!("invalid request path: {e}")))
    }

    /// [`url`](Self::url) plus the query pairs whose value is set.
    pub(crate) fn url_q(&self, path: &str, query: &[(&str, Option<String>)]) -> Result<Url> {
        let mut url = self.url(path)?;
        if query.iter().any(|(_, v)| v.is_some()) {
            let mut q = url.query_pairs_mut();
            for (k, v) in query {
                if let Some(v) = v {
                    q.append_pair(k, v);
                }
            }
        }
        Ok(url)
    }

    fn request(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&Bytes>,
        accept: &'static str,
    ) -> reqwest::RequestBuilder {
        let mut headers = self.shared.headers.clone();
        headers.insert(AUTHORIZATION, self.auth.header.clone());
        headers.insert(ACCEPT, HeaderValue::from_static(accept));
        if body.is_some() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        let mut rb = self
            .shared
            .http
            .request(method.clone(), url.clone())
            .headers(headers);
        if let Some(b) = body {
            rb = rb.body(b.clone());
        }
        rb
    }

    fn check_redirect(&self, requested: &Url, resp: &reqwest::Response) -> Result<()> {
        if self.shared.checks_redirects && resp.url() != requested {
            return Err(Error::config(
                "the supplied reqwest::Client followed a redirect; the SDK refuses redirects so \
                 credentials are not replayed: build it with redirect::Policy::none()",
            ));
        }
        Ok(())
    }

    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&Bytes>,
    ) -> std::result::Result<Raw, AttemptError> {
        let resp = self
            .request(method, url, body, "application/json")
            .timeout(self.shared.timeout)
            .send()
            .await
            .map_err(AttemptError::Transport)?;
        self.check_redirect(url, &resp)
            .map_err(AttemptError::Fatal)?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = if (200..300).contains(&status) {
            resp.bytes().await.map_err(AttemptError::Transport)?
        } else {
            read_capped(resp).await.map_err(AttemptError::Transport)?
        };
        Ok(Raw {
            status,
            headers,
            body,
        })
    }

    /// Sends with the retry policy of §11.4. `probe`: a 503 is an answer.
    pub(crate) async fn execute(
        &self,
        method: Method,
        url: Url,
        body: Option<Bytes>,
        probe: bool,
    ) -> Result<Raw> {
        let mut attempt: u32 = 0;
        loop {
            let retries_left = attempt < self.shared.max_retries;
            let wait = match self.attempt(&method, &url, body.as_ref()).await {
                Ok(raw) if raw.is_success() || (probe && raw.status == 503) => return Ok(raw),
                Ok(raw) => {
                    if retries_left && retry::retry_status(&method, raw.status) {
                        retry::delay(attempt + 1, retry::retry_after(&raw.headers))
                    } else {
                        return Err(Error::from_response(
                            raw.status,
                            &raw.headers,
                            &raw.body,
                            &self.auth.key,
                        ));
                    }
                }
                Err(AttemptError::Fatal(e)) => return Err(e),
                Err(AttemptError::Transport(e)) => {
                    if retries_left
                        && retry::retry_transport(&method, e.is_connect(), e.is_timeout())
                    {
                        retry::delay(attempt + 1, None)
                    } else {
                        return Err(self.connection_error(e));
                    }
                }
            };
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    pub(crate) fn connection_error(&self, e: reqwest::Error) -> Error {
        let timeout = e.is_timeout();
        let mut detail = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            detail.push_str(": ");
            detail.push_str(&s.to_string());
            src = s.source();
        }
        let message = if timeout {
            format!(
                "request timed out after {:?}: {detail}",
                self.shared.timeout
            )
        } else {
            format!(
                "cannot reach {}; is the gateway running? ({detail})",
                self.base_url()
            )
        };
        Error::Connection {
            message: error::clean(&self.auth.key, &message),
            timeout,
            source: Some(e),
        }
    }

    /// `method path` → JSON `T`.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<Bytes>,
    ) -> Result<T> {
        self.execute(method, url, body, false).await?.decode()
    }

    /// An inference call: JSON `T` with the gateway extras filled from headers.
    pub(crate) async fn call_inference<T: DeserializeOwned + GatewayExtras>(
        &self,
        method: Method,
        url: Url,
        body: Option<Bytes>,
    ) -> Result<T> {
        let raw = self.execute(method, url, body, false).await?;
        let mut out: T = raw.decode()?;
        out.fill_from_headers(&raw.headers);
        Ok(out)
    }

    /// A call whose body is ignored (`204`, `{"status":"revoked"}`…).
    pub(crate) async fn call_unit(&self, method: Method, url: Url) -> Result<()> {
        self.execute(method, url, None, false).await.map(|_| ())
    }

    /// Opens an SSE response (never retried). Non-2xx is mapped to an error.
    pub(crate) async fn open_stream(&self, url: Url, body: Bytes) -> Result<reqwest::Response> {
        let send = self
            .request(&Method::POST, &url, Some(&body), "text/event-stream")
            .send();
        let resp = match tokio::time::timeout(self.shared.timeout, send).await {
            Err(_) => {
                return Err(Error::Connection {
                    message: format!(
                        "no response headers within {:?} from {}",
                        self.shared.timeout,
                        self.base_url()
                    ),
                    timeout: true,
                    source: None,
                })
            }
            Ok(Err(e)) => return Err(self.connection_error(e)),
            Ok(Ok(r)) => r,
        };
        self.check_redirect(&url, &resp)?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(resp);
        }
        let headers = resp.headers().clone();
        let body = tokio::time::timeout(self.shared.timeout, read_capped(resp))
            .await
            .ok()
            .and_then(|r| r.ok())
            .unwrap_or_default();
        Err(Error::from_response(
            status,
            &headers,
            &body,
            &self.auth.key,
        ))
    }
}

/// Reads at most [`MAX_ERROR_BODY`] bytes of a body.
async fn read_capped(mut resp: reqwest::Response) -> reqwest::Result<Bytes> {
    let mut buf = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = MAX_ERROR_BODY - buf.len();
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if buf.len() >= MAX_ERROR_BODY {
            break;
        }
    }
    Ok(Bytes::from(buf))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded() {
        assert_eq!(seg("abc-123_x.y~").unwrap(), "abc-123_x.y~");
        assert_eq!(seg("a/b?c#d e%").unwrap(), "a%2Fb%3Fc%23d%20e%25");
        assert!(seg("").is_err());
        assert!(seg(".").is_err());
        assert!(seg("..").is_err());
        assert_eq!(seg("...").unwrap(), "...");
    }

    #[test]
    fn items_unwraps_envelopes() {
        let v: Vec<i32> = items(serde_json::json!([1, 2]), &["data"]).unwrap();
        assert_eq!(v, [1, 2]);
        let v: Vec<i32> = items(serde_json::json!({"keys": [3]}), &["data", "keys"]).unwrap();
        assert_eq!(v, [3]);
        let v: Vec<i32> = items(serde_json::json!({"other": 1}), &["data"]).unwrap();
        assert!(v.is_empty());
    }
}
