#!/usr/bin/env bash
# Deterministic CPU cost of the Ferro gateway: instructions (Ir) per request
# under valgrind's callgrind, with the start-up cost removed by a baseline run.
#
#   bench/callgrind.sh                 # 2000 non-streaming + 200 streaming requests
#   CG_REQUESTS=500 CG_STREAM_REQUESTS=50 bench/callgrind.sh
#
# Three runs of the release gateway under callgrind (pinned to CPU 0, so tokio
# starts one worker as in bench/run.sh), each ended by SIGTERM:
#   baseline  -- start, one TCP connect (the readiness probe), stop
#   chat      -- same + CG_REQUESTS sequential non-streaming chat requests
#   stream    -- same + CG_STREAM_REQUESTS sequential streaming chat requests
#   realistic -- same as chat with bench/profiles/realistic.yaml and a stored
#                key created through /admin/keys (CG_REALISTIC=0 skips it); its
#                baseline is its own start-up (config compile, key creation)
#   guardrails -- the same with bench/profiles/guardrails.yaml
# Ir/request = (Ir(run) - Ir(baseline)) / requests. The mock upstream answers
# with 0 ms latency. Writes bench/results/callgrind-latest.md (plus a UTC-stamped
# copy) and keeps the callgrind.out files under bench/results/callgrind/.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
REL="$ROOT/target/release"
OUT="${BENCH_OUT:-$HERE/results}"
N="${CG_REQUESTS:-2000}"
NS="${CG_STREAM_REQUESTS:-200}"
TOP="${CG_TOP:-15}"
KEY=bench-master-key
GW_BIN="${BENCH_FERRO_BIN:-$REL/ferrogw}"  # override to profile another build
PY="${PYTHON:-python3}"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if ! command -v valgrind >/dev/null 2>&1; then
  log "installing valgrind"
  (apt-get install -y valgrind >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y valgrind >/dev/null 2>&1; }) \
    || { echo "callgrind.sh: cannot install valgrind" >&2; exit 1; }
fi
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 || ! -x "$GW_BIN" || ! -x "$REL/ferro-mock-upstream" ]]; then
  log "building release binaries"
  (cd "$ROOT" && cargo build --release -p ferrogw -p ferro-mock-upstream)
fi

W="$(mktemp -d /tmp/ferro-callgrind-XXXXXX)"
mkdir -p "$OUT/callgrind"
# every process started here is listed in $W/pids (run_cg runs in a subshell)
cleanup() {
  local p
  [[ -f "$W/pids" ]] || return 0
  while read -r p; do kill "$p" 2>/dev/null || true; done <"$W/pids"
}
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # port pid seconds
  local i
  for ((i = 0; i < $3 * 20; i++)); do
    kill -0 "$2" 2>/dev/null || return 1
    if "$PY" -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2).close()" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}

MPORT="$(free_port)"
taskset -c 1 "$REL/ferro-mock-upstream" --addr "127.0.0.1:$MPORT" --latency-ms 0 \
  --stream-chunks 20 --chunk-gap-ms 0 --no-record --threads 1 >"$W/mock.log" 2>&1 &
MOCK_PID=$!
echo "$MOCK_PID" >>"$W/pids"
wait_port "$MPORT" "$MOCK_PID" 10 || { echo "mock did not start" >&2; exit 1; }

"$PY" - "$W" <<'EOF'
import json, sys
w = sys.argv[1]
json.dump({"model": "gpt-4o-mini", "messages": [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "Say hello to the benchmark in one short sentence."}],
    "max_tokens": 32, "temperature": 0.2}, open(f"{w}/chat.json", "w"))
json.dump({"model": "gpt-4o-mini", "stream": True, "messages": [
    {"role": "user", "content": "Stream a short answer about benchmarks, please."}],
    "max_tokens": 64}, open(f"{w}/stream.json", "w"))
EOF

cat >"$W/mkkey.py" <<'EOF'
# creates a stored API key through the admin API and prints it
import json, sys, urllib.request
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/admin/keys", method="POST",
    data=json.dumps({"name": "bench", "scopes": ["read_only"]}).encode(),
    headers={"Authorization": f"Bearer {sys.argv[2]}", "Content-Type": "application/json"})
print(json.load(urllib.request.urlopen(req, timeout=120))["key"])
EOF

# run NAME MODE REQUESTS [GATEWAY_CONFIG] -> prints total Ir
run_cg() {
  local name=$1 mode=$2 n=$3 cfg=${4:-} port pid out="$OUT/callgrind/callgrind.$1.out" key=$KEY
  port="$(free_port)"
  rm -f "$out"
  env PORT="$port" MASTER_KEY="$KEY" OPENAI_API_KEY=sk-bench OPENAI_BASE_URL="http://127.0.0.1:$MPORT" \
    FERRO_DATA_DIR="$W/data-$name" LOG_LEVEL=warn ${cfg:+GATEWAY_CONFIG="$cfg"} \
    taskset -c 0 valgrind --tool=callgrind --callgrind-out-file="$out" "$GW_BIN" \
    >"$W/gw-$name.log" 2>&1 &
  pid=$!
  echo "$pid" >>"$W/pids"
  wait_port "$port" "$pid" 120 || { echo "gateway under valgrind did not start ($name); see $W/gw-$name.log" >&2; exit 1; }
  if [[ -n "$cfg" ]]; then
    key="$("$PY" "$W/mkkey.py" "$port" "$KEY")" \
      || { echo "could not create a stored key ($name)" >&2; exit 1; }
  fi
  if [[ "$n" -gt 0 ]]; then
    local extra=()
    [[ "$mode" == stream ]] && extra=(--expect-chunks 20)
    local body="$W/chat.json"
    [[ "$mode" == stream ]] && body="$W/stream.json"
    local res
    res="$("$PY" "$HERE/stream_probe.py" "$mode" --url "http://127.0.0.1:$port/v1/chat/completions" \
      --body-file "$body" --key "$key" -c 1 -n "$n" --max-seconds 1200 "${extra[@]}" | grep '^BENCH ')" \
      || { echo "requests failed ($name): $res" >&2; exit 1; }
    log "$name: $res"
  fi
  kill -TERM "$pid"
  wait "$pid" || true
  [[ -s "$out" ]] || { echo "no callgrind output for $name" >&2; exit 1; }
  # total Ir: the "summary:" (or "totals:") line of the callgrind file
  awk '/^(summary|totals):/ {print $2; exit}' "$out"
}

log "baseline run (start + stop, no requests)"
IR_BASE="$(run_cg baseline seq 0)"
log "non-streaming run ($N requests)"
IR_CHAT="$(run_cg chat seq "$N")"
log "streaming run ($NS requests)"
IR_STREAM="$(run_cg stream stream "$NS")"
IR_REAL=0 IR_REAL_BASE=0 IR_GUARD=0 IR_GUARD_BASE=0
if [[ "${CG_REALISTIC:-1}" != 0 ]]; then
  log "realistic profile: baseline and run ($N requests, stored key, bench/profiles/realistic.yaml)"
  IR_REAL_BASE="$(run_cg realistic-base seq 0 "$HERE/profiles/realistic.yaml")"
  IR_REAL="$(run_cg realistic seq "$N" "$HERE/profiles/realistic.yaml")"
  log "realistic + guardrails: baseline and run (bench/profiles/guardrails.yaml)"
  IR_GUARD_BASE="$(run_cg guardrails-base seq 0 "$HERE/profiles/guardrails.yaml")"
  IR_GUARD="$(run_cg guardrails seq "$N" "$HERE/profiles/guardrails.yaml")"
fi

read -r PER_CHAT PER_STREAM PER_REAL RATIO_REAL PER_GUARD RATIO_GUARD < <("$PY" -c "
b,c,s,n,ns=$IR_BASE,$IR_CHAT,$IR_STREAM,$N,$NS
r,rb,g,gb=$IR_REAL,$IR_REAL_BASE,$IR_GUARD,$IR_GUARD_BASE
pc=round((c-b)/n); pr=round((r-rb)/n) if r else 0; pg=round((g-gb)/n) if g else 0
print(pc, round((s-b)/ns) if ns else 0, pr, f'{pr/pc:.2f}' if pc else 0, pg, f'{pg/pc:.2f}' if pc else 0)")

STAMP="$(date -u +%Y-%m-%dT%H-%M-%SZ)"
REPORT="$OUT/callgrind-$STAMP.md"
{
  echo "## Deterministic CPU: instructions per request (callgrind)"
  echo
  echo "Release \`ferrogw\` under \`valgrind --tool=callgrind\`, one tokio worker (\`taskset -c 0\`), mock upstream at 0 ms;"
  echo "requests sent one after another on one keep-alive connection (bench/stream_probe.py). Baseline = start-up + shutdown, subtracted."
  echo
  echo "| run | requests | Ir total | Ir per request (− baseline) |"
  echo "|---|---:|---:|---:|"
  echo "| baseline (start, stop) | 0 | $IR_BASE | – |"
  echo "| non-streaming chat | $N | $IR_CHAT | **$PER_CHAT** |"
  echo "| streaming chat (20 content chunks) | $NS | $IR_STREAM | **$PER_STREAM** |"
  if [[ "$IR_REAL" != 0 ]]; then
    echo "| realistic profile (stored key + bench/profiles/realistic.yaml; baseline: its own start-up, $IR_REAL_BASE) | $N | $IR_REAL | **$PER_REAL** (${RATIO_REAL}× bare) |"
    echo "| realistic + guardrails (bench/profiles/guardrails.yaml; baseline $IR_GUARD_BASE) | $N | $IR_GUARD | **$PER_GUARD** (${RATIO_GUARD}× bare) |"
  fi
  echo
  echo "Top $TOP functions by self Ir per request, non-streaming run minus baseline (\`bench/cg_top.py\`):"
  echo
  "$PY" "$HERE/cg_top.py" "$OUT/callgrind/callgrind.chat.out" "$OUT/callgrind/callgrind.baseline.out" "$N" "$TOP"
  echo
  echo "Top $TOP functions by self Ir per request, streaming run minus baseline:"
  echo
  "$PY" "$HERE/cg_top.py" "$OUT/callgrind/callgrind.stream.out" "$OUT/callgrind/callgrind.baseline.out" "$NS" "$TOP"
  echo
  if [[ "$IR_REAL" != 0 ]]; then
    echo "Top $TOP functions by self Ir per request, realistic profile run minus baseline:"
    echo
    "$PY" "$HERE/cg_top.py" "$OUT/callgrind/callgrind.realistic.out" "$OUT/callgrind/callgrind.realistic-base.out" "$N" "$TOP"
    echo
  fi
  echo "Inspect further: \`callgrind_annotate --inclusive=yes bench/results/callgrind/callgrind.chat.out | head -60\`."
} >"$REPORT"
cp "$REPORT" "$OUT/callgrind-latest.md"
cat "$REPORT"
log "wrote $REPORT (callgrind.out files in $OUT/callgrind/)"
