#!/usr/bin/env bash
# Premium age when read (target: p99 ≤ 1.2 s at 1 s cadence against the simulator).
#
# Starts the simulator and WORKERS (2) worker processes (release build) on this run's own Redis
# prefix and database, plus `premium-spread api` when the binary has it; waits until every
# default coin has a premium; then for AGE_SECS (30) reads the current premium of every default
# coin at random instants (Redis through the jobs crate, and the API) and prints the age
# (now − observed_at) percentiles.
#
# Env: REDIS_URL, DATABASE_URL (server part used; the database is this run's own), WORKERS,
# AGE_SECS, SKIP_BUILD=1 (use the existing target/release binaries).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

WORKERS="${WORKERS:-2}"
AGE_SECS="${AGE_SECS:-30}"
build_release

SIM_PORT="$(free_port)"
export REDIS_PREFIX="$PREFIX" DATABASE_URL="$PG_SERVER/$DB" PREMIUM_SIM_URL="http://127.0.0.1:$SIM_PORT"
export RUST_LOG="${RUST_LOG:-warn}"
unset PREMIUM_COINS PREMIUM_VENUES PREMIUM_PAIRS

create_db "$DB"
start_bg sim "$BIN" sim --addr "127.0.0.1:$SIM_PORT" --seed 1
SIM_PID=$LAST_PID
wait_until 30 "simulator" http_ok "$PREMIUM_SIM_URL/_sim/health"

start_workers "$WORKERS"

API_ARGS=()
if "$BIN" --help | grep -qE '^\s+api\b'; then
  API_PORT="$(free_port)"
  export API_ADDR="127.0.0.1:$API_PORT"
  start_bg api "$BIN" api
  API_PID=$LAST_PID
  wait_until 60 "api /health/live" http_ok "http://$API_ADDR/health/live"
  API_ARGS=(--api "http://$API_ADDR")
else
  log "premium-spread has no 'api' command yet: measuring through Redis only"
fi

log "warm-up, then sampling for ${AGE_SECS} s"
machine_line
timeout $((AGE_SECS + 120)) "$PB" premium-age --secs "$AGE_SECS" --warmup-secs 60 "${API_ARGS[@]}"

echo
echo "| process | RSS MiB | CPU s (whole run) |"
echo "| --- | ---: | ---: |"
for i in "${!WORKER_PIDS[@]}"; do
  p=${WORKER_PIDS[$i]}
  printf '| worker #%d | %.1f | %.1f |\n' $((i + 1)) "$(echo "$(rss_kb "$p") / 1024" | bc -l)" "$(echo "$(cpu_ticks "$p") / 100" | bc -l)"
done
printf '| simulator | %.1f | %.1f |\n' "$(echo "$(rss_kb "$SIM_PID") / 1024" | bc -l)" "$(echo "$(cpu_ticks "$SIM_PID") / 100" | bc -l)"
if [[ -n "${API_PID:-}" ]]; then
  printf '| api | %.1f | %.1f |\n' "$(echo "$(rss_kb "$API_PID") / 1024" | bc -l)" "$(echo "$(cpu_ticks "$API_PID") / 100" | bc -l)"
fi
missed="$(rcli hgetall "$PREFIX:counters" | paste -sd' ' -)"
echo "counters ($PREFIX:counters): ${missed:-none}"

# Where the age comes from: how late in its tick each input was observed (PostgreSQL history).
echo
echo "observation delay within the tick (PostgreSQL history of this run): observed_at − tick start"
echo "| series | rows | p50 ms | p90 ms | p99 ms | max ms |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
pg "$DB" "
  SELECT 'premium BTC ' || k.name || '-' || f.name AS s, count(*),
         round(1000 * percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM observed_at - ts))),
         round(1000 * percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM observed_at - ts))),
         round(1000 * percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM observed_at - ts))),
         round(1000 * max(extract(epoch FROM observed_at - ts)))
  FROM premiums p JOIN venues k ON k.id = p.korea_venue JOIN venues f ON f.id = p.foreign_venue
  WHERE p.coin_id = (SELECT id FROM coins WHERE symbol = 'BTC') GROUP BY 1
  UNION ALL
  SELECT 'ticker ' || v.name || ' BTC', count(*),
         round(1000 * percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM observed_at - date_trunc('second', observed_at)))),
         round(1000 * percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM observed_at - date_trunc('second', observed_at)))),
         round(1000 * percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM observed_at - date_trunc('second', observed_at)))),
         round(1000 * max(extract(epoch FROM observed_at - date_trunc('second', observed_at))))
  FROM tickers t JOIN venues v ON v.id = t.venue
  WHERE t.coin_id = (SELECT id FROM coins WHERE symbol = 'BTC') GROUP BY 1 ORDER BY 1" | awk -F'|' '{printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6}'
