//! Stored API keys and dashboard sessions as an [`Authenticator`] (CONTRACT §4).
//!
//! **Why a cache.** Every `/v1` request is authenticated, so a database round
//! trip per request would put the store on the hot path (and make SQLite's
//! single writer or a remote PostgreSQL everyone's latency). The whole key and
//! session set is held in memory instead, keyed by the SHA-256 of the secret, and
//! swapped atomically (`ArcSwap`) when it changes: a check is one hash and one
//! map lookup, with no lock and no I/O.
//!
//! **Why polling.** A change made through this gateway reloads the cache before
//! the admin call returns, so it is effective at once here. Other gateways
//! sharing the store learn about it by polling the store's `auth` version
//! counter every [`POLL_INTERVAL`] (one tiny indexed read), which every key and
//! session mutation bumps in the same transaction: a revoke or rotate is
//! effective everywhere within 1 s, with no extra infrastructure (no pub/sub).
//!
//! **Why batches.** `usage_count` / `last_used_at` (and session `last_seen_at`)
//! are accumulated in memory and written every [`FLUSH_INTERVAL`] in one
//! transaction, off the request path; a failed write is logged and never fails
//! authentication. Usage writes do not bump the version, so traffic never
//! triggers cache reloads.

use crate::auth::{Authenticator, Identity, Scope};
use arc_swap::ArcSwap;
use ferro_store::{time, KeyRecord, KeyStore, SessionRecord, SessionStore, UsageDelta};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Maps keyed by SHA-256 digests and the gateway's own ids: a fast hasher
/// (only stored keys are in them, so a caller cannot crowd a bucket).
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often other instances' changes are looked for.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// How often usage counters are written.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(250);
/// Session lifetimes (CONTRACT §4.6).
pub const SESSION_TTL: i64 = 24 * 3600 * time::SECOND;
pub const SESSION_IDLE: i64 = 3600 * time::SECOND;
/// `last_seen_at` is persisted at this resolution.
pub const SEEN_RESOLUTION: i64 = 60 * time::SECOND;

/// Prefix of issued keys and of session tokens.
pub const KEY_PREFIX: &str = "fgw_";
pub const SESSION_PREFIX: &str = "fgws_";

/// A fresh key secret: `fgw_` + 64 lowercase hex (32 random bytes).
pub fn new_secret() -> String {
    format!("{KEY_PREFIX}{}", ferro_store::random_hex(32))
}

/// A fresh session token: `fgws_` + 64 hex.
pub fn new_session_token() -> String {
    format!("{SESSION_PREFIX}{}", ferro_store::random_hex(32))
}

/// Display form: first 8 characters + `...` + last 4.
pub fn display_form(secret: &str) -> String {
    let head: String = secret.chars().take(8).collect();
    let n = secret.chars().count();
    let tail: String = secret.chars().skip(n.saturating_sub(4)).collect();
    format!("{head}...{tail}")
}

/// Parses the stored scope names; unknown names are dropped.
pub fn scopes_of(names: &[String]) -> Vec<Scope> {
    names
        .iter()
        .filter_map(|s| match s.as_str() {
            "admin" => Some(Scope::Admin),
            "read_only" => Some(Scope::ReadOnly),
            _ => None,
        })
        .collect()
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn digest_of_hex(h: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(h, &mut out).ok()?;
    Some(out)
}

#[derive(Debug)]
struct CachedKey {
    id: String,
    name: String,
    scopes: Vec<Scope>,
    active: bool,
    revoked: bool,
    expires_at: Option<i64>,
}

impl CachedKey {
    fn usable(&self, now: i64) -> bool {
        self.active && !self.revoked && self.expires_at.is_none_or(|e| now <= e)
    }
}

#[derive(Debug)]
struct CachedSession {
    id: String,
    credential_id: String,
    subject: String,
    expires_at: i64,
    last_seen: AtomicI64,
}

/// An immutable snapshot of everything authentication reads.
#[derive(Debug, Default)]
struct Snapshot {
    version: i64,
    keys: Map<[u8; 32], Arc<CachedKey>>,
    by_id: Map<String, Arc<CachedKey>>,
    sessions: Map<[u8; 32], Arc<CachedSession>>,
}

/// Why a session token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionFailure {
    /// Not a known session token.
    Unknown,
    /// Expired, idle too long, or its source credential is no longer usable.
    Invalid,
}

/// The stored-key and session authenticator.
pub struct StoredKeys {
    keys: Arc<dyn KeyStore>,
    sessions: Arc<dyn SessionStore>,
    snapshot: ArcSwap<Snapshot>,
    /// `master-key:<16hex>`, when `MASTER_KEY` is set (a session source).
    master_id: Option<String>,
    usage: Mutex<Map<String, (i64, i64)>>,
    seen: Mutex<Map<String, i64>>,
    reload_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for StoredKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKeys")
            .field("version", &self.snapshot.load().version)
            .finish_non_exhaustive()
    }
}

impl StoredKeys {
    pub fn new(
        keys: Arc<dyn KeyStore>,
        sessions: Arc<dyn SessionStore>,
        master_id: Option<String>,
    ) -> StoredKeys {
        StoredKeys {
            keys,
            sessions,
            snapshot: ArcSwap::from_pointee(Snapshot {
                version: -1,
                ..Default::default()
            }),
            master_id,
            usage: Mutex::new(Map::default()),
            seen: Mutex::new(Map::default()),
            reload_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Re-reads every key and session and swaps the snapshot in.
    pub async fn reload(&self) -> ferro_store::Result<()> {
        let _one_at_a_time = self.reload_lock.lock().await;
        // Version first: a change racing this read is seen by the next poll.
        let version = self.keys.auth_version().await?;
        let keys = self.keys.list_keys().await?;
        let sessions = self.sessions.list_sessions().await?;
        let old = self.snapshot.load_full();
        let mut snap = Snapshot {
            version,
            ..Default::default()
        };
        for k in keys {
            let Some(d) = digest_of_hex(&k.key_hash) else {
                tracing::warn!(key_id = %k.id, "stored key hash is not SHA-256 hex; skipped");
                continue;
            };
            let c = Arc::new(CachedKey {
                scopes: scopes_of(&k.scopes),
                active: k.active,
                revoked: k.revoked_at.is_some(),
                expires_at: k.expires_at,
                id: k.id,
                name: k.name,
            });
            snap.by_id.insert(c.id.clone(), c.clone());
            snap.keys.insert(d, c);
        }
        for s in sessions {
            let Some(d) = digest_of_hex(&s.token_hash) else {
                continue;
            };
            // Keep the in-memory last-seen time, which may be ahead of the store.
            let seen = old
                .sessions
                .get(&d)
                .map(|o| o.last_seen.load(Ordering::Relaxed))
                .unwrap_or(0)
                .max(s.last_seen_at.unwrap_or(s.created_at));
            snap.sessions.insert(
                d,
                Arc::new(CachedSession {
                    id: s.id,
                    credential_id: s.credential_id,
                    subject: s.subject,
                    expires_at: s.expires_at,
                    last_seen: AtomicI64::new(seen),
                }),
            );
        }
        self.snapshot.store(Arc::new(snap));
        Ok(())
    }

    /// Reloads if the store's version moved (another instance changed something).
    pub async fn poll(&self) -> ferro_store::Result<bool> {
        let v = self.keys.auth_version().await?;
        if v == self.snapshot.load().version {
            return Ok(false);
        }
        self.reload().await.map(|_| true)
    }

    /// Writes the accumulated usage and session last-seen times.
    pub async fn flush(&self) {
        let usage: Vec<UsageDelta> = {
            let mut m = self.usage.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::take(&mut *m)
                .into_iter()
                .map(|(id, (count, last_used_at))| UsageDelta {
                    id,
                    count,
                    last_used_at,
                })
                .collect()
        };
        if let Err(e) = self.keys.record_usage(&usage).await {
            tracing::warn!(error = %e, keys = usage.len(), "could not write key usage");
        }
        let seen: Vec<(String, i64)> = {
            let mut m = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::take(&mut *m).into_iter().collect()
        };
        if let Err(e) = self.sessions.touch_sessions(&seen).await {
            tracing::warn!(error = %e, "could not write session last-seen times");
        }
    }

    /// Starts the poller and the usage flusher on the current runtime.
    pub fn spawn_background(self: &Arc<Self>) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = me.poll().await {
                    tracing::warn!(error = %e, "key store poll failed; keeping the cached keys");
                }
            }
        });
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(FLUSH_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut pruned = tokio::time::Instant::now();
            loop {
                tick.tick().await;
                me.flush().await;
                if pruned.elapsed() >= Duration::from_secs(3600) {
                    // hourly: forget sessions past their absolute expiry
                    pruned = tokio::time::Instant::now();
                    let _ = me.sessions.prune_sessions(time::now()).await;
                }
            }
        });
    }

    fn note_usage(&self, id: &str, now: i64) {
        let mut m = self.usage.lock().unwrap_or_else(|p| p.into_inner());
        match m.get_mut(id) {
            Some(e) => {
                e.0 += 1;
                e.1 = e.1.max(now);
            }
            None => {
                m.insert(id.to_owned(), (1, now));
            }
        }
    }

    /// A usable stored key's identity (counts the use); `digest` is the
    /// token's SHA-256.
    fn key_identity(&self, digest: &[u8; 32], now: i64) -> Option<Identity> {
        let snap = self.snapshot.load();
        let k = snap.keys.get(digest)?;
        if !k.usable(now) {
            return None;
        }
        self.note_usage(&k.id, now);
        Some(Identity {
            id: k.id.clone(),
            name: k.name.clone(),
            scopes: k.scopes.clone(),
        })
    }

    /// Checks a `fgws_` token: expiry, idle time, and the source credential's
    /// current usability and scopes (which replace the session's).
    pub fn session_identity(&self, token: &str) -> Result<Identity, SessionFailure> {
        let now = time::now();
        let snap = self.snapshot.load();
        let s = snap
            .sessions
            .get(&digest(token))
            .ok_or(SessionFailure::Unknown)?;
        let last = s.last_seen.load(Ordering::Relaxed);
        if now > s.expires_at || now - last > SESSION_IDLE {
            return Err(SessionFailure::Invalid);
        }
        let scopes = if self.master_id.as_deref() == Some(s.credential_id.as_str()) {
            vec![Scope::Admin]
        } else {
            match snap.by_id.get(&s.credential_id) {
                Some(k) if k.usable(now) => k.scopes.clone(),
                _ => return Err(SessionFailure::Invalid),
            }
        };
        if now - last >= SEEN_RESOLUTION {
            s.last_seen.store(now, Ordering::Relaxed);
            let mut m = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            m.insert(s.id.clone(), now);
        }
        Ok(Identity {
            id: format!("session:{}", s.id),
            name: s.subject.clone(),
            scopes,
        })
    }

    /// The credential behind an identity: a session's source key id, else the id.
    pub fn credential_of(&self, identity_id: &str) -> String {
        if let Some(sid) = identity_id.strip_prefix("session:") {
            let snap = self.snapshot.load();
            if let Some(s) = snap.sessions.values().find(|s| s.id == sid) {
                return s.credential_id.clone();
            }
        }
        identity_id.to_owned()
    }

    /// Exchanges a key (already authenticated as `who`) for a new session.
    pub async fn create_session(
        &self,
        who: &Identity,
    ) -> ferro_store::Result<(String, SessionRecord)> {
        let token = new_session_token();
        let now = time::now();
        let rec = SessionRecord {
            id: ferro_store::random_hex(16),
            token_hash: ferro_store::sha256_hex(&token),
            credential_id: who.id.clone(),
            subject: who.name.clone(),
            scopes: who
                .scopes
                .iter()
                .map(|s| scope_name(*s).to_owned())
                .collect(),
            created_at: now,
            last_seen_at: Some(now),
            expires_at: now + SESSION_TTL,
        };
        self.sessions.insert_session(&rec).await?;
        self.reload().await?;
        Ok((token, rec))
    }

    /// Number of cached keys (for tests and health).
    pub fn cached_keys(&self) -> usize {
        self.snapshot.load().keys.len()
    }
}

/// The wire name of a scope.
pub fn scope_name(s: Scope) -> &'static str {
    match s {
        Scope::Admin => "admin",
        Scope::ReadOnly => "read_only",
    }
}

impl Authenticator for StoredKeys {
    fn authenticate(&self, token: &str, digest: &[u8; 32]) -> Option<Identity> {
        if token.starts_with(SESSION_PREFIX) {
            return self.session_identity(token).ok();
        }
        self.key_identity(digest, time::now())
    }
}

/// A new key record for `secret`.
pub fn new_record(
    secret: &str,
    name: String,
    scopes: Vec<String>,
    expires_at: Option<i64>,
) -> KeyRecord {
    KeyRecord {
        id: uuid_like(),
        key_hash: ferro_store::sha256_hex(secret),
        key_display: display_form(secret),
        name,
        scopes,
        created_at: time::now(),
        revoked_at: None,
        expires_at,
        rotated_at: None,
        active: true,
        usage_count: 0,
        last_used_at: None,
    }
}

/// A random UUID-shaped id (16 random bytes as 8-4-4-4-12 hex).
pub fn uuid_like() -> String {
    let h = ferro_store::random_hex(16);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferro_store::migrate::Component;
    use ferro_store::SqlStore;

    #[test]
    fn formats() {
        let s = new_secret();
        assert!(s.starts_with("fgw_") && s.len() == 68);
        assert!(s[4..]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        let d = display_form(&s);
        assert_eq!(d.len(), 15);
        assert!(d.starts_with(&s[..8]) && d.ends_with(&s[64..]));
        let id = uuid_like();
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
    }

    #[tokio::test]
    async fn cache_tracks_the_store() {
        let store =
            Arc::new(SqlStore::memory(&[Component::Auth]).unwrap_or_else(|e| panic!("{e}")));
        let sk = StoredKeys::new(store.clone(), store.clone(), None);
        let secret = new_secret();
        let mut rec = new_record(&secret, "k".into(), vec!["read_only".into()], None);
        store
            .insert_key(&rec)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(sk.authenticate_token(&secret).is_none(), "not loaded yet");
        assert!(sk.poll().await.unwrap_or(false));
        let id = sk.authenticate_token(&secret);
        assert_eq!(id.map(|i| i.scopes), Some(vec![Scope::ReadOnly]));
        rec.active = false;
        store
            .update_key(&rec)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(sk.poll().await.unwrap_or(false));
        assert!(sk.authenticate_token(&secret).is_none());
        sk.flush().await;
        let got = store.get_key(&rec.id).await.ok().flatten();
        assert_eq!(got.map(|k| k.usage_count), Some(1));
    }
}
