//! `ferrogw version`: version, commit, build date and allocator of this binary.

use super::output::Format;
use super::{Exit, Global};
use ferro_gateway::handlers::probes::{BUILT, COMMIT, VERSION};
use serde_json::json;

pub fn run(g: &Global) -> Exit {
    let alloc = crate::ALLOCATOR;
    let v = json!({"version": VERSION, "commit": COMMIT, "built": BUILT, "allocator": alloc});
    if g.format == Format::Table || !super::output::print_structured(g.format, &v) {
        println!("ferrogw {VERSION} (commit {COMMIT}, built {BUILT}, allocator {alloc})");
    }
    Exit::Ok
}
