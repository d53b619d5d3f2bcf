#!/usr/bin/env bash
# Coins kept at 1 s cadence (target: ≥ 200 coins × 4 venues on 2 cores, CPU < 50 %).
#
# One simulator process; for each N in COIN_COUNTS (50 100 200 300) a fresh Redis prefix and
# database and WORKERS (1) worker process(es) tracking SIM001…SIM<N> on 4 venues
# (upbit, bithumb, binance, bybit; pairs upbit-binance, bithumb-bybit). After a warm-up
# (the first premium row, then WARMUP_SECS), a window of COIN_SECS (60) seconds:
#   - CPU % of the worker(s), simulator and Redis: utime + stime from /proc/<pid>/stat over wall
#     time, in % of ONE core (the machine has `nproc` cores); the whole box's busy % too;
#   - ticks in the window whose premium rows in PostgreSQL number N × 2 (every coin, every pair),
#     partial ticks, ticks with no row; compute delay (computed_at − tick) p50/p99;
#   - missed ticks (`<prefix>:counters` missed_ticks:*, delta over the window);
#   - worker RSS (VmRSS) at the end.
# "kept" = every tick complete, no missed tick, worker CPU < 50 % of one core.
#
# Env: REDIS_URL, DATABASE_URL, COIN_COUNTS, COIN_SECS, WARMUP_SECS (10), WORKERS, SKIP_BUILD=1.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

COIN_COUNTS="${COIN_COUNTS:-50 100 200 300}"
COIN_SECS="${COIN_SECS:-60}"
WARMUP_SECS="${WARMUP_SECS:-10}"
WORKERS="${WORKERS:-1}"
build_release

SIM_PORT="$(free_port)"
export PREMIUM_SIM_URL="http://127.0.0.1:$SIM_PORT"
export PREMIUM_VENUES="upbit,bithumb,binance,bybit" PREMIUM_PAIRS="upbit-binance,bithumb-bybit"
export RUST_LOG="${RUST_LOG:-warn}"
PAIRS=2
start_bg sim "$BIN" sim --addr "127.0.0.1:$SIM_PORT" --seed 1 --extra-coins 300
SIM_PID=$LAST_PID
wait_until 30 "simulator" http_ok "$PREMIUM_SIM_URL/_sim/health"
REDIS_PID="$(redis_pid)"
HZ=100

ROWS=()
BEST=0
for N in $COIN_COUNTS; do
  coins="$(seq -f 'SIM%03g' 1 "$N" | paste -sd, -)"
  p="$PREFIX-n$N"
  d="${DB}_n$N"
  PREFIXES+=("$p")
  DBS+=("$d")
  log "N=$N: starting $WORKERS worker(s) (prefix $p, database $d)"
  create_db "$d"
  pids=()
  for i in $(seq 1 "$WORKERS"); do
    start_bg "worker-n$N-$i" env REDIS_PREFIX="$p" DATABASE_URL="$PG_SERVER/$d" PREMIUM_COINS="$coins" \
      "$BIN" worker
    pids+=("$LAST_PID")
  done
  first_row() { [[ "$(pg "$d" 'SELECT count(*) > 0 FROM premiums' 2>/dev/null)" == t ]]; }
  if ! wait_until 90 "first premium row (N=$N)" first_row; then
    ROWS+=("| $N | – | – | – | – | – | – | – | – | – | – | – | no premium within 90 s (see $OUT/worker-n$N-1.log) |")
    for pid in "${pids[@]}"; do stop_pid "$pid"; done
    continue
  fi
  sleep "$WARMUP_SECS"

  missed0="$(rcli hgetall "$p:counters" | awk 'NR%2==1 {k=$0} NR%2==0 && k ~ /^missed_ticks/ {s+=$0} END {print s+0}')"
  w0=0; for pid in "${pids[@]}"; do w0=$((w0 + $(cpu_ticks "$pid"))); done
  s0=$(cpu_ticks "$SIM_PID"); r0=$(cpu_ticks "$REDIS_PID"); read -r b0 t0 < <(box_jiffies)
  start_ns=$(date +%s%N)
  start_s=$(( (start_ns / 1000000000) + 1 ))
  sleep "$COIN_SECS"
  end_ns=$(date +%s%N)
  end_s=$(( end_ns / 1000000000 ))
  w1=0; for pid in "${pids[@]}"; do w1=$((w1 + $(cpu_ticks "$pid"))); done
  s1=$(cpu_ticks "$SIM_PID"); r1=$(cpu_ticks "$REDIS_PID"); read -r b1 t1 < <(box_jiffies)
  rss=0; for pid in "${pids[@]}"; do rss=$((rss + $(rss_kb "$pid"))); done
  missed1="$(rcli hgetall "$p:counters" | awk 'NR%2==1 {k=$0} NR%2==0 && k ~ /^missed_ticks/ {s+=$0} END {print s+0}')"
  sleep 2 # let the window's last ticks land in PostgreSQL
  expect=$((N * PAIRS))
  stats="$(pg "$d" "
    WITH t AS (SELECT generate_series(to_timestamp($start_s), to_timestamp($end_s - 1), interval '1 second') AS ts),
         c AS (SELECT ts, count(*) AS n FROM premiums
               WHERE ts >= to_timestamp($start_s) AND ts < to_timestamp($end_s) GROUP BY ts)
    SELECT count(*), count(*) FILTER (WHERE c.n = $expect),
           count(*) FILTER (WHERE c.n > 0 AND c.n < $expect), count(*) FILTER (WHERE c.n IS NULL)
    FROM t LEFT JOIN c USING (ts)")"
  delay="$(pg "$d" "
    SELECT coalesce(round(1000 * percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM computed_at - ts)))::text, '–')
        || '|' || coalesce(round(1000 * percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM computed_at - ts)))::text, '–')
    FROM premium_ticks WHERE ts >= to_timestamp($start_s) AND ts < to_timestamp($end_s)")"
  IFS='|' read -r ticks full partial empty <<<"$stats"
  IFS='|' read -r d50 d99 <<<"$delay"
  for pid in "${pids[@]}"; do stop_pid "$pid"; done
  pg postgres "DROP DATABASE IF EXISTS \"$d\" WITH (FORCE)" >/dev/null 2>&1 || true
  delete_prefix "$p"

  wall=$(awk -v a="$start_ns" -v b="$end_ns" 'BEGIN {print (b - a) / 1e9}')
  pct() { awk -v d="$1" -v w="$wall" -v hz=$HZ 'BEGIN {printf "%.1f", 100 * d / hz / w}'; }
  wcpu=$(pct $((w1 - w0))); scpu=$(pct $((s1 - s0))); rcpu=$(pct $((r1 - r0)))
  box=$(awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) 'BEGIN {printf "%.0f", 100 * b / t}')
  missed=$((missed1 - missed0))
  kept=no
  if [[ "$ticks" -gt 0 && "$full" == "$ticks" && "$missed" == 0 ]] && awk -v c="$wcpu" 'BEGIN {exit !(c < 50)}'; then
    kept=yes
    BEST=$N
  fi
  ROWS+=("| $N | $((N * 4)) | $wcpu | $scpu | $rcpu | $box | $(awk -v k="$rss" 'BEGIN {printf "%.1f", k / 1024}') | $full/$ticks | $partial | $empty | $missed | $d50 / $d99 | $kept |")
  log "N=$N done: ${ROWS[-1]}"
done

echo
machine_line
echo "coin capacity: $WORKERS worker process(es), 4 venues, pairs $PREMIUM_PAIRS, ${COIN_SECS} s window per N after warm-up"
echo "CPU columns are % of ONE core over the window (the machine has $(nproc) cores; 'box' is all cores, including other engineers' work)"
echo "| coins | tickers/s | worker CPU % | sim CPU % | Redis CPU % | box busy % | worker RSS MiB | complete ticks | partial | no row | missed ticks | compute delay p50 / p99 ms | kept |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
printf '%s\n' "${ROWS[@]}"
echo "largest N kept at 1 s cadence with worker CPU < 50 % of one core: ${BEST}"
