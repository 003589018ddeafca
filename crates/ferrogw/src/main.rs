//! `ferrogw`: parse the command line, then call into the library.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "ferrogw",
    version,
    about = "Ferro: an OpenAI-compatible AI gateway"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (the default).
    Serve,
    /// Validate a config file offline; prints every error with its path.
    Validate { file: PathBuf },
    /// Print version, commit and build date.
    Version,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(),
        Command::Validate { file } => validate(&file),
        Command::Version => {
            use ferro_gateway::handlers::probes::{BUILT, COMMIT, VERSION};
            println!("ferrogw {VERSION} (commit {COMMIT}, built {BUILT})");
            ExitCode::SUCCESS
        }
    }
}

fn serve() -> ExitCode {
    let env: ferro_gateway::Env = Arc::new(|k| std::env::var(k).ok());
    let json = env("LOG_FORMAT").is_some_and(|v| v.eq_ignore_ascii_case("json"));
    let level = env("LOG_LEVEL").unwrap_or_else(|| "info".to_owned());
    ferro_gateway::init_logging(json, &level);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ferrogw: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(ferro_gateway::run(env)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(errs) => {
            for e in errs {
                eprintln!("ferrogw: {e}");
            }
            ExitCode::from(2)
        }
    }
}

fn validate(file: &std::path::Path) -> ExitCode {
    match ferro_config::Config::load_file(file) {
        Ok(_) => {
            println!("{}: valid", file.display());
            ExitCode::SUCCESS
        }
        Err(errs) => {
            for e in errs.0 {
                eprintln!("{}: {e}", file.display());
            }
            ExitCode::from(1)
        }
    }
}
