//! Service-account credentials for Vertex AI: an RS256-signed JWT
//! (RFC 7523 `jwt-bearer` grant) exchanged at the token endpoint for an OAuth
//! access token, which is cached per (token URL, credential) and refreshed
//! [`REFRESH_MARGIN`] seconds before it expires. Concurrent requests that find
//! the token stale wait for one exchange instead of each starting their own.
//!
//! The credential is the service-account JSON itself or the path of a file
//! holding it. Secrets never appear in errors.

use base64ct::{Base64UrlUnpadded, Encoding};
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::RsaPrivateKey;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Google's OAuth token endpoint (when neither config nor the key file names one).
pub const DEFAULT_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// The OAuth scope Vertex AI needs.
pub const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// A token is refreshed this many seconds before it expires.
pub const REFRESH_MARGIN: u64 = 300;
/// Lifetime asked for in the JWT (Google's maximum).
const JWT_LIFETIME: u64 = 3600;
/// Deadline of one token exchange.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);

/// The fields of a service-account key file this module uses.
#[derive(Deserialize)]
pub struct ServiceAccount {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    pub client_email: String,
    pub private_key: String,
    #[serde(default)]
    pub private_key_id: Option<String>,
    #[serde(default)]
    pub token_uri: Option<String>,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .finish_non_exhaustive()
    }
}

/// Reads a credential: inline JSON, or the path of a JSON key file.
pub fn load(credential: &str) -> Result<ServiceAccount, String> {
    let text = credential.trim();
    let owned;
    let json = if text.starts_with('{') {
        text
    } else {
        owned = std::fs::read_to_string(text)
            .map_err(|e| format!("cannot read the service-account key file: {e}"))?;
        owned.as_str()
    };
    let sa: ServiceAccount = serde_json::from_str(json)
        .map_err(|_| "the service-account JSON is not a valid key file".to_owned())?;
    if sa.kind.as_deref().is_some_and(|k| k != "service_account") {
        return Err("only service_account credentials are supported".to_owned());
    }
    signing_key(&sa)?;
    Ok(sa)
}

fn signing_key(sa: &ServiceAccount) -> Result<SigningKey<Sha256>, String> {
    let key = RsaPrivateKey::from_pkcs8_pem(&sa.private_key)
        .map_err(|_| "the service-account private_key is not a PKCS#8 RSA key".to_owned())?;
    Ok(SigningKey::<Sha256>::new(key))
}

fn b64(data: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(data)
}

/// The signed assertion for `aud` issued at `now` (seconds since the epoch).
pub fn assertion(sa: &ServiceAccount, aud: &str, now: u64) -> Result<String, String> {
    let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
    if let Some(kid) = sa.private_key_id.as_deref().filter(|k| !k.is_empty()) {
        header["kid"] = kid.into();
    }
    let claims = serde_json::json!({
        "iss": sa.client_email,
        "scope": SCOPE,
        "aud": aud,
        "iat": now,
        "exp": now + JWT_LIFETIME,
    });
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = signing_key(sa)?
        .try_sign(input.as_bytes())
        .map_err(|_| "could not sign the service-account assertion".to_owned())?;
    Ok(format!("{input}.{}", b64(&sig.to_bytes())))
}

/// A cached access token.
#[derive(Clone)]
struct Token {
    value: String,
    /// Unix time after which the token is refreshed.
    refresh_at: u64,
}

/// When a token granted at `now` for `expires_in` seconds must be refreshed.
pub fn refresh_at(now: u64, expires_in: u64) -> u64 {
    if expires_in > 2 * REFRESH_MARGIN {
        now + expires_in - REFRESH_MARGIN
    } else {
        now + expires_in / 2
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

type Slot = Arc<tokio::sync::Mutex<Option<Token>>>;

/// One slot per (token URL, credential). The std mutex guards only the map
/// lookup and is never held across an `.await`; the per-slot async mutex makes
/// a refresh single-flight.
fn slot(key: &str) -> Slot {
    static SLOTS: OnceLock<Mutex<HashMap<String, Slot>>> = OnceLock::new();
    let map = SLOTS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut guard = match map.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    guard.entry(key.to_owned()).or_default().clone()
}

fn cache_key(token_url: Option<&str>, credential: &str) -> String {
    let mut h = Sha256::new();
    h.update(token_url.unwrap_or("").as_bytes());
    h.update([0]);
    h.update(credential.as_bytes());
    let d = h.finalize();
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct TokenRefusal {
    #[serde(default)]
    error: Option<String>,
}

async fn exchange(
    http: &reqwest::Client,
    credential: &str,
    token_url: Option<&str>,
) -> Result<Token, String> {
    let sa = load(credential)?;
    let url = token_url
        .or(sa.token_uri.as_deref())
        .unwrap_or(DEFAULT_TOKEN_URL)
        .to_owned();
    let now = unix_now();
    let jwt = assertion(&sa, &url, now)?;
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
        .append_pair("assertion", &jwt)
        .finish();
    let resp = http
        .post(&url)
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .timeout(EXCHANGE_TIMEOUT)
        .body(form)
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                "the token endpoint timed out".to_owned()
            } else {
                "the token endpoint could not be reached".to_owned()
            }
        })?;
    let status = resp.status().as_u16();
    let bytes = resp
        .bytes()
        .await
        .map_err(|_| "the token endpoint answer was cut".to_owned())?;
    if !(200..300).contains(&status) {
        let reason = serde_json::from_slice::<TokenRefusal>(&bytes)
            .ok()
            .and_then(|r| r.error)
            .unwrap_or_default();
        return Err(format!(
            "the token endpoint refused the service account ({status} {})",
            ferro_types::json::truncate(&reason, 64)
        ));
    }
    let t: TokenAnswer = serde_json::from_slice(&bytes)
        .map_err(|_| "the token endpoint answer is not a token".to_owned())?;
    Ok(Token {
        value: t.access_token,
        refresh_at: refresh_at(unix_now(), t.expires_in.unwrap_or(JWT_LIFETIME)),
    })
}

/// A valid access token for `credential`, from the cache or a fresh exchange.
pub async fn access_token(
    http: &reqwest::Client,
    credential: &str,
    token_url: Option<&str>,
) -> Result<String, String> {
    let slot = slot(&cache_key(token_url, credential));
    let mut guard = slot.lock().await;
    if let Some(t) = guard.as_ref() {
        if unix_now() < t.refresh_at {
            return Ok(t.value.clone());
        }
    }
    let t = exchange(http, credential, token_url).await?;
    let value = t.value.clone();
    *guard = Some(t);
    Ok(value)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};

    #[test]
    fn refresh_margin() {
        assert_eq!(refresh_at(1000, 3600), 1000 + 3300);
        assert_eq!(refresh_at(1000, 100), 1050);
    }

    #[test]
    fn assertion_shape_and_signature() {
        use rsa::signature::Verifier;
        let key = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
        let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap();
        let sa_json = serde_json::json!({
            "type": "service_account", "client_email": "sa@p.iam.gserviceaccount.com",
            "private_key": pem.as_str(), "private_key_id": "kid1"
        })
        .to_string();
        let sa = load(&sa_json).unwrap();
        assert!(!format!("{sa:?}").contains("PRIVATE"));
        let jwt = assertion(&sa, "http://t/token", 100).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&Base64UrlUnpadded::decode_vec(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["kid"], "kid1");
        let claims: serde_json::Value =
            serde_json::from_slice(&Base64UrlUnpadded::decode_vec(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["aud"], "http://t/token");
        assert_eq!(claims["exp"], 3700);
        assert_eq!(claims["scope"], SCOPE);
        let vk = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key.to_public_key());
        let sig = rsa::pkcs1v15::Signature::try_from(
            Base64UrlUnpadded::decode_vec(parts[2]).unwrap().as_slice(),
        )
        .unwrap();
        vk.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
            .unwrap();
        assert!(
            load(r#"{"type":"authorized_user","client_email":"x","private_key":"y"}"#).is_err()
        );
        assert!(load("/nonexistent/key.json").is_err());
    }
}
