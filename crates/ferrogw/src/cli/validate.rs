//! `ferrogw validate FILE`: offline validation of a config file (schema,
//! virtual keys, plugin names, stages and settings); every error with its path.
//! Exit 0 valid, 1 invalid, 2 unreadable.

use super::output::{Format, Style};
use super::{Exit, Global};
use serde_json::json;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The config file (.yaml, .yml or .json).
    pub file: PathBuf,
}

pub fn run(g: &Global, a: &Args) -> Exit {
    let file = &a.file;
    if !file.is_file() {
        eprintln!("{}: no such file", file.display());
        return Exit::Usage;
    }
    let res = ferro_config::Config::load_file(file).and_then(|c| {
        ferro_plugins::validate(&c.plugins)
            .map(|_| c)
            .map_err(ferro_config::ConfigErrors)
    });
    let errors = match &res {
        Ok(_) => Vec::new(),
        Err(e) => e.0.clone(),
    };
    let v =
        json!({"file": file.display().to_string(), "valid": errors.is_empty(), "errors": errors});
    if g.format != Format::Table {
        super::output::print_structured(g.format, &v);
    } else if errors.is_empty() {
        println!("{}: valid", file.display());
    } else {
        let s = Style::stderr();
        for e in &errors {
            eprintln!("{}: {} {e}", file.display(), s.red("✗"));
        }
    }
    if errors.is_empty() {
        Exit::Ok
    } else {
        Exit::Failure
    }
}
