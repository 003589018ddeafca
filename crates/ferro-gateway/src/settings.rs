//! Process settings from environment variables (CONTRACT §7).

use ferro_providers::client::Timeouts;
use ferro_providers::Secret;
use std::path::PathBuf;

/// Everything the process reads from its environment at start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub port: u16,
    pub master_key: Option<Secret>,
    pub config_path: Option<PathBuf>,
    pub data_dir: PathBuf,
    pub allow_unauthenticated: bool,
    pub production: bool,
    pub cors_origins: Vec<String>,
    pub catalog_path: Option<PathBuf>,
    pub log_format_json: bool,
    pub log_level: String,
    /// Upstream connect / first-byte / idle timeouts
    /// (`FERRO_UPSTREAM_{CONNECT,FIRST_BYTE,IDLE}_TIMEOUT`, Go-style durations).
    pub upstream_timeouts: Timeouts,
    /// Per-IP limiter (`RATE_LIMIT_RPS`, default 20; 0 disables).
    pub rate_limit_rps: u32,
    /// `RATE_LIMIT_BURST` (default 40).
    pub rate_limit_burst: u32,
    /// `RATE_LIMIT_SCOPE=all`: limit every request, not only unauthenticated ones.
    pub rate_limit_scope_all: bool,
    /// `TRUSTED_PROXIES` (default loopback): peers whose forwarded-for headers are believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

fn truthy(v: Option<String>) -> bool {
    matches!(
        v.as_deref()
            .map(str::trim)
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("true") | Some("1") | Some("yes")
    )
}

impl Settings {
    /// Reads settings; every refusal (bad value, production guard) is returned together.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Settings, Vec<String>> {
        let mut errs = Vec::new();
        let get = |k: &str| {
            env(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let port = match get("PORT") {
            None => 8080,
            Some(p) => p.parse::<u16>().unwrap_or_else(|_| {
                errs.push("PORT: must be a TCP port number".to_owned());
                8080
            }),
        };
        let production = get("GATEWAY_ENV").is_some_and(|v| v.eq_ignore_ascii_case("production"));
        let allow_unauthenticated = truthy(get("ALLOW_UNAUTHENTICATED_PROXY"));
        let cors_origins: Vec<String> = get("CORS_ORIGINS")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if production {
            if allow_unauthenticated {
                errs.push(
                    "GATEWAY_ENV=production refuses ALLOW_UNAUTHENTICATED_PROXY=true".to_owned(),
                );
            }
            if cors_origins.iter().any(|o| o == "*") {
                errs.push("GATEWAY_ENV=production refuses `*` in CORS_ORIGINS".to_owned());
            }
        }
        let mut upstream_timeouts = Timeouts::default();
        for (var, slot) in [
            (
                "FERRO_UPSTREAM_CONNECT_TIMEOUT",
                &mut upstream_timeouts.connect,
            ),
            (
                "FERRO_UPSTREAM_FIRST_BYTE_TIMEOUT",
                &mut upstream_timeouts.first_byte,
            ),
            ("FERRO_UPSTREAM_IDLE_TIMEOUT", &mut upstream_timeouts.idle),
        ] {
            if let Some(v) = get(var) {
                match ferro_config::parse_duration(&v) {
                    Ok(d) if !d.is_zero() => *slot = d,
                    _ => errs.push(format!("{var}: must be a positive duration such as 30s")),
                }
            }
        }
        let num = |var: &str, default: u32, errs: &mut Vec<String>| match get(var) {
            None => default,
            Some(v) => v.parse::<u32>().unwrap_or_else(|_| {
                errs.push(format!("{var}: must be a non-negative integer"));
                default
            }),
        };
        let rate_limit_rps = num("RATE_LIMIT_RPS", 20, &mut errs);
        let rate_limit_burst = num("RATE_LIMIT_BURST", 40, &mut errs);
        let mut trusted_proxies = Vec::new();
        let trusted = get("TRUSTED_PROXIES").unwrap_or_else(|| "127.0.0.0/8, ::1/128".to_owned());
        for part in trusted.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let net = part
                .parse::<ipnet::IpNet>()
                .or_else(|_| part.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
            match net {
                Ok(n) => trusted_proxies.push(n),
                Err(_) => errs.push(format!("TRUSTED_PROXIES: `{part}` is not a CIDR or IP")),
            }
        }
        let s = Settings {
            rate_limit_rps,
            rate_limit_burst,
            rate_limit_scope_all: get("RATE_LIMIT_SCOPE")
                .is_some_and(|v| v.eq_ignore_ascii_case("all")),
            trusted_proxies,
            upstream_timeouts,
            port,
            master_key: get("MASTER_KEY").map(Secret::new),
            config_path: get("GATEWAY_CONFIG").map(PathBuf::from),
            data_dir: get("FERRO_DATA_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("./ferro-data")),
            allow_unauthenticated,
            production,
            cors_origins,
            catalog_path: get("FERRO_MODEL_CATALOG_PATH").map(PathBuf::from),
            log_format_json: get("LOG_FORMAT").is_some_and(|v| v.eq_ignore_ascii_case("json")),
            log_level: get("LOG_LEVEL").unwrap_or_else(|| "info".to_owned()),
        };
        if errs.is_empty() {
            Ok(s)
        } else {
            Err(errs)
        }
    }

    /// Warnings worth printing at start.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.master_key.is_none() && !self.allow_unauthenticated {
            w.push("MASTER_KEY is not set: /v1 requests need a stored API key".to_owned());
        }
        if self.production && self.rate_limit_rps == 0 {
            w.push("RATE_LIMIT_RPS=0 disables the per-IP limiter in production".to_owned());
        }
        if self.allow_unauthenticated {
            w.push(
                "ALLOW_UNAUTHENTICATED_PROXY=true: /v1 routes accept requests without a key"
                    .to_owned(),
            );
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_guards_reported_together() {
        let env = |k: &str| match k {
            "GATEWAY_ENV" => Some("production".to_owned()),
            "ALLOW_UNAUTHENTICATED_PROXY" => Some("true".to_owned()),
            "CORS_ORIGINS" => Some("https://a.example, *".to_owned()),
            _ => None,
        };
        let errs = Settings::from_env(&env).err().unwrap_or_default();
        assert_eq!(errs.len(), 2);
    }

    #[test]
    fn defaults() {
        let s = Settings::from_env(&|_| None).ok();
        assert_eq!(s.as_ref().map(|s| s.port), Some(8080));
        assert_eq!(s.map(|s| s.data_dir), Some(PathBuf::from("./ferro-data")));
    }
}
