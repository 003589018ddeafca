#!/usr/bin/env bash
# Ferro gateway benchmark: installs what it needs, builds, runs every scenario,
# writes bench/results/<UTC>.md and bench/results/latest.md, and prints the table.
#
#   bench/run.sh                  # full run (10 s per point; ~8 min on a quiet machine)
#   BENCH_QUICK=1 bench/run.sh    # 3 s per point, fewer points (~4 min)
#
# Knobs (see bench/README.md): BENCH_DURATION, BENCH_QUICK, BENCH_CONNS,
# BENCH_MOCK_LATENCY_MS, BENCH_SKIP_GO, BENCH_REALISTIC_CONFIG, BENCH_SKIP_BUILD,
# BENCH_SKIP_CALLGRIND, BENCH_OUT.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
OUT="${BENCH_OUT:-$HERE/results}"
export BENCH_OUT="$OUT"
PY="${PYTHON:-python3}"
GO_VERSION="1.5.10"
VENV="$HERE/.venv"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

apt_install() { # pkg...
  apt-get install -y "$@" >/dev/null 2>&1 && return 0
  apt-get update >/dev/null 2>&1 || true
  apt-get install -y "$@" >/dev/null 2>&1
}

# ---- 1. tools --------------------------------------------------------------
for tool in taskset "$PY"; do
  command -v "$tool" >/dev/null 2>&1 || { echo "run.sh: $tool is required" >&2; exit 1; }
done

if [[ -z "${BENCH_DRIVER:-}" ]]; then
  if command -v wrk >/dev/null 2>&1; then
    export BENCH_DRIVER=wrk
  else
    log "installing wrk (apt)"
    if apt_install wrk && command -v wrk >/dev/null 2>&1; then
      export BENCH_DRIVER=wrk
    else
      log "apt could not install wrk; falling back to oha (cargo install oha)"
      command -v oha >/dev/null 2>&1 || cargo install --locked oha
      export PATH="$HOME/.cargo/bin:$PATH"
      export BENCH_DRIVER=oha
    fi
  fi
fi
log "load driver: $BENCH_DRIVER"

if [[ "${BENCH_SKIP_CALLGRIND:-0}" != 1 ]] && ! command -v valgrind >/dev/null 2>&1; then
  log "installing valgrind (apt)"
  apt_install valgrind || log "valgrind could not be installed: the callgrind figure will be missing"
fi

# wrk at 1000 connections plus the gateway's upstream sockets need file descriptors
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---- 2. release binaries ---------------------------------------------------
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  for attempt in 1 2 3 4 5; do
    log "cargo build --release -p ferrogw -p ferro-mock-upstream (attempt $attempt)"
    if (cd "$ROOT" && cargo build --release -p ferrogw -p ferro-mock-upstream); then
      break
    fi
    if [[ $attempt == 5 ]]; then
      if [[ -x "$ROOT/target/release/ferrogw" && -x "$ROOT/target/release/ferro-mock-upstream" ]]; then
        log "release build failed 5 times; benchmarking the existing (possibly stale) binaries"
        export BENCH_BUILD_NOTE="the release build failed; existing binaries were used (see their build time)"
        break
      fi
      echo "run.sh: release build failed 5 times and there are no binaries to fall back on" >&2
      exit 1
    fi
    log "build failed (another crate may be mid-edit); retrying in 60 s"
    sleep 60
  done
fi

# ---- 3. Go reference gateway (pip package ferrogw==1.5.10 ships the binary) --
if [[ "${BENCH_SKIP_GO:-0}" == 1 ]]; then
  export BENCH_GO_NOTE="skipped on purpose (BENCH_SKIP_GO=1)"
else
  if [[ ! -x "$VENV/bin/ferrogw" ]] || ! "$VENV/bin/ferrogw" version 2>/dev/null | grep -q "$GO_VERSION"; then
    log "installing the Go reference gateway: pip install ferrogw==$GO_VERSION into $VENV"
    if ! { "$PY" -m venv "$VENV" && "$VENV/bin/pip" install -q "ferrogw==$GO_VERSION"; }; then
      log "NOTE: pip install ferrogw==$GO_VERSION failed; the Go peer is skipped"
    fi
  fi
  if [[ -x "$VENV/bin/ferrogw" ]]; then
    export BENCH_GO_BIN="$VENV/bin/ferrogw"
  else
    export BENCH_SKIP_GO=1
    export BENCH_GO_NOTE="skipped: pip install ferrogw==$GO_VERSION failed or shipped no binary"
  fi
fi

# ---- 4. scenarios ----------------------------------------------------------
mkdir -p "$OUT"
BENCH_LOG="$(mktemp /tmp/ferro-bench-run-XXXXXX.log)"
"$PY" "$HERE/bench.py" 2>&1 | tee "$BENCH_LOG"
REPORT="$(awk '/^REPORT / {print $2}' "$BENCH_LOG" | tail -1)"
[[ -n "$REPORT" && -f "$REPORT" ]] || { echo "run.sh: bench.py wrote no report" >&2; exit 1; }

# ---- 5. deterministic CPU figure -------------------------------------------
if [[ "${BENCH_SKIP_CALLGRIND:-0}" == 1 ]]; then
  printf '\n## Deterministic CPU (callgrind)\n\nskipped (BENCH_SKIP_CALLGRIND=1)\n' >>"$REPORT"
elif ! command -v valgrind >/dev/null 2>&1; then
  printf '\n## Deterministic CPU (callgrind)\n\nnot available: valgrind could not be installed\n' >>"$REPORT"
else
  log "callgrind: instructions per request"
  if BENCH_SKIP_BUILD=1 bash "$HERE/callgrind.sh" >"$BENCH_LOG.cg" 2>&1; then
    { echo; cat "$OUT/callgrind-latest.md"; } >>"$REPORT"
  else
    { echo; echo "## Deterministic CPU (callgrind)"; echo; echo "callgrind.sh failed:"; echo '```';
      tail -20 "$BENCH_LOG.cg"; echo '```'; } >>"$REPORT"
  fi
fi
cp "$REPORT" "$OUT/latest.md"

echo
echo "=================================================================="
cat "$REPORT"
echo
log "report: $REPORT (also $OUT/latest.md)"
