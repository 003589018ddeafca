#!/usr/bin/env bash
# Realistic profile vs the bare gateway, one pinned core, in one run:
#   bare      = MASTER_KEY auth, request logging (always on), no plugins
#   realistic = a stored API key (created through /admin/keys), request logging,
#               bench/profiles/realistic.yaml (rate limit, budget, cost)
#   guardrails = realistic + bench/profiles/guardrails.yaml's four guardrails
# Prints RPS for each and the ratio to bare. Needs wrk and release binaries
# (`cargo build --release -p ferrogw -p ferro-mock-upstream`).
# Env: CONNS (50), LAT_MS (0 = saturate the gateway core), SECS (8).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CONNS=${CONNS:-50}; LAT_MS=${LAT_MS:-0}; SECS=${SECS:-8}
command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
BIN=target/release/ferrogw; MOCK=target/release/ferro-mock-upstream
[ -x "$BIN" ] && [ -x "$MOCK" ] || cargo build --release -p ferrogw -p ferro-mock-upstream
MPORT=19901; GPORT=19980
lua=$(mktemp); trap 'rm -f "$lua"' EXIT

run() { # $1 = config file or "none"; prints RPS
    local cfg=$1 dir key gp mp rps
    dir=$(mktemp -d)
    taskset -c 1 "$MOCK" --addr 127.0.0.1:$MPORT --latency-ms "$LAT_MS" --no-record --threads 1 >/dev/null 2>&1 &
    mp=$!
    if [ "$cfg" = none ]; then
        env -u GATEWAY_CONFIG PORT=$GPORT MASTER_KEY=bench OPENAI_API_KEY=sk OPENAI_BASE_URL=http://127.0.0.1:$MPORT \
            FERRO_DATA_DIR="$dir" LOG_LEVEL=warn taskset -c 0 "$BIN" >/dev/null 2>&1 &
    else
        GATEWAY_CONFIG=$cfg PORT=$GPORT MASTER_KEY=bench OPENAI_API_KEY=sk OPENAI_BASE_URL=http://127.0.0.1:$MPORT \
            FERRO_DATA_DIR="$dir" LOG_LEVEL=warn taskset -c 0 "$BIN" >/dev/null 2>&1 &
    fi
    gp=$!
    for _ in $(seq 50); do curl -sf localhost:$GPORT/livez >/dev/null && break; sleep 0.1; done
    key=bench
    if [ "$cfg" != none ]; then
        key=$(curl -s -X POST localhost:$GPORT/admin/keys -H 'Authorization: Bearer bench' \
            -H 'Content-Type: application/json' -d '{"name":"bench","scopes":["read_only"]}' |
            python3 -c 'import sys,json;print(json.load(sys.stdin)["key"])')
    fi
    cat > "$lua" <<L
wrk.method = "POST"
wrk.body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello, please summarise the meeting notes from yesterday"}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
L
    taskset -c 1 wrk -t1 -c"$CONNS" -d2s -s "$lua" http://127.0.0.1:$GPORT/v1/chat/completions >/dev/null
    rps=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"${SECS}s" -s "$lua" http://127.0.0.1:$GPORT/v1/chat/completions |
        awk '/Non-2xx/ {bad=1} /Requests\/sec/ {print $2}')
    kill "$gp" "$mp"; wait "$gp" "$mp" 2>/dev/null || true
    rm -rf "$dir"
    echo "$rps"
}

bare=$(run none)
real=$(run bench/profiles/realistic.yaml)
guard=$(run bench/profiles/guardrails.yaml)
python3 - "$bare" "$real" "$guard" "$CONNS" "$LAT_MS" <<'PY'
import sys
bare, real, guard = (float(x) for x in sys.argv[1:4])
conns, lat = sys.argv[4], sys.argv[5]
print(f"| profile | conns | mock ms | RPS | ÷ bare |\n|---|---:|---:|---:|---:|")
print(f"| bare (master key, logging) | {conns} | {lat} | {bare:.0f} | 1.00 |")
print(f"| realistic (stored key, logging, rate limit, budget, cost) | {conns} | {lat} | {real:.0f} | {real/bare:.2f} |")
print(f"| realistic + guardrails (max-token, pii-redact, secret-scan, prompt-shield) | {conns} | {lat} | {guard:.0f} | {guard/bare:.2f} |")
PY
