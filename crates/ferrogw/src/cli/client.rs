//! The gateway's HTTP API from the command line: one reqwest client, the
//! credential as a bearer token (never printed), and errors that know their
//! exit code. Redirects are not followed, so the credential never leaves the
//! gateway's origin.

use super::{Exit, Global};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;
use std::fmt;
use std::time::Duration;

/// What went wrong talking to the gateway.
#[derive(Debug, Clone, PartialEq)]
pub enum CliError {
    /// No answer (connection refused, DNS, timeout).
    Unreachable(String),
    /// 401 or 403.
    Auth { status: u16, message: String },
    /// Another non-2xx answer.
    Api { status: u16, message: String },
    /// Bad flags or local input.
    Usage(String),
    /// Anything else (an unreadable answer, a local I/O failure).
    Other(String),
}

impl CliError {
    pub fn exit(&self) -> Exit {
        match self {
            CliError::Unreachable(_) => Exit::Unreachable,
            CliError::Auth { .. } => Exit::Auth,
            CliError::Api { .. } | CliError::Other(_) => Exit::Failure,
            CliError::Usage(_) => Exit::Usage,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Unreachable(m) => write!(f, "gateway unreachable: {m}"),
            CliError::Auth { status, message } => {
                write!(
                    f,
                    "{message} (HTTP {status}; set --api-key, FERROGW_API_KEY or MASTER_KEY)"
                )
            }
            CliError::Api { status, message } => write!(f, "{message} (HTTP {status})"),
            CliError::Usage(m) | CliError::Other(m) => f.write_str(m),
        }
    }
}

/// `message (code)` out of an OpenAI-style error envelope, else the raw text.
pub fn error_message(body: &str) -> String {
    let v: Option<Value> = serde_json::from_str(body).ok();
    let err = v.as_ref().and_then(|v| v.get("error"));
    let msg = err
        .and_then(|e| e.get("message"))
        .or_else(|| v.as_ref().and_then(|v| v.get("message")))
        .and_then(Value::as_str);
    let code = err.and_then(|e| e.get("code")).and_then(Value::as_str);
    match (msg, code) {
        (Some(m), Some(c)) => format!("{m} ({c})"),
        (Some(m), None) => m.to_owned(),
        _ => {
            let t = body.trim();
            let cut = t.char_indices().nth(300).map_or(t.len(), |(i, _)| i);
            if t.is_empty() {
                "no details".to_owned()
            } else {
                t[..cut].to_owned()
            }
        }
    }
}

/// A connection error without the URL (which may carry userinfo).
fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".to_owned();
    }
    let e = e.without_url();
    let mut s = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(inner) = src {
        s = format!("{s}: {inner}");
        src = inner.source();
    }
    s
}

/// The gateway client.
#[derive(Clone)]
pub struct Client {
    base: String,
    key: Option<String>,
    http: reqwest::Client,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("key", &self.key.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

impl Client {
    /// A client for `g.gateway_url` with `g.key()`.
    pub fn new(g: &Global) -> Result<Client, CliError> {
        Self::with_timeout(g, Some(Duration::from_secs(30)))
    }

    /// Like [`Client::new`]; `None` = no overall timeout (streams, tails).
    pub fn with_timeout(g: &Global, timeout: Option<Duration>) -> Result<Client, CliError> {
        let base = g.gateway_url.trim().trim_end_matches('/').to_owned();
        let u = url::Url::parse(&base)
            .map_err(|e| CliError::Usage(format!("--gateway-url `{base}`: {e}")))?;
        if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
            return Err(CliError::Usage(format!(
                "--gateway-url `{base}` must be an http(s) URL with a host"
            )));
        }
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("ferrogw-cli/", env!("CARGO_PKG_VERSION")));
        if let Some(t) = timeout {
            b = b.timeout(t);
        }
        let http = b
            .build()
            .map_err(|e| CliError::Other(format!("HTTP client: {e}")))?;
        Ok(Client {
            base,
            key: g.key(),
            http,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn has_key(&self) -> bool {
        self.key.is_some()
    }

    /// A request to `path` (with the bearer credential when `auth`).
    pub fn request(&self, method: Method, path: &str, auth: bool) -> RequestBuilder {
        let rb = self.http.request(method, format!("{}{path}", self.base));
        match (&self.key, auth) {
            (Some(k), true) => rb.bearer_auth(k),
            _ => rb,
        }
    }

    /// Sends `rb`; maps transport failures and 401/403 and other errors.
    pub async fn send(&self, rb: RequestBuilder) -> Result<reqwest::Response, CliError> {
        let resp = rb
            .send()
            .await
            .map_err(|e| CliError::Unreachable(format!("{}: {}", self.base, describe(e))))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.text().await.unwrap_or_default();
        Err(status_error(status, &body))
    }

    /// `GET path` as JSON (authenticated).
    pub async fn get_json(&self, path: &str) -> Result<Value, CliError> {
        let resp = self.send(self.request(Method::GET, path, true)).await?;
        read_json(resp).await
    }

    /// `method path` with an optional JSON body, as JSON (authenticated).
    pub async fn send_json(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CliError> {
        let mut rb = self.request(method, path, true);
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let resp = self.send(rb).await?;
        read_json(resp).await
    }

    /// `GET path` without credential, whatever the status (probes answer 503
    /// with a body): (status, JSON body or `null`).
    pub async fn probe(&self, path: &str) -> Result<(u16, Value), CliError> {
        let resp = self
            .request(Method::GET, path, false)
            .send()
            .await
            .map_err(|e| CliError::Unreachable(format!("{}: {}", self.base, describe(e))))?;
        let status = resp.status().as_u16();
        let v = resp.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, v))
    }
}

/// The error of a non-2xx answer.
pub fn status_error(status: StatusCode, body: &str) -> CliError {
    let message = error_message(body);
    let status = status.as_u16();
    if status == 401 || status == 403 {
        CliError::Auth { status, message }
    } else {
        CliError::Api { status, message }
    }
}

async fn read_json(resp: reqwest::Response) -> Result<Value, CliError> {
    let text = resp
        .text()
        .await
        .map_err(|e| CliError::Other(format!("reading the answer: {}", describe(e))))?;
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&text)
        .map_err(|_| CliError::Other("the gateway answered with invalid JSON".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_messages() {
        assert_eq!(
            error_message(
                r#"{"error":{"message":"invalid API key","type":"x","code":"invalid_api_key"}}"#
            ),
            "invalid API key (invalid_api_key)"
        );
        assert_eq!(error_message("404 page not found"), "404 page not found");
        assert_eq!(error_message(""), "no details");
        assert_eq!(status_error(StatusCode::FORBIDDEN, "{}").exit(), Exit::Auth);
        assert_eq!(
            status_error(StatusCode::BAD_GATEWAY, "{}").exit(),
            Exit::Failure
        );
    }
}
