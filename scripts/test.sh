#!/usr/bin/env bash
# All tests: the Rust workspace, the SDK's dependency boundary, then the
# official-SDK compatibility suite against the real binary.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo test --workspace --locked --all-features

# The Rust SDK must not pull in the server, a database or Redis.
if cargo tree -p ferrolabsai -e normal --locked | grep -E 'axum|ferro-gateway|ferro-store|ferro-plugins|rusqlite|tokio-postgres|redis'; then
    echo "ferrolabsai depends on a server, database or Redis crate" >&2
    exit 1
fi

bash tests/compat/run.sh
