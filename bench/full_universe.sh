#!/usr/bin/env bash
# The full simulated universe at the 1 s cadence with WORKERS (2) workers (targets: premium age
# p99 ≤ 1.2 s, workers < 50 % of one core together, RSS ≤ 64 MiB each, full table
# `GET /api/v1/premiums` p99 ≤ 20 ms at 16 connections).
#
# Starts the simulator (realistic universe, the default), WORKERS worker processes and
# `premium-spread api` with default settings (coins = "auto", every default pair) on this run's
# own Redis prefix and database; waits until the market registry is in force and the premium
# table is full (every row available, or the available count unchanged for FULL_STABLE_SECS);
# then over WINDOW_SECS (60) measures the premium age of every tracked (coin, pair)
# (`premium-bench premium-age`), the workers' CPU (Δ utime+stime / wall, % of one core) and RSS,
# the premiums written per tick and the compute delay (PostgreSQL history); finally loads
# `GET /api/v1/premiums` with wrk (HTTP_CONNS (16) connections, HTTP_THREADS (2) threads,
# HTTP_SECS (15) s), uncompressed and gzip, with the workers still running. Prints one table,
# each figure beside its target.
#
# Env: REDIS_URL, DATABASE_URL, WORKERS, WINDOW_SECS, WARMUP_SECS, FULL_STABLE_SECS, HTTP_SECS,
# HTTP_CONNS, HTTP_THREADS, SKIP_BUILD=1.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

WORKERS="${WORKERS:-2}"
WINDOW_SECS="${WINDOW_SECS:-60}"
WARMUP_SECS="${WARMUP_SECS:-180}"
FULL_STABLE_SECS="${FULL_STABLE_SECS:-10}"
HTTP_SECS="${HTTP_SECS:-15}"
HTTP_CONNS="${HTTP_CONNS:-16}"
HTTP_THREADS="${HTTP_THREADS:-2}"
build_release

if ! command -v wrk >/dev/null; then
  log "installing wrk (Debian package)"
  timeout 300 apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq wrk >&2
fi

SIM_PORT="$(free_port)"
API_PORT="$(free_port)"
export REDIS_PREFIX="$PREFIX" DATABASE_URL="$PG_SERVER/$DB" PREMIUM_SIM_URL="http://127.0.0.1:$SIM_PORT"
export API_ADDR="127.0.0.1:$API_PORT" RUST_LOG="${RUST_LOG:-warn}"
unset PREMIUM_COINS PREMIUM_VENUES PREMIUM_PAIRS
URL="http://$API_ADDR/api/v1/premiums"

create_db "$DB"
start_bg sim "$BIN" sim --addr "127.0.0.1:$SIM_PORT" --seed 1
SIM_PID=$LAST_PID
wait_until 30 "simulator" http_ok "$PREMIUM_SIM_URL/_sim/health"
start_workers "$WORKERS"
start_bg api "$BIN" api
API_PID=$LAST_PID
wait_until 60 "api /health/live" http_ok "http://$API_ADDR/health/live"

log "waiting for the registry and a full table (at most ${WARMUP_SECS} s)"
wait_full_table "$URL"
log "table: $rows rows (the universe), $avail available, after $(( $(date +%s) - warm_start )) s"
per_pair="$(curl -fsS -m 5 "$URL" | python3 -c '
import collections, json, sys
c = collections.Counter(r["korea_venue"] + "-" + r["foreign_venue"] for r in json.load(sys.stdin)["premiums"])
print(", ".join(f"{p} {n}" for p, n in sorted(c.items())))')"
sleep 2

rss_mib() { awk -v k="$(rss_kb "$1")" 'BEGIN {printf "%.1f", k / 1024}'; }
hwm_mib() { awk '/^VmHWM:/ {printf "%.1f", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo 0; }
REDIS_PID="$(redis_pid || true)"
missed0="$(rcli hget "$PREFIX:counters" missed_ticks:compute-premium || true)"
declare -A C0
for p in "${WORKER_PIDS[@]}" "$SIM_PID" "$API_PID" ${REDIS_PID:+"$REDIS_PID"}; do C0[$p]=$(cpu_ticks "$p"); done
read -r box_b0 box_t0 < <(box_jiffies)
curl -sf "$PREMIUM_SIM_URL/_sim/stats" >"$OUT/sim-stats-0.json" || echo '{}' >"$OUT/sim-stats-0.json"
w_start=$(date +%s%N)
log "measuring for ${WINDOW_SECS} s (premium-age over every tracked (coin, pair))"
machine_line | tee "$OUT/machine.txt" >&2
timeout $((WINDOW_SECS + 120)) "$PB" premium-age --secs "$WINDOW_SECS" --warmup-secs 60 --api "http://$API_ADDR" \
  | tee "$OUT/premium-age.txt" >&2
w_end=$(date +%s%N)
curl -sf "$PREMIUM_SIM_URL/_sim/stats" >"$OUT/sim-stats-1.json" || echo '{}' >"$OUT/sim-stats-1.json"
read -r box_b1 box_t1 < <(box_jiffies)
wall=$(awk -v a="$w_start" -v b="$w_end" 'BEGIN {print (b - a) / 1e9}')
pct() { awk -v d="$1" -v w="$wall" 'BEGIN {printf "%.1f", d / w}'; }
declare -A CPU
for p in "${!C0[@]}"; do CPU[$p]=$(pct $(( $(cpu_ticks "$p") - ${C0[$p]} ))); done
w_total=0
for p in "${WORKER_PIDS[@]}"; do w_total=$((w_total + $(cpu_ticks "$p") - ${C0[$p]})); done
w_cpu=$(pct "$w_total")
box_pct=$(awk -v b="$((box_b1 - box_b0))" -v t="$((box_t1 - box_t0))" 'BEGIN {printf "%.0f", 100 * b / t}')
missed1="$(rcli hget "$PREFIX:counters" missed_ticks:compute-premium || true)"
missed=$(( ${missed1:-0} - ${missed0:-0} ))

# Premium-age row of the MGET reader (every tracked (coin, pair)).
age_row="$(grep -F '| redis, all pairs (MGET) |' "$OUT/premium-age.txt" || true)"
api_age_row="$(grep -F '| api GET' "$OUT/premium-age.txt" || true)"
field() { awk -F'|' -v n="$2" '{gsub(/ /, "", $n); print $n}' <<<"$1"; }
age_reads=$(field "$age_row" 3); age_missing=$(field "$age_row" 4)
age_p50=$(field "$age_row" 6); age_p99=$(field "$age_row" 8); age_max=$(field "$age_row" 9)
api_age_p99=$(field "$api_age_row" 8)

# Premiums per tick and compute delay in the window (PostgreSQL history).
w0s=$((w_start / 1000000000 + 1)) w1s=$((w_end / 1000000000 - 1))
read -r ticks per_min per_p50 per_max cd_p50 cd_p99 < <(pg "$DB" "
  WITH t AS (SELECT p.ts, count(*) AS n, max(k.computed_at) - p.ts AS delay
               FROM premiums p JOIN premium_ticks k ON k.ts = p.ts
             WHERE p.ts BETWEEN to_timestamp($w0s) AND to_timestamp($w1s) GROUP BY p.ts)
  SELECT count(*), min(n), percentile_disc(0.5) WITHIN GROUP (ORDER BY n), max(n),
         round(1000 * percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM delay))),
         round(1000 * percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM delay)))
  FROM t" | tr '|' ' ' || true)
window_ticks=$((w1s - w0s + 1))

# The full table under load, workers running.
size() { curl -fsS -m 5 -o /dev/null -w '%{size_download}' -H "Accept-Encoding: $1" "$URL"; }
kb() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1000}'; }
s_id=$(size identity); s_gz=$(size gzip)
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f", v}'; }
declare -A RPS P50 P99 ERR ACPU BOX
load() {
  local name="$1" enc="$2" a0 a1 s0 s1 f="$OUT/wrk-$1.txt"
  log "wrk -t$HTTP_THREADS -c$HTTP_CONNS -d${HTTP_SECS}s --latency -H 'Accept-Encoding: $enc' $URL"
  local b0 t0 b1 t1
  read -r b0 t0 < <(box_jiffies)
  a0=$(cpu_ticks "$API_PID"); s0=$(date +%s%N)
  timeout $((HTTP_SECS + 60)) wrk -t"$HTTP_THREADS" -c"$HTTP_CONNS" -d"${HTTP_SECS}s" --timeout 2s --latency \
    -H "Accept-Encoding: $enc" "$URL" >"$f"
  a1=$(cpu_ticks "$API_PID"); s1=$(date +%s%N)
  read -r b1 t1 < <(box_jiffies)
  BOX[$name]=$(awk -v b="$((b1 - b0))" -v t="$((t1 - t0))" 'BEGIN {printf "%.0f", 100 * b / t}')
  RPS[$name]=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$f")
  P50[$name]=$(awk '$1 == "50%" {print $2}' "$f" | to_ms)
  P99[$name]=$(awk '$1 == "99%" {print $2}' "$f" | to_ms)
  local non2xx sock
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$f"); sock=$(awk -F'Socket errors: ' '/Socket errors/ {print $2}' "$f")
  ERR[$name]="${non2xx:-0} non-2xx${sock:+, socket errors $sock}"
  ACPU[$name]=$(awk -v d="$((a1 - a0))" -v a="$s0" -v b="$s1" 'BEGIN {printf "%.0f", d / ((b - a) / 1e9)}')
}
load identity identity
load gzip gzip

pf() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { if (v == "" || v == "–") { print "FAIL"; exit } ok = (op == "<") ? (v + 0 < t) : (v + 0 <= t); print ok ? "PASS" : "FAIL" }'; }
echo
cat "$OUT/machine.txt"
echo "Full simulated universe: simulator (realistic), $WORKERS workers, api; coins = \"auto\", every default pair; $rows tracked (coin, pair) ($per_pair); ${WINDOW_SECS} s window, wrk -t$HTTP_THREADS -c$HTTP_CONNS -d${HTTP_SECS}s per run (everything on the same cores)"
echo
echo "| figure | target | measured | |"
echo "| --- | --- | --- | --- |"
echo "| premium age p50 / p99 / max, every tracked (coin, pair) via MGET ($age_reads reads, $age_missing missing) | p99 ≤ 1,200 ms | $age_p50 / $age_p99 / $age_max ms (api single coin p99 ${api_age_p99:-–} ms) | $(pf "$age_p99" 1200 '<=') |"
echo "| workers' CPU together (% of one core) | < 50 % | $w_cpu % | $(pf "$w_cpu" 50 '<') |"
for i in "${!WORKER_PIDS[@]}"; do
  p=${WORKER_PIDS[$i]}
  echo "| worker #$((i + 1)) CPU (% of one core) / RSS (peak) MiB | RSS ≤ 64 MiB | ${CPU[$p]} % / $(rss_mib "$p") ($(hwm_mib "$p")) MiB | $(pf "$(hwm_mib "$p")" 64 '<=') |"
done
echo "| premiums per tick (min / p50 / max), ticks with premiums | – | $per_min / $per_p50 / $per_max of $rows, $ticks of $window_ticks ticks, $missed missed | – |"
echo "| compute delay (computed_at − tick) p50 / p99 | – | $cd_p50 / $cd_p99 ms | – |"
echo "| \`GET /api/v1/premiums\` identity ($(kb "$s_id") KB) p50 / p99, req/s | p99 ≤ 20 ms | ${P50[identity]} / ${P99[identity]} ms, ${RPS[identity]} req/s (${ERR[identity]}; api ${ACPU[identity]} % of one core, box ${BOX[identity]} % busy) | $(pf "${P99[identity]}" 20 '<=') |"
echo "| \`GET /api/v1/premiums\` gzip ($(kb "$s_gz") KB) p50 / p99, req/s | p99 ≤ 20 ms | ${P50[gzip]} / ${P99[gzip]} ms, ${RPS[gzip]} req/s (${ERR[gzip]}; api ${ACPU[gzip]} % of one core, box ${BOX[gzip]} % busy) | $(pf "${P99[gzip]}" 20 '<=') |"
echo
echo "Other processes over the window (% of one core): simulator ${CPU[$SIM_PID]}, api ${CPU[$API_PID]}${REDIS_PID:+, Redis ${CPU[$REDIS_PID]}}; box busy $box_pct % of all cores (premium-age's sampling and other users included). RSS: api $(rss_mib "$API_PID") MiB, simulator $(rss_mib "$SIM_PID") MiB."
echo
echo "Requests to the venues per tick over the window (simulator's counters ÷ window seconds; tickers, books, funding and depth-coin books):"
python3 - "$OUT/sim-stats-0.json" "$OUT/sim-stats-1.json" "$wall" <<'PY'
import json, sys
a, b = (json.load(open(p)).get("paths", {}) for p in sys.argv[1:3])
secs = float(sys.argv[3])
rows = sorted((p, (b.get(p, 0) - a.get(p, 0)) / secs) for p in b if not p.startswith("/_sim"))
print("| path | requests per tick |")
print("| --- | ---: |")
per_venue = {}
for path, n in rows:
    if n < 0.005:
        continue
    print(f"| `{path}` | {n:.2f} |")
    venue = path.split("/")[1]
    per_venue[venue] = per_venue.get(venue, 0) + n
print("per venue: " + ", ".join(f"{v} {n:.2f}" for v, n in sorted(per_venue.items())))
PY
echo "counters ($PREFIX:counters): $(rcli hgetall "$PREFIX:counters" | paste -sd' ' -)"
echo "(raw output in $OUT/)"
