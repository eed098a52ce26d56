#!/usr/bin/env bash
# The daemon under load: starts `skillforge serve --no-agent` on a free loopback port over a
# fresh data dir (seeded with the starter library), checks each endpoint's answer once, then
# drives it with wrk (Debian's `wrk`: apt-get install wrk) at 1, 16 and 100 connections:
#   GET  /health                        the HTTP stack alone (baseline)
#   GET  /v1/skills/default/median      + bearer check, a SQL read (baseline)
#   GET  /v1/search?q=...&k=5           + a query embedding (ONNX) and the hybrid search
#   POST /v1/skills/default/median/run  + the skill's bundle and a sandbox call
# and prints one Markdown row per run: requests/s, p50/p99 latency, errors, and the daemon's
# VmRSS/VmHWM (from /proc/PID/status) before and after the run.
#
# Usage: benches/load.sh [BINARY]      (default target/debug/skillforge: the dev profile)
# Environment: LOAD_DURATION (default 10s), LOAD_CONNECTIONS (default "1 16 100"),
#              LOAD_ENDPOINTS (default "health show search run").
set -euo pipefail
binary=$(realpath -m "${1:-$(dirname "${BASH_SOURCE[0]}")/../target/debug/skillforge}")
cd "$(dirname "${BASH_SOURCE[0]}")/.."

duration=${LOAD_DURATION:-10s}
connections=${LOAD_CONNECTIONS:-1 16 100}
endpoints=${LOAD_ENDPOINTS:-health show search run}
script=benches/load.lua

command -v wrk >/dev/null || {
    echo "load.sh: wrk is not installed (apt-get install wrk)" >&2
    exit 1
}
[[ -x $binary ]] || {
    echo "load.sh: no binary at $binary (cargo build first, or give its path)" >&2
    exit 1
}

data=$(mktemp -d)
daemon=
cleanup() {
    if [[ -n $daemon ]] && kill -0 "$daemon" 2>/dev/null; then
        kill -TERM "$daemon"
        wait "$daemon" || true
    fi
    rm -rf "$data"
}
trap cleanup EXIT

# A library of its own: no shared server, no configuration file (no quotas), the default
# body limit (1 MiB; the bodies here are tiny).
env -u SKILLFORGE_DATABASE_URL -u QDRANT_URL -u QDRANT_API_KEY -u SKILLFORGE_CONFIG \
    -u SKILLFORGE_LISTEN -u SKILLFORGE_LLM_URL -u RUST_LOG \
    "$binary" --data-dir "$data" serve --listen 127.0.0.1:0 --no-agent \
    >"$data/stdout" 2>"$data/serve.log" &
daemon=$!
for _ in $(seq 600); do
    grep -q 'listening on' "$data/stdout" 2>/dev/null && break
    kill -0 "$daemon" 2>/dev/null || {
        cat "$data/serve.log" >&2
        exit 1
    }
    sleep 0.2
done
url=$(sed -n 's/^skillforge serve: listening on //p' "$data/stdout")
[[ -n $url ]] || {
    echo "load.sh: the daemon printed no address within 120 s" >&2
    exit 1
}

# Queries a search sends in turn (each is embedded: there is no query cache).
search_paths="/v1/search?q=median%20of%20a%20list%20of%20numbers&k=5|\
/v1/search?q=turn%20a%20title%20into%20a%20url%20slug&k=5|\
/v1/search?q=days%20between%20two%20dates&k=5|\
/v1/search?q=split%20an%20array%20into%20chunks&k=5"
run_body='{"input": [[5, 3, 9, 1, 7, 2]]}'

# LOAD_PATHS, LOAD_METHOD, LOAD_BODY of an endpoint, and the answer its check expects.
setup() {
    LOAD_METHOD=GET LOAD_BODY= expect=
    case $1 in
    health) LOAD_PATHS=/health expect='"status":"ok"' ;;
    show) LOAD_PATHS=/v1/skills/default/median expect='"name":"median"' ;;
    search) LOAD_PATHS=$search_paths expect='"name":"median"' ;;
    run)
        LOAD_PATHS=/v1/skills/default/median/run LOAD_METHOD=POST LOAD_BODY=$run_body
        expect='"value":4'
        ;;
    *)
        echo "load.sh: unknown endpoint $1 (health, show, search, run)" >&2
        exit 1
        ;;
    esac
    export LOAD_PATHS LOAD_METHOD LOAD_BODY
}

# Each endpoint answers what it should before it is timed.
for endpoint in $endpoints; do
    setup "$endpoint"
    first=${LOAD_PATHS%%|*}
    if [[ $LOAD_METHOD == POST ]]; then
        answer=$(curl -sS -X POST -H 'content-type: application/json' -d "$LOAD_BODY" "$url$first")
    else
        answer=$(curl -sS "$url$first")
    fi
    [[ $answer == *"$expect"* ]] || {
        echo "load.sh: $endpoint answered $answer (expected $expect in it)" >&2
        exit 1
    }
done

memory() { # VmRSS/VmHWM in MiB
    awk '/^VmRSS|^VmHWM/ {kb[$1] = $2} END {printf "%.0f/%.0f", kb["VmRSS:"] / 1024, kb["VmHWM:"] / 1024}' \
        "/proc/$daemon/status"
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo ' + uncommitted changes')"
echo "# binary $binary; $(nproc) cores; wrk ${duration} per row, threads = min(2, connections)"
echo "# sandbox slots (calls at once): the default, 4 per core and at least 8"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg) (the rows' load column includes wrk and the daemon themselves)"
echo
echo "| endpoint | connections | requests/s | p50 ms | p99 ms | socket errors | non-2xx | RSS/HWM before MiB | RSS/HWM after MiB | load 1 min |"
echo "|---|---:|---:|---:|---:|---:|---:|---|---|---:|"
for endpoint in $endpoints; do
    setup "$endpoint"
    for c in $connections; do
        threads=$((c < 2 ? c : 2))
        before=$(memory)
        result=$(wrk -t "$threads" -c "$c" -d "$duration" --timeout 30s --latency -s "$script" "$url" |
            sed -n 's/^RESULT //p')
        after=$(memory)
        load=$(cut -d' ' -f1 /proc/loadavg)
        read -r requests seconds p50 p99 socket_errors non_2xx <<<"$result"
        rate=$(awk -v r="$requests" -v s="$seconds" 'BEGIN {printf "%.0f", r / s}')
        echo "| $endpoint | $c | $rate | $p50 | $p99 | $socket_errors | $non_2xx | $before | $after | $load |"
    done
done
