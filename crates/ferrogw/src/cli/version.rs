//! `ferrogw version`: version, commit and build date of this binary.

use super::output::Format;
use super::{Exit, Global};
use ferro_gateway::handlers::probes::{BUILT, COMMIT, VERSION};
use serde_json::json;

pub fn run(g: &Global) -> Exit {
    let v = json!({"version": VERSION, "commit": COMMIT, "built": BUILT});
    if g.format == Format::Table || !super::output::print_structured(g.format, &v) {
        println!("ferrogw {VERSION} (commit {COMMIT}, built {BUILT})");
    }
    Exit::Ok
}
