#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz + libFuzzer) of the stream decoders,
# strict JSON and the native providers' translators, for a bounded time.
# Targets live in fuzz/fuzz_targets/ (a crate outside the main workspace,
# with its own Cargo.lock, built into fuzz/target/).
#
#   scripts/fuzz.sh                        # every target, FUZZ_SECONDS each
#   FUZZ_SECONDS=300 FUZZ_TARGETS="sse_stream" scripts/fuzz.sh
#   FUZZ_SECONDS=0 scripts/fuzz.sh         # replay the corpora only, no fuzzing
#
# Environment:
#   FUZZ_SECONDS    fuzzing time per target (default 15; 0 = replay only)
#   FUZZ_JOBS       targets fuzzed at once (default 2: one per core here)
#   FUZZ_TARGETS    space-separated subset of `cargo fuzz list` (default all)
#   FUZZ_SANITIZER  none (default) | address — see "Stable toolchain" below
#
# Stable toolchain: cargo-fuzz's own default is AddressSanitizer, which it
# enables with `-Zsanitizer=address`, a nightly-only flag that stable rustc
# refuses. With `--sanitizer none` every flag cargo-fuzz passes is stable
# (`-Cpasses=sancov-module` and `-Cllvm-args=-sanitizer-coverage-*` for the
# coverage feedback, `--cfg fuzzing`, `-Cdebug-assertions`, which also turns
# on overflow checks), and libFuzzer itself is C++ built by libfuzzer-sys, so
# the whole build runs on stable without RUSTC_BOOTSTRAP. Little is lost: the
# project forbids `unsafe` (workspace lint), so its bugs surface as panics,
# overflow-check panics, hangs (-timeout) or memory blow-ups (-rss_limit_mb,
# and fuzz/src/lib.rs's allocator, which aborts on any single allocation over
# 8 MiB), none of which needs a sanitizer. FUZZ_SANITIZER=address builds with
# ASan anyway, by setting RUSTC_BOOTSTRAP=1 so stable rustc accepts the -Z
# flag (stable's rust-std ships the ASan runtime), into fuzz/target/address/.
#
# Exits non-zero if any target crashes, hangs or runs out of memory, and
# prints each reproducer (fuzz/artifacts/<target>/...) with the command that
# replays it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR=never

FUZZ_SECONDS=${FUZZ_SECONDS:-15}
FUZZ_JOBS=${FUZZ_JOBS:-2}
FUZZ_SANITIZER=${FUZZ_SANITIZER:-none}
CARGO_FUZZ_VERSION=0.13.2
FUZZ_DIR=$ROOT/fuzz
FIXTURES=$ROOT/crates/ferro-providers/tests/fixtures
HOST=$(rustc -vV | sed -n 's/^host: //p')
START=$SECONDS

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

# ---- build -------------------------------------------------------------------
TARGET_DIR=$FUZZ_DIR/target
build_args=(--fuzz-dir "$FUZZ_DIR" --sanitizer "$FUZZ_SANITIZER" --target "$HOST")
replay="cargo fuzz"   # how to replay a reproducer: see the report at the end
replay_args=""
case $FUZZ_SANITIZER in
    none) ;;
    address)
        export RUSTC_BOOTSTRAP=1
        # What `cargo fuzz run` would set; binaries are run directly below.
        export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_odr_violation=0}
        TARGET_DIR=$FUZZ_DIR/target/address
        build_args+=(--target-dir "$TARGET_DIR")
        replay="RUSTC_BOOTSTRAP=1 cargo fuzz"
        replay_args=" --target-dir fuzz/target/address"
        ;;
    *) echo "FUZZ_SANITIZER must be none or address" >&2; exit 2 ;;
esac
BIN_DIR=$TARGET_DIR/$HOST/release

echo "== $(rustc --version), $(cargo fuzz --version), sanitizer: $FUZZ_SANITIZER"
# cargo-fuzz has no --locked: fail here instead if fuzz/Cargo.lock is stale
# (after a crate under crates/ gains a dependency, refresh it with
# `cargo fetch --manifest-path fuzz/Cargo.toml` and commit fuzz/Cargo.lock).
cargo fetch --locked --manifest-path "$FUZZ_DIR/Cargo.toml" >/dev/null
build_start=$SECONDS
cargo fuzz build "${build_args[@]}"
echo "== build: $((SECONDS - build_start)) s"

ALL_TARGETS=$(cargo fuzz list --fuzz-dir "$FUZZ_DIR")
TARGETS=${FUZZ_TARGETS:-$ALL_TARGETS}
for t in $TARGETS; do
    grep -qx "$t" <<<"$ALL_TARGETS" || { echo "unknown fuzz target: $t" >&2; exit 2; }
done

# ---- seed corpora from the test fixtures (nothing seeded is committed) ----------
# fuzz/corpus/<target>/ is git-ignored and kept between runs on one machine, so
# coverage found once is replayed (a regression check) and built on next time.
seed() { # seed TARGET < list of fixture paths
    local dir=$FUZZ_DIR/corpus/$1 f
    mkdir -p "$dir"
    while IFS= read -r f; do
        cp "$f" "$dir/seed-$(tr / - <<<"${f#"$FIXTURES"/}")"
    done
}
fixtures() { # fixtures FIND-PREDICATES... (inputs only, not expectations)
    find "$FIXTURES" -type f "$@" ! -name '*.expected.json' ! -name '*.options.json' -size -64k | sort
}
fixtures -name '*.sse' | seed sse_decoder
fixtures -name '*.sse' | seed sse_stream
fixtures -name '*.json' | seed json_strict
fixtures -path '*/requests/*.json' | seed chat_request
fixtures \( -path '*/responses/*' -o -path '*/errors/*' -o -path '*/embeddings/*' \
    -o -regex '.*/gemini/[^/]*\.json' \) -name '*.json' | seed chat_response
fixtures -path '*/bedrock/streams/*.json' | seed bedrock_stream
# eventstream_decoder: aws-c-event-stream's "no headers" test frame, behind a
# mode byte: 0 = raw bytes, 1 = the harness recomputes lengths and CRCs.
mkdir -p "$FUZZ_DIR/corpus/eventstream_decoder"
frame='\x00\x00\x00\x1d\x00\x00\x00\x00\xfd\x52\x8c\x5a'
frame+='\x7b\x27\x66\x6f\x6f\x27\x3a\x27\x62\x61\x72\x27\x7d' # {'foo':'bar'}
frame+='\xc3\x65\x39\x36'
printf "\\x00$frame" >"$FUZZ_DIR/corpus/eventstream_decoder/seed-raw-no-headers"
printf "\\x01$frame" >"$FUZZ_DIR/corpus/eventstream_decoder/seed-fixed-no-headers"

# ---- fuzz --------------------------------------------------------------------
LOG_DIR=$TARGET_DIR/fuzz-logs
rm -rf "$LOG_DIR"
mkdir -p "$LOG_DIR"
if [[ $FUZZ_SECONDS == 0 ]]; then
    mode=(-runs=0)
else
    mode=(-max_total_time="$FUZZ_SECONDS")
fi

run_target() { # run_target TARGET: writes fuzz-logs/TARGET.{log,rc}
    local t=$1 rc=0
    mkdir -p "$FUZZ_DIR/artifacts/$t" "$FUZZ_DIR/corpus/$t"
    "$BIN_DIR/$t" "$FUZZ_DIR/corpus/$t" "${mode[@]}" \
        -rss_limit_mb=2048 -max_len=65536 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$FUZZ_DIR/artifacts/$t/" >"$LOG_DIR/$t.log" 2>&1 || rc=$?
    echo "$rc" >"$LOG_DIR/$t.rc"
}

fuzz_start=$SECONDS
echo "== fuzzing $(wc -w <<<"$TARGETS") targets, ${FUZZ_SECONDS}s each, $FUZZ_JOBS at a time"
for t in $TARGETS; do
    while (($(jobs -rp | wc -l) >= FUZZ_JOBS)); do
        wait -n || true
    done
    run_target "$t" &
done
wait

failed=0
for t in $TARGETS; do
    rc=$(cat "$LOG_DIR/$t.rc")
    stats=$(grep -E '^#[0-9]+' "$LOG_DIR/$t.log" | tail -n1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' || true)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOG_DIR/$t.log")
    if [[ $rc == 0 ]]; then
        printf '  ok    %-20s %10s execs  %s\n' "$t" "${runs:-?}" "$stats"
        continue
    fi
    failed=1
    printf '  FAIL  %-20s exit %s  (log: %s)\n' "$t" "$rc" "$LOG_DIR/$t.log"
    { grep -vE '^(#[0-9]+|INFO:|MS:|\s*$|stat::|WARNING: Failed to find function)' "$LOG_DIR/$t.log" || true; } | tail -n 40 | sed 's/^/        /'
    { grep -oE '(Test unit|artifact) written to [^ ]+' "$LOG_DIR/$t.log" || true; } | awk '{print $NF}' |
        while IFS= read -r a; do
            echo "        reproducer: $a"
            echo "        replay:     $replay run --fuzz-dir fuzz --sanitizer $FUZZ_SANITIZER$replay_args $t $a"
            echo "        minimize:   $replay tmin --fuzz-dir fuzz --sanitizer $FUZZ_SANITIZER$replay_args $t $a"
        done
done
echo "== fuzzing: $((SECONDS - fuzz_start)) s; total: $((SECONDS - START)) s"
exit "$failed"
