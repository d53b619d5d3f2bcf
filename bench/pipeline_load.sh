#!/usr/bin/env bash
# What the live pipeline costs Redis (issue 22's target: ≤ 2,000 commands/s and ≤ 2 % of a core
# at the full simulated universe with 2 workers; main measured 11,594 commands/s, 6 %).
#
# Starts a PRIVATE redis-server on a free port (`--save "" --appendonly no`, so no other user of
# the shared Redis is counted), then `premium-spread up --sim --workers WORKERS` (realistic
# universe, own ports and database) against it; waits until the premium table is full (see
# `wait_full_table` in lib.sh), lets it run SETTLE_SECS more, `CONFIG RESETSTAT`, sleeps
# WINDOW_SECS (30) and prints the commands/s (total and the TOP (12) commands by calls, from
# `INFO commandstats`) and the Redis CPU in % of one core (Δ used_cpu_sys + used_cpu_user over
# the window), beside main's figure from the issue.
#
# Env: WORKERS (2), WINDOW_SECS (30), WARMUP_SECS (180), SETTLE_SECS (10), FULL_STABLE_SECS (10),
# TOP (12), PIPELINE_BIN (a premium-spread binary to run instead of the release build, e.g. a
# debug build or main's binary for the comparison; no build then), DATABASE_URL, SKIP_BUILD=1.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

WORKERS="${WORKERS:-2}"
WINDOW_SECS="${WINDOW_SECS:-30}"
WARMUP_SECS="${WARMUP_SECS:-180}"
SETTLE_SECS="${SETTLE_SECS:-10}"
FULL_STABLE_SECS="${FULL_STABLE_SECS:-10}"
TOP="${TOP:-12}"
if [[ -n "${PIPELINE_BIN:-}" ]]; then
  BIN="$PIPELINE_BIN"
else
  build_release
fi

REDIS_PORT="$(free_port)"
SIM_PORT="$(free_port)"
API_PORT="$(free_port)"
start_bg redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/"
wait_until 20 "private redis-server on $REDIS_PORT" rcli ping
PREFIXES=() # the run's keys go with the private server
export REDIS_PREFIX="$PREFIX" DATABASE_URL="$PG_SERVER/$DB" API_ADDR="127.0.0.1:$API_PORT"
export RUST_LOG="${RUST_LOG:-warn}" ADMIN_TOKEN="${ADMIN_TOKEN:-bench-pipeline-load}"
unset PREMIUM_COINS PREMIUM_VENUES PREMIUM_PAIRS
URL="http://$API_ADDR/api/v1/premiums"

create_db "$DB"
start_bg up "$BIN" up --sim --workers "$WORKERS" --sim-addr "127.0.0.1:$SIM_PORT"
UP_PID=$LAST_PID
wait_until 90 "api /health/live" http_ok "http://$API_ADDR/health/live"
log "waiting for the registry and a full table (at most ${WARMUP_SECS} s)"
wait_full_table "$URL"
log "table: $rows rows, $avail available, after $(( $(date +%s) - warm_start )) s; settling ${SETTLE_SECS} s"
sleep "$SETTLE_SECS"

cpu() { rcli info cpu | awk -F: '/^used_cpu_(sys|user):/ {gsub("\r",""); s += $2} END {printf "%.6f", s}'; }
machine_line | tee "$OUT/machine.txt"
rcli config resetstat >/dev/null
c0="$(cpu)"
t0=$(date +%s%N)
sleep "$WINDOW_SECS"
rcli info commandstats >"$OUT/commandstats.txt"
c1="$(cpu)"
t1=$(date +%s%N)
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print (b - a) / 1e9}')

# cmdstat_evalsha:calls=123,usec=…  →  "evalsha 123"
per_cmd="$(tr -d '\r' <"$OUT/commandstats.txt" | awk -F'[:,=]' '/^cmdstat_/ {sub("cmdstat_", "", $1); print $1, $3}' | sort -k2,2nr)"
total=$(awk '{s += $2} END {print s + 0}' <<<"$per_cmd")
echo
echo "pipeline_load: up --sim --workers $WORKERS, realistic universe ($rows (coin, pair), $avail available), private redis-server :$REDIS_PORT, window ${wall} s"
awk -v t="$total" -v w="$wall" 'BEGIN {printf "Redis commands/s: %.0f   (issue 22, main: 11,594; target <= 2,000)\n", t / w}'
awk -v a="$c0" -v b="$c1" -v w="$wall" 'BEGIN {printf "Redis CPU: %.1f %% of one core   (issue 22, main: 6 %%; target <= 2 %%)\n", 100 * (b - a) / w}'
echo "top commands (calls/s):"
head -n "$TOP" <<<"$per_cmd" | awk -v w="$wall" '{printf "  %-22s %8.0f\n", $1, $2 / w}'
echo "binary: $BIN"
# `up` first (its workers would log the private Redis going away), then the EXIT trap.
stop_pid "$UP_PID"
