#!/usr/bin/env bash
# HTTP load on the current premium (target: ≥ 20k req/s, p99 ≤ 5 ms at 64 connections,
# workers running; api and worker each ≤ 64 MiB RSS).
#
# Runs `premium-spread up --sim --workers 2` on this run's own ports, Redis prefix and database,
# waits until `GET /api/v1/premiums/BTC` answers 200, then loads it with wrk (installed from
# Debian when missing) at HTTP_CONNS (64) connections, HTTP_THREADS (2) threads for HTTP_SECS
# (20) s with --latency, and prints req/s, p50, p99, errors, and the RSS and CPU of the api and
# worker processes. wrk runs on the same 2 cores as the api, the workers, Redis and the
# simulator: the figure is the whole box's, not the api's alone.
#
# Env: REDIS_URL, DATABASE_URL, HTTP_SECS, HTTP_CONNS, HTTP_THREADS, SKIP_BUILD=1.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

HTTP_SECS="${HTTP_SECS:-20}"
HTTP_CONNS="${HTTP_CONNS:-64}"
HTTP_THREADS="${HTTP_THREADS:-2}"
build_release

if ! "$BIN" --help | grep -qE '^\s+api\b'; then
  echo "http_load: 'premium-spread api' does not exist in $BIN yet: nothing to load; this script is untested."
  exit 3
fi
if ! command -v wrk >/dev/null; then
  log "installing wrk (Debian package)"
  timeout 300 apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq wrk >&2
fi

API_PORT="$(free_port)"
SIM_PORT="$(free_port)"
export REDIS_PREFIX="$PREFIX" DATABASE_URL="$PG_SERVER/$DB" API_ADDR="127.0.0.1:$API_PORT"
export ADMIN_TOKEN="${ADMIN_TOKEN:-bench-$RUN_ID}" RUST_LOG="${RUST_LOG:-warn}"
unset PREMIUM_COINS PREMIUM_VENUES PREMIUM_PAIRS PREMIUM_SIM_URL
create_db "$DB"
start_bg up "$BIN" up --sim --workers 2 --sim-addr "127.0.0.1:$SIM_PORT"
UP_PID=$LAST_PID
URL="http://$API_ADDR/api/v1/premiums/BTC"
wait_until 90 "200 from $URL" http_ok "$URL"

# The api and worker children of `up`.
API_PID=""
WORKER_PIDS=()
for c in $(pgrep -P "$UP_PID"); do
  role="$(tr '\0' ' ' <"/proc/$c/cmdline" | awk '{print $2}')"
  case "$role" in
    api) API_PID=$c ;;
    worker) WORKER_PIDS+=("$c") ;;
  esac
done
[[ -n "$API_PID" ]] || { log "no api child of up ($UP_PID)"; exit 1; }
sleep 3

rss_mib() { awk -v k="$(rss_kb "$1")" 'BEGIN {printf "%.1f", k / 1024}'; }
api_rss0=$(rss_mib "$API_PID")
a0=$(cpu_ticks "$API_PID"); w0=0; for p in "${WORKER_PIDS[@]}"; do w0=$((w0 + $(cpu_ticks "$p"))); done
u0=$(cpu_ticks "$UP_PID")
log "wrk -t$HTTP_THREADS -c$HTTP_CONNS -d${HTTP_SECS}s --latency $URL"
start_ns=$(date +%s%N)
timeout $((HTTP_SECS + 60)) wrk -t"$HTTP_THREADS" -c"$HTTP_CONNS" -d"${HTTP_SECS}s" --timeout 2s --latency "$URL" >"$OUT/wrk.txt"
end_ns=$(date +%s%N)
a1=$(cpu_ticks "$API_PID"); w1=0; for p in "${WORKER_PIDS[@]}"; do w1=$((w1 + $(cpu_ticks "$p"))); done
u1=$(cpu_ticks "$UP_PID")
wall=$(awk -v a="$start_ns" -v b="$end_ns" 'BEGIN {print (b - a) / 1e9}')
pct() { awk -v d="$1" -v w="$wall" 'BEGIN {printf "%.0f", d / w}'; }

to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f", v}'; }
rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$OUT/wrk.txt")
total=$(awk '/requests in/ {print $1}' "$OUT/wrk.txt")
p50=$(awk '$1 == "50%" {print $2}' "$OUT/wrk.txt" | to_ms)
p90=$(awk '$1 == "90%" {print $2}' "$OUT/wrk.txt" | to_ms)
p99=$(awk '$1 == "99%" {print $2}' "$OUT/wrk.txt" | to_ms)
non2xx=$(awk '/Non-2xx/ {print $NF}' "$OUT/wrk.txt"); non2xx=${non2xx:-0}
sockerr=$(awk -F'Socket errors: ' '/Socket errors/ {print $2}' "$OUT/wrk.txt"); sockerr=${sockerr:-none}

echo
machine_line
echo "HTTP load: GET /api/v1/premiums/BTC, wrk -t$HTTP_THREADS -c$HTTP_CONNS -d${HTTP_SECS}s, premium-spread up --sim --workers 2 running (wrk shares the cores)"
echo "| req/s | requests | p50 ms | p90 ms | p99 ms | non-2xx | socket errors | ≥ 20k req/s | p99 ≤ 5 ms |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |"
echo "| $rps | $total | $p50 | $p90 | $p99 | $non2xx | $sockerr | $([[ $rps -ge 20000 ]] && echo PASS || echo FAIL) | $(awk -v p="$p99" 'BEGIN {print (p <= 5) ? "PASS" : "FAIL"}') |"
echo
echo "| process | RSS MiB before load | RSS MiB after load | CPU % of one core during load | ≤ 64 MiB |"
echo "| --- | ---: | ---: | ---: | --- |"
ar=$(rss_mib "$API_PID")
echo "| api | $api_rss0 | $ar | $(pct $((a1 - a0))) | $(awk -v r="$ar" 'BEGIN {print (r <= 64) ? "PASS" : "FAIL"}') |"
for i in "${!WORKER_PIDS[@]}"; do
  wr=$(rss_mib "${WORKER_PIDS[$i]}")
  echo "| worker #$((i + 1)) | – | $wr | $( [[ $i == 0 ]] && pct $((w1 - w0)) || echo '(in #1)') | $(awk -v r="$wr" 'BEGIN {print (r <= 64) ? "PASS" : "FAIL"}') |"
done
echo "| up (+ in-process simulator) | – | $(rss_mib "$UP_PID") | $(pct $((u1 - u0))) | – |"
echo "(worker CPU % is the sum over both workers; wrk output in $OUT/wrk.txt)"
