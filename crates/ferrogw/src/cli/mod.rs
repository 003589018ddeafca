//! The operator CLI (CONTRACT §10.1): one module per command, plus what they
//! share — the global flags ([`Global`]), the gateway HTTP client
//! ([`client`]), table/JSON/YAML output and terminal styling ([`output`]), the
//! progress spinner ([`spinner`]) and the exit codes ([`Exit`]).
//!
//! Exit codes, for scripts:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | failure: the gateway refused or reported a problem, a check failed, a config is invalid |
//! | 2 | usage or configuration error (bad flags, unreadable input, refusing to overwrite) |
//! | 3 | the gateway could not be reached |
//! | 4 | authentication or authorisation failed (401/403) |

pub mod chat;
pub mod client;
pub mod doctor;
pub mod init;
pub mod logs;
pub mod output;
pub mod plugins;
pub mod serve;
pub mod spinner;
pub mod status;
pub mod validate;
pub mod version;

use std::process::ExitCode;

/// Flags every command accepts (before or after the command name).
#[derive(Debug, Clone, clap::Args)]
pub struct Global {
    /// Gateway base URL.
    #[arg(
        long,
        global = true,
        env = "FERROGW_URL",
        default_value = "http://localhost:8080"
    )]
    pub gateway_url: String,
    /// Credential for the gateway (else FERROGW_API_KEY, else MASTER_KEY).
    #[arg(long, global = true, env = "FERROGW_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value = "table")]
    pub format: output::Format,
}

impl Global {
    /// The credential: `--api-key`, `FERROGW_API_KEY`, then `MASTER_KEY`.
    pub fn key(&self) -> Option<String> {
        self.api_key
            .clone()
            .filter(|k| !k.trim().is_empty())
            .or_else(|| std::env::var("MASTER_KEY").ok())
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty())
    }
}

/// Documented exit codes (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Failure = 1,
    Usage = 2,
    Unreachable = 3,
    Auth = 4,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

/// Runs a command's future on a small single-threaded runtime.
pub fn block_on<F: std::future::Future<Output = Exit>>(fut: F) -> Exit {
    block_on_value(fut).unwrap_or(Exit::Failure)
}

/// Runs a future on a small single-threaded runtime (`None`: no runtime).
pub fn block_on_value<F: std::future::Future>(fut: F) -> Option<F::Output> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt.block_on(fut)),
        Err(e) => {
            eprintln!("ferrogw: cannot start the async runtime: {e}");
            None
        }
    }
}

/// Prints an error of a command to stderr and returns its exit code.
pub fn fail(e: &client::CliError) -> Exit {
    let o = output::Style::stderr();
    eprintln!("{} {e}", o.red("error:"));
    e.exit()
}
