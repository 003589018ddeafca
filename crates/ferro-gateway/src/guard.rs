//! The door: client-IP resolution (trusted proxies only), the per-IP token
//! bucket of ★12 and CORS (CONTRACT §1.1).
//!
//! By default the per-IP limiter applies only to requests that carry no
//! credential or fail authentication — brute-force and flood protection — so a
//! backend serving many users from one IP is never throttled by it;
//! `RATE_LIMIT_SCOPE=all` applies it to every non-probe request.

use crate::settings::Settings;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use http::{header, HeaderMap, HeaderValue};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;

/// Most client IPs the limiter tracks before it forgets idle ones.
pub const MAX_TRACKED_IPS: usize = 100_000;

/// Door policy compiled from settings.
pub struct DoorGuard {
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    pub scope_all: bool,
    trusted: Vec<IpNet>,
    cors_origins: Vec<String>,
}

impl std::fmt::Debug for DoorGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DoorGuard")
            .field("limited", &self.limiter.is_some())
            .field("scope_all", &self.scope_all)
            .finish()
    }
}

impl DoorGuard {
    pub fn new(s: &Settings) -> DoorGuard {
        let limiter = NonZeroU32::new(s.rate_limit_rps).map(|rps| {
            let burst = NonZeroU32::new(s.rate_limit_burst).unwrap_or(rps);
            RateLimiter::keyed(Quota::per_second(rps).allow_burst(burst))
        });
        DoorGuard {
            limiter,
            scope_all: s.rate_limit_scope_all,
            trusted: s.trusted_proxies.clone(),
            cors_origins: s.cors_origins.clone(),
        }
    }

    /// The client's IP: the peer, or the forwarded address when the peer is a
    /// trusted proxy (rightmost untrusted hop of `X-Forwarded-For`, else `X-Real-IP`).
    pub fn client_ip(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer?.ip();
        if !self.trusted.iter().any(|n| n.contains(&peer)) {
            return Some(peer);
        }
        if let Some(xff) = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            let hops: Vec<IpAddr> = xff
                .split(',')
                .filter_map(|h| h.trim().parse().ok())
                .collect();
            if let Some(ip) = hops
                .iter()
                .rev()
                .find(|ip| !self.trusted.iter().any(|n| n.contains(*ip)))
            {
                return Some(*ip);
            }
        }
        headers
            .get("x-real-ip")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
            .or(Some(peer))
    }

    /// Takes one token for `ip`; `false` = over the limit.
    pub fn admit(&self, ip: Option<IpAddr>) -> bool {
        let (Some(l), Some(ip)) = (&self.limiter, ip) else {
            return true;
        };
        if l.len() > MAX_TRACKED_IPS {
            l.retain_recent();
        }
        l.check_key(&ip).is_ok()
    }

    /// Whether `origin` may make cross-origin requests (literal match).
    pub fn cors_allowed(&self, origin: &str) -> bool {
        self.cors_origins.iter().any(|o| o == origin)
    }

    /// Headers of an allowed CORS answer.
    pub fn cors_headers(&self, origin: &HeaderValue, h: &mut HeaderMap, preflight: bool) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        h.append(header::VARY, HeaderValue::from_static("Origin"));
        if preflight {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, PUT, DELETE, OPTIONS"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("Content-Type, Authorization, X-Provider"),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("86400"),
            );
        }
    }
}
