//! The gateway config file (CONTRACT §5 plus the `providers:` list of ★6).
//!
//! Decoding is strict: unknown keys are errors naming their path. [`Config::validate`]
//! reports every problem found, with its path, before a port is bound. `${VAR}`
//! references stay as written here and are resolved by [`resolve_vars`] when a
//! component is built, so secrets never enter the config value itself.
//!
//! Must not depend on the server or on storage.

mod duration;
mod schema;
mod validate;
mod vars;

pub use duration::parse_duration;
pub use schema::*;
pub use validate::{MODES, PLUGIN_NAMES};
pub use vars::resolve_vars;

use std::path::Path;

/// Default body limit: 10 MiB.
pub const DEFAULT_MAX_REQUEST_BYTES: u64 = 10 * 1024 * 1024;

/// A config that failed to load or validate: every problem, each with its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<String>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            f.write_str(e)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// The serialisation a config text is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
}

impl Format {
    pub fn from_path(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Format::Json,
            _ => Format::Yaml,
        }
    }
}

impl Config {
    /// Strictly decodes a config text (no validation beyond the schema).
    pub fn parse(text: &str, format: Format) -> Result<Config, ConfigErrors> {
        let res = match format {
            Format::Json => {
                let mut de = serde_json::Deserializer::from_str(text);
                serde_path_to_error::deserialize(&mut de).map_err(|e| {
                    let path = e.path().to_string();
                    format!("{}: {}", display_path(&path), e.into_inner())
                })
            }
            Format::Yaml => {
                let de = serde_yaml_ng::Deserializer::from_str(text);
                serde_path_to_error::deserialize(de).map_err(|e| {
                    let path = e.path().to_string();
                    format!("{}: {}", display_path(&path), e.into_inner())
                })
            }
        };
        res.map_err(|e| ConfigErrors(vec![e]))
    }

    /// Decodes and validates.
    pub fn load_str(text: &str, format: Format) -> Result<Config, ConfigErrors> {
        let cfg = Config::parse(text, format)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads, decodes and validates a config file.
    pub fn load_file(path: &Path) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![format!("cannot read config {}: {e}", path.display())])
        })?;
        Config::load_str(&text, Format::from_path(path))
    }

    /// The effective body limit.
    pub fn max_request_bytes(&self) -> u64 {
        match self.max_request_bytes {
            None | Some(0) => DEFAULT_MAX_REQUEST_BYTES,
            Some(n) => n,
        }
    }
}

fn display_path(p: &str) -> &str {
    if p.is_empty() || p == "." {
        "(root)"
    } else {
        p
    }
}
