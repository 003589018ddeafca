//! `ferrogw`: parse the command line, then call into the library (serving) or
//! into one CLI command module (`cli/`). Exit codes: `cli` module docs.

/// jemalloc (see the `jemalloc` feature in Cargo.toml for the measurements).
#[cfg(all(feature = "jemalloc", not(target_env = "msvc")))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
        Command::Serve => cli::serve::run(),
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
