#!/usr/bin/env bash
# The full premium table under load (target: p99 ≤ 20 ms at 16 connections; before: 735 KB of
# JSON per answer, 142 req/s, p50 111 ms, p99 146 ms, API RSS 52 MiB).
#
# Fills this run's Redis prefix with a synthetic full table, TABLE_COINS (300) coins × the 4
# default pairs (1,200 premiums), rewritten every second like the worker does
# (`premium-bench premium-fill`: `Cache::put_premiums`, which bumps the premium version), starts
# `premium-spread api` (release) tracking those coins, and loads `GET /api/v1/premiums` with
# wrk at HTTP_CONNS (16) connections, HTTP_THREADS (2) threads, HTTP_SECS (15) s per run, four
# runs: uncompressed, `Accept-Encoding: gzip`, `Accept-Encoding: br`, and a filtered one
# (`?pair=upbit-binance&available=true`, 300 rows, gzip). Prints req/s, p50/p90/p99, the body
# size per encoding, the API's CPU per run and its RSS, beside the figures of the issue. No
# workers, venues or simulator run: the API, Redis, the filler and wrk share the 2 cores.
#
# Env: REDIS_URL, DATABASE_URL, TABLE_COINS, HTTP_SECS, HTTP_CONNS, HTTP_THREADS, SKIP_BUILD=1.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

TABLE_COINS="${TABLE_COINS:-300}"
HTTP_SECS="${HTTP_SECS:-15}"
HTTP_CONNS="${HTTP_CONNS:-16}"
HTTP_THREADS="${HTTP_THREADS:-2}"
# The issue's figures (same endpoint, 300 coins × 4 pairs, 16 connections, before this work).
OLD_KB=735 OLD_RPS=142 OLD_P50=111 OLD_P99=146 OLD_RSS=52
build_release

if ! command -v wrk >/dev/null; then
  log "installing wrk (Debian package)"
  timeout 300 apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq wrk >&2
fi

API_PORT="$(free_port)"
coins="$(seq -f 'SIM%03g' 1 "$TABLE_COINS" | paste -sd, -)"
export REDIS_PREFIX="$PREFIX" DATABASE_URL="$PG_SERVER/$DB" API_ADDR="127.0.0.1:$API_PORT"
export PREMIUM_COINS="$coins" RUST_LOG="${RUST_LOG:-warn}"
unset PREMIUM_VENUES PREMIUM_PAIRS PREMIUM_SIM_URL
create_db "$DB"
start_bg fill "$PB" premium-fill --secs $((4 * (HTTP_SECS + 10) + 120))
start_bg api "$BIN" api
API_PID=$LAST_PID
URL="http://$API_ADDR/api/v1/premiums"
wait_until 60 "200 from $URL" http_ok "$URL"
full_table() {
  curl -fsS -m 5 "$URL?available=true" | python3 -c 'import json,sys; n=len(json.load(sys.stdin)["premiums"]); sys.exit(0 if n >= '"$((TABLE_COINS * 4))"' else 1)'
}
wait_until 30 "every premium of $TABLE_COINS coins × 4 pairs in the table" full_table
rows=$(curl -fsS -m 5 "$URL" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["premiums"]))')
size() { curl -fsS -m 5 -o /dev/null -w '%{size_download}' -H "Accept-Encoding: $1" "$URL${2:-}"; }
kb() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1000}'; }
s_id=$(size identity); s_gz=$(size gzip); s_br=$(size br)
s_f_id=$(size identity '?pair=upbit-binance&available=true'); s_f_gz=$(size gzip '?pair=upbit-binance&available=true')
sleep 2

rss_mib() { awk -v k="$(rss_kb "$1")" 'BEGIN {printf "%.1f", k / 1024}'; }
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f", v}'; }
api_rss0=$(rss_mib "$API_PID")
max_rss=$api_rss0
RESULTS=()
# load NAME ENCODING QUERY
load() {
  local name="$1" enc="$2" query="$3" a0 a1 s0 s1 wall
  log "wrk -t$HTTP_THREADS -c$HTTP_CONNS -d${HTTP_SECS}s --latency -H 'Accept-Encoding: $enc' $URL$query"
  a0=$(cpu_ticks "$API_PID"); s0=$(date +%s%N)
  timeout $((HTTP_SECS + 60)) wrk -t"$HTTP_THREADS" -c"$HTTP_CONNS" -d"${HTTP_SECS}s" --timeout 2s --latency \
    -H "Accept-Encoding: $enc" "$URL$query" >"$OUT/wrk-$name.txt"
  a1=$(cpu_ticks "$API_PID"); s1=$(date +%s%N)
  wall=$(awk -v a="$s0" -v b="$s1" 'BEGIN {print (b - a) / 1e9}')
  local f="$OUT/wrk-$name.txt" rps p50 p90 p99 non2xx sockerr cpu rss
  rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$f")
  p50=$(awk '$1 == "50%" {print $2}' "$f" | to_ms)
  p90=$(awk '$1 == "90%" {print $2}' "$f" | to_ms)
  p99=$(awk '$1 == "99%" {print $2}' "$f" | to_ms)
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$f"); non2xx=${non2xx:-0}
  sockerr=$(awk -F'Socket errors: ' '/Socket errors/ {print $2}' "$f"); sockerr=${sockerr:-none}
  cpu=$(awk -v d="$((a1 - a0))" -v w="$wall" 'BEGIN {printf "%.0f", d / w}')
  rss=$(rss_mib "$API_PID")
  max_rss=$(awk -v a="$max_rss" -v b="$rss" 'BEGIN {print (b > a) ? b : a}')
  RESULTS+=("| $name | $rps | $p50 | $p90 | $p99 | $non2xx | $sockerr | $cpu | $rss | $(awk -v p="$p99" 'BEGIN {print (p <= 20) ? "PASS" : "FAIL"}') |")
}
load identity identity ""
load gzip gzip ""
load br br ""
load "filtered (gzip)" gzip "?pair=upbit-binance&available=true"
api_rss1=$(rss_mib "$API_PID")

echo
machine_line
echo "Premium table: GET /api/v1/premiums, $rows rows ($TABLE_COINS coins × 4 pairs) rewritten every second, wrk -t$HTTP_THREADS -c$HTTP_CONNS -d${HTTP_SECS}s per run (wrk, Redis and the filler share the cores)"
echo
echo "| run | req/s | p50 ms | p90 ms | p99 ms | non-2xx | socket errors | api CPU % of one core | api RSS MiB after | p99 ≤ 20 ms |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |"
echo "| before (the issue, uncompressed) | $OLD_RPS | $OLD_P50 | – | $OLD_P99 | – | – | – | $OLD_RSS | FAIL |"
for r in "${RESULTS[@]}"; do echo "$r"; done
echo
echo "| body | identity KB | gzip KB | br KB |"
echo "| --- | ---: | ---: | ---: |"
echo "| before (the issue) | $OLD_KB | – | – |"
echo "| full table ($rows rows) | $(kb "$s_id") | $(kb "$s_gz") | $(kb "$s_br") |"
echo "| ?pair=upbit-binance&available=true | $(kb "$s_f_id") | $(kb "$s_f_gz") | – |"
echo
echo "| api RSS MiB | before (the issue) | before load | after load | max seen | ≤ 64 MiB |"
echo "| --- | ---: | ---: | ---: | ---: | --- |"
echo "| api | $OLD_RSS | $api_rss0 | $api_rss1 | $max_rss | $(awk -v r="$max_rss" 'BEGIN {print (r <= 64) ? "PASS" : "FAIL"}') |"
echo "(wrk output in $OUT/)"
