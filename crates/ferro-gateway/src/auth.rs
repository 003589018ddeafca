//! Credentials: who is calling. The data plane asks an [`Authenticator`] for an
//! [`Identity`]; the master key is one implementation, stored keys (control-plane
//! issue) slot in as another without touching the handlers.

use ferro_providers::Secret;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Scopes of CONTRACT §4.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Admin,
    ReadOnly,
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Key id as logged (`master-key:<16hex>` for the master key, `""` anonymous).
    pub id: String,
    pub name: String,
    pub scopes: Vec<Scope>,
}

impl Identity {
    pub fn anonymous() -> Identity {
        Identity {
            id: String::new(),
            name: String::new(),
            scopes: Vec::new(),
        }
    }

    pub fn has(&self, s: Scope) -> bool {
        self.scopes.contains(&Scope::Admin) || self.scopes.contains(&s)
    }
}

/// Something that can turn a bearer token into an identity.
pub trait Authenticator: Send + Sync + 'static {
    /// `None` when the token is not a valid credential; `digest` is the
    /// token's SHA-256 (computed once per request by [`AuthChain`]). Must not
    /// do I/O on the request path (stored keys are cached in memory).
    fn authenticate(&self, token: &str, digest: &[u8; 32]) -> Option<Identity>;

    /// [`Authenticator::authenticate`], hashing `token` itself.
    fn authenticate_token(&self, token: &str) -> Option<Identity> {
        self.authenticate(token, &token_digest(token))
    }
}

/// SHA-256 of a bearer token.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The `MASTER_KEY` credential: compared in constant time over SHA-256 digests,
/// so neither length nor content leaks through timing.
pub struct MasterKey {
    digest: [u8; 32],
    identity: Identity,
}

impl MasterKey {
    pub fn new(key: &Secret) -> MasterKey {
        let digest: [u8; 32] = Sha256::digest(key.expose().as_bytes()).into();
        let id = format!("master-key:{}", &hex::encode(digest)[..16]);
        MasterKey {
            digest,
            identity: Identity {
                id: id.clone(),
                name: id,
                scopes: vec![Scope::Admin],
            },
        }
    }
}

impl Authenticator for MasterKey {
    fn authenticate(&self, token: &str, digest: &[u8; 32]) -> Option<Identity> {
        if token.is_empty() {
            return None;
        }
        bool::from(digest.ct_eq(&self.digest)).then(|| self.identity.clone())
    }
}

/// Tries each authenticator in order.
#[derive(Clone, Default)]
pub struct AuthChain {
    chain: Vec<Arc<dyn Authenticator>>,
}

impl AuthChain {
    pub fn push(&mut self, a: Arc<dyn Authenticator>) {
        self.chain.push(a);
    }

    pub fn authenticate(&self, token: &str) -> Option<Identity> {
        let digest = token_digest(token);
        self.chain
            .iter()
            .find_map(|a| a.authenticate(token, &digest))
    }
}

/// Why a request is not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    Missing,
    Invalid,
    Malformed,
}

/// Extracts the bearer token (case-sensitive `Bearer ` prefix, one header, ASCII, bounded).
pub fn bearer(headers: &http::HeaderMap) -> Result<&str, AuthFailure> {
    let mut all = headers.get_all(http::header::AUTHORIZATION).iter();
    let Some(v) = all.next() else {
        return Err(AuthFailure::Missing);
    };
    if all.next().is_some() {
        return Err(AuthFailure::Malformed);
    }
    let v = v.to_str().map_err(|_| AuthFailure::Invalid)?;
    let token = v.strip_prefix("Bearer ").ok_or(AuthFailure::Missing)?;
    if token.is_empty() || token.len() > 512 || !token.is_ascii() {
        return Err(AuthFailure::Invalid);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_key_identity_and_constant_time_match() {
        let mk = MasterKey::new(&Secret::new("fgw_secret"));
        let auth = |t: &str| mk.authenticate(t, &token_digest(t));
        let id = auth("fgw_secret");
        assert!(id
            .as_ref()
            .is_some_and(|i| i.id.starts_with("master-key:") && i.id.len() == 27));
        assert!(auth("fgw_secreT").is_none());
        assert!(auth("").is_none());
    }

    #[test]
    fn bearer_parsing() {
        let mut h = http::HeaderMap::new();
        assert_eq!(bearer(&h), Err(AuthFailure::Missing));
        h.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_static("bearer x"),
        );
        assert_eq!(bearer(&h), Err(AuthFailure::Missing));
        h.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_static("Bearer x"),
        );
        assert_eq!(bearer(&h), Ok("x"));
        h.append(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_static("Bearer y"),
        );
        assert_eq!(bearer(&h), Err(AuthFailure::Malformed));
    }
}
