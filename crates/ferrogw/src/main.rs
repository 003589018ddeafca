//! `ferrogw`: parse the command line, then call into the library (serving) or
//! into one CLI command module (`cli/`). Exit codes: `cli` module docs.

/// jemalloc (see the `jemalloc` feature in Cargo.toml for the measurements).
#[cfg(all(feature = "jemalloc", not(target_env = "msvc")))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Lets jemalloc hand freed memory back to the system from one background
/// thread, so RSS falls after a burst even while the gateway sits idle
/// (otherwise it purges only during allocation activity). Serving only.
fn release_idle_memory() {
    #[cfg(all(feature = "jemalloc", not(target_env = "msvc")))]
    {
        let _ = tikv_jemalloc_ctl::max_background_threads::write(1);
        if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
            tracing::debug!(error = %e, "jemalloc background purging unavailable");
        }
    }
}

/// The global allocator this binary was built with (`ferrogw version`).
const ALLOCATOR: &str = if cfg!(all(feature = "jemalloc", not(target_env = "msvc"))) {
    "jemalloc"
} else {
    "system"
};

mod admin;
mod cli;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "ferrogw",
    version,
    about = "Ferro: an OpenAI-compatible AI gateway",
    after_help = "Exit codes: 0 ok, 1 failure, 2 usage/config error, 3 gateway unreachable, 4 auth."
)]
struct Cli {
    #[command(flatten)]
    global: cli::Global,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (the default).
    Serve,
    /// Generate a master key (printed once) and a minimal config file.
    Init(cli::init::Args),
    /// Validate a config file offline; prints every error with its path.
    Validate(cli::validate::Args),
    /// Check the environment, the config and the gateway.
    Doctor(cli::doctor::Args),
    /// Gateway health and its providers.
    Status,
    /// Print version, commit and build date.
    Version,
    /// The configured plugins.
    Plugins,
    /// The request log.
    #[command(subcommand)]
    Logs(cli::logs::Command),
    /// Send a prompt and stream the reply.
    Chat(cli::chat::Args),
    /// Talk to a running gateway's admin API (keys, config, logs, providers, health).
    Admin(admin::AdminArgs),
}

fn main() -> ExitCode {
    let Cli { global: g, command } = Cli::parse();
    let exit = match command.unwrap_or(Command::Serve) {
        Command::Serve => {
            release_idle_memory();
            cli::serve::run()
        }
        Command::Init(a) => cli::init::run(&g, &a),
        Command::Validate(a) => cli::validate::run(&g, &a),
        Command::Doctor(a) => cli::doctor::run(&g, &a),
        Command::Status => cli::status::run(&g),
        Command::Version => cli::version::run(&g),
        Command::Plugins => cli::plugins::run(&g),
        Command::Logs(c) => cli::logs::run(&g, &c),
        Command::Chat(a) => cli::chat::run(&g, &a),
        Command::Admin(args) => admin::run(&g, &args),
    };
    exit.into()
}
