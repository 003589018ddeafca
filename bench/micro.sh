#!/usr/bin/env bash
# Criterion micro-benchmarks of the request path's hot pure functions:
# SSE decode and relay forward, cost computation, request parse and
# translation, routing decision. No network, no disk beyond the target dir.
#
#   bench/micro.sh                      # every bench, 1 s warm-up + 3 s per benchmark (~5 min + build)
#   MICRO_WARMUP=3 MICRO_TIME=5 bench/micro.sh   # criterion's own defaults
#   MICRO_FILTER=routing bench/micro.sh # only benchmarks whose id matches (a regex)
#
# Builds in the bench profile (= release: thin LTO), runs
#   cargo bench -p <crates> --bench <names>
# and writes bench/results/micro-latest.md plus a UTC-stamped copy
# bench/results/micro-<UTC>.md: one row per benchmark with criterion's median
# time per iteration (target/criterion/**/new/estimates.json), its 95 % CI and
# the throughput where the bench declares one. The cargo output is kept in
# bench/results/raw/micro-<UTC>.log (git-ignored).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
OUT="${BENCH_OUT:-$HERE/results}"
PY="${PYTHON:-python3}"
WARMUP="${MICRO_WARMUP:-1}"
TIME="${MICRO_TIME:-3}"
FILTER="${MICRO_FILTER:-}"

# crate:bench (each is crates/<crate>/benches/<bench>.rs), in report order.
BENCHES=(
  ferro-types:sse
  ferro-types:cost
  ferro-types:request_parse
  ferro-providers:translate
  ferro-router:routing
  ferro-gateway:relay
)

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

cd "$ROOT"
stamp="$(date -u +%Y-%m-%dT%H-%M-%SZ)"
mkdir -p "$OUT/raw"
raw="$OUT/raw/micro-$stamp.log"

args=()
declare -A seen=()
for b in "${BENCHES[@]}"; do
  crate="${b%%:*}"
  [[ -n "${seen[$crate]:-}" ]] || { args+=(-p "$crate"); seen[$crate]=1; }
done
for b in "${BENCHES[@]}"; do args+=(--bench "${b#*:}"); done

target_dir="$(cargo metadata --format-version 1 --no-deps \
  | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
crit="${CRITERION_HOME:-$target_dir/criterion}"

log "building: cargo bench --no-run ${args[*]}"
cargo bench --no-run "${args[@]}" >&2

# Results of this run are those written after this instant.
since="$(date +%s)"
crit_args=(--warm-up-time "$WARMUP" --measurement-time "$TIME" --noplot)
[[ -n "$FILTER" ]] && crit_args+=("$FILTER")
log "running (${WARMUP} s warm-up, ${TIME} s measurement per benchmark); log: $raw"
set +e
cargo bench "${args[@]}" -- "${crit_args[@]}" 2>&1 | tee "$raw" \
  | grep --line-buffered -v '^Benchmarking ' >&2
status="${PIPESTATUS[0]}"
set -e
if [[ "$status" != 0 ]]; then
  echo "micro.sh: cargo bench failed (exit $status); see $raw" >&2
  exit "$status"
fi

commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
git diff --quiet HEAD -- crates Cargo.toml Cargo.lock 2>/dev/null || commit="$commit (+ uncommitted changes)"
cpu="$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)"
export MICRO_HEADER="# Ferro micro-benchmarks ($stamp)

\`bench/micro.sh\`: criterion $(grep -A1 '^name = "criterion"' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p'), bench profile (release, thin LTO), ${WARMUP} s warm-up + ${TIME} s measurement per benchmark${FILTER:+, filter \`$FILTER\`}.
Commit $commit; $(rustc --version); ${cpu:-unknown CPU}, $(nproc) CPUs. Other work on the machine
(builds, load tests) inflates these numbers: compare runs from the same quiet machine only.
Median = criterion's estimate of the median time per iteration; throughput = bytes per iteration / median (MiB/s)."

"$PY" "$HERE/micro_report.py" "$crit" "$since" "$raw" "$OUT/micro-$stamp.md" \
  --bench "${BENCHES[@]}"
cp "$OUT/micro-$stamp.md" "$OUT/micro-latest.md"
log "wrote $OUT/micro-$stamp.md and $OUT/micro-latest.md"
