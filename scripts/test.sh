#!/usr/bin/env bash
# All tests: the Rust workspace, then the official-SDK compatibility suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo test --workspace --locked
bash tests/compat/run.sh
