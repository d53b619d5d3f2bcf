#!/usr/bin/env bash
# History store at the full universe (issue 11): query latency of the rollup tiers through the API
# (target p99 ≤ 50 ms for `1h` over 90 days and `1m` over 7 days), bytes per stored row, disk
# per day and steady-state size under the default tiers, insert headroom.
#
# Generates, server-side (generate_series, no client round trips) into this run's own database:
# HIST_MINUTE_DAYS (90) days of 1-minute rollups and their 1-hour rollups, and HIST_RAW_HOURS
# (48) h of raw 1 s premium rows with their per-tick rows, for HIST_COINS (347) coins × 2 pairs
# (upbit-binance, bithumb-bybit): 347 × 2 = 694 rows per tick, the full simulated universe.
# HIST_COINS is the scale knob: bytes per row do not depend on it; query latency depends on it
# only through index depth (each query reads one coin's rows).
# Then starts `premium-spread api` on it (the market registry comes from `premium-bench
# premium-fill` for the coins queried), and measures with `premium-bench history-query`:
# `1h` over 90 days and `1m` over 7 days (HIST_REQUESTS (200) each, coins round-robin).
# Finally `premium-bench history-insert` writes 694-row ticks through `Store::insert_premium_rows`
# as fast as the store takes them for INSERT_SECS (20) s: rows/s sustained vs 694 produced.
#
# Env: REDIS_URL, DATABASE_URL, HIST_COINS, HIST_MINUTE_DAYS, HIST_RAW_HOURS, HIST_REQUESTS,
# INSERT_SECS, SKIP_BUILD=1. HIST_DB=<name>: generate into that database and keep it; a later
# run with the same HIST_DB and scale reuses its rows (the full universe takes ~30 min to
# generate) after applying any new migration to them; drop it by hand when done.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

HIST_COINS="${HIST_COINS:-347}"
HIST_MINUTE_DAYS="${HIST_MINUTE_DAYS:-90}"
HIST_RAW_HOURS="${HIST_RAW_HOURS:-48}"
HIST_REQUESTS="${HIST_REQUESTS:-200}"
INSERT_SECS="${INSERT_SECS:-20}"
PAIRS=2
PER_TICK=$((HIST_COINS * PAIRS))
FULL_PER_TICK=694
build_release

API_PORT="$(free_port)"
QUERY_COINS="$(seq -f 'SIM%03g' 1 "$((HIST_COINS < 5 ? HIST_COINS : 5))" | paste -sd, -)"
export REDIS_PREFIX="$PREFIX" DATABASE_URL="$PG_SERVER/$DB" API_ADDR="127.0.0.1:$API_PORT"
export PREMIUM_COINS="$QUERY_COINS" PREMIUM_PAIRS="upbit-binance,bithumb-bybit" RUST_LOG="${RUST_LOG:-warn}"
unset PREMIUM_VENUES PREMIUM_SIM_URL
GENERATE=1
if [[ -n "${HIST_DB:-}" ]]; then
  DB="$HIST_DB" DBS=() # kept: not dropped by the EXIT trap
  export DATABASE_URL="$PG_SERVER/$DB"
  if [[ "$(pg postgres "SELECT count(*) FROM pg_database WHERE datname = '$DB'")" == 1 ]]; then
    done_scale=$(pg "$DB" "SELECT scale FROM bench_generated" 2>/dev/null || true)
    want="$HIST_COINS coins, $HIST_MINUTE_DAYS d, $HIST_RAW_HOURS h"
    if [[ "$done_scale" == "$want" ]]; then
      GENERATE=0
      log "reusing $DB ($done_scale)"
    else
      log "$DB exists but holds '${done_scale:-nothing finished}', not '$want': drop it or pick another HIST_DB"
      exit 1
    fi
  else
    create_db "$DB"
  fi
else
  create_db "$DB"
fi
start_bg api "$BIN" api
API_PID=$LAST_PID
# A reused database gets the migrations it lacks first (rebuilding indexes can take minutes).
wait_until $((GENERATE == 1 ? 60 : 3600)) "api up" http_ok "http://$API_ADDR/health/live"
start_bg fill "$PB" premium-fill --secs 3600
FILL_PID=$LAST_PID

psql_big() { timeout 7200 psql "$PG_SERVER/$DB" -XAtq -v ON_ERROR_STOP=1 -c "$1"; }
secs_since() { awk -v a="$1" -v b="$(date +%s%N)" 'BEGIN {printf "%.1f", (b - a) / 1e9}'; }

# One pair's rows, in time order like the real writers (a minute's rows of every coin
# together): 1 m rollups, 1 h rollups, raw premium rows. The 1 h rows are generated like the
# minutes (same shape, one per hour), not aggregated from them: grouping ~90 M minute rows
# would take longer than the rest of the run, and the latency measured does not depend on the
# values.
gen_pair() {
  local k="$1" f="$2" t0
  t0=$(date +%s%N)
  psql_big "
  INSERT INTO premium_1m
  SELECT b, c.id, $k, $f, 60, r, r + 0.05, r - 0.05, r + 0.01, r - 0.3, r - 0.25, r - 0.35, r - 0.29, r + 0.15, r - 0.15
    FROM generate_series(date_trunc('minute', $NOW) - interval '$HIST_MINUTE_DAYS days',
                         date_trunc('minute', $NOW) - interval '1 minute', interval '1 minute') b
   CROSS JOIN (SELECT id FROM coins WHERE symbol LIKE 'SIM%') c
   CROSS JOIN LATERAL (SELECT round((1.25 + 0.5 * sin(extract(epoch FROM b) / 3600 + c.id + $k))::numeric, 8) AS r) x;"
  log "pair $k-$f: 1 m rollups in $(secs_since "$t0") s"
  t0=$(date +%s%N)
  psql_big "
  INSERT INTO premium_1h
  SELECT b, c.id, $k, $f, 3600, r, r + 0.2, r - 0.2, r + 0.01, r - 0.3, r - 0.1, r - 0.5, r - 0.29, r + 0.15, r - 0.15
    FROM generate_series(date_trunc('hour', $NOW) - interval '$HIST_MINUTE_DAYS days',
                         date_trunc('hour', $NOW), interval '1 hour') b
   CROSS JOIN (SELECT id FROM coins WHERE symbol LIKE 'SIM%') c
   CROSS JOIN LATERAL (SELECT round((1.25 + 0.5 * sin(extract(epoch FROM b) / 3600 + c.id + $k))::numeric, 8) AS r) x;"
  log "pair $k-$f: 1 h rollups in $(secs_since "$t0") s"
  t0=$(date +%s%N)
  psql_big "
  INSERT INTO premiums (ts, observed_at, coin_id, korea_venue, foreign_venue, rate, usdt_rate,
                        entry_rate, exit_rate, korea_krw, foreign_usd)
  SELECT ts, ts - interval '350 ms', c.id, $k, $f, r, r - 0.3, r + 0.15, r - 0.15,
         129555000 + c.id * 1000 + (extract(epoch FROM ts)::bigint % 997), 89277.1 + c.id
    FROM generate_series(date_trunc('second', $NOW) - interval '$HIST_RAW_HOURS hours',
                         date_trunc('second', $NOW) - interval '1 second', interval '1 second') ts
   CROSS JOIN (SELECT id FROM coins WHERE symbol LIKE 'SIM%') c
   CROSS JOIN LATERAL (SELECT round((1.25 + 0.5 * sin(extract(epoch FROM ts) / 3600 + c.id + $k) + 0.0001 * random())::numeric, 8) AS r) x;"
  log "pair $k-$f: raw rows in $(secs_since "$t0") s"
}

if [[ "$GENERATE" == 1 ]]; then
log "generating: $HIST_COINS coins × $PAIRS pairs, ${HIST_MINUTE_DAYS} d of 1 m rollups, ${HIST_RAW_HOURS} h of raw rows (one session per pair)"
NOW="'$(date -u +%Y-%m-%dT%H:%M:%SZ)'::timestamptz" # the same instant in every session
t0=$(date +%s%N)
psql_big "
  INSERT INTO coins (symbol) SELECT 'SIM' || lpad(i::text, 3, '0') FROM generate_series(1, $HIST_COINS) i
    ON CONFLICT DO NOTHING;
  SELECT history_ensure_partitions(($NOW - interval '$((HIST_MINUTE_DAYS + 1)) days')::date, ($NOW + interval '3 days')::date);
  INSERT INTO premium_ticks (ts, computed_at, usd_krw, fx_source, usdt_krw)
  SELECT ts, ts + interval '80 ms', 1432.6, 'dunamu', 1440
    FROM generate_series(date_trunc('second', $NOW) - interval '$HIST_RAW_HOURS hours',
                         date_trunc('second', $NOW) - interval '1 second', interval '1 second') ts;
  INSERT INTO tickers (observed_at, fetched_at, coin_id, venue, price)
  SELECT ts, ts + interval '40 ms', c.id, v, 129555000 + c.id * 1000 + (extract(epoch FROM ts)::bigint % 997)
    FROM generate_series(date_trunc('second', $NOW) - interval '1 hour',
                         date_trunc('second', $NOW) - interval '1 second', interval '1 second') ts
   CROSS JOIN (SELECT id FROM coins WHERE symbol LIKE 'SIM%') c CROSS JOIN generate_series(1, 5) v;" >/dev/null
gen_pair 2 3 &
p1=$!
gen_pair 1 4 &
p2=$!
wait "$p1"
wait "$p2"
psql_big "VACUUM ANALYZE" # its own statement: VACUUM cannot run inside the transaction of -c
log "generated in $(secs_since "$t0") s (with VACUUM ANALYZE)"
  [[ -z "${HIST_DB:-}" ]] || psql_big "CREATE TABLE bench_generated AS SELECT '$HIST_COINS coins, $HIST_MINUTE_DAYS d, $HIST_RAW_HOURS h'::text AS scale"
fi

# Bytes per row: every partition's table + indexes + TOAST, over its rows.
size_of() {
  pg "$DB" "SELECT coalesce(sum(pg_total_relation_size(i.inhrelid)), 0) FROM pg_inherits i WHERE i.inhparent = '$1'::regclass"
}
rows_of() { pg "$DB" "SELECT count(*) FROM $1"; }
declare -A SIZE ROWS
for t in premiums premium_ticks tickers premium_1m premium_1h; do
  SIZE[$t]=$(size_of "$t"); ROWS[$t]=$(rows_of "$t")
done
per_row() { awk -v s="${SIZE[$1]}" -v r="${ROWS[$1]}" 'BEGIN {printf "%.1f", (r > 0 ? s / r : 0)}'; }
b_raw=$(per_row premiums); b_tick=$(per_row premium_ticks); b_ticker=$(per_row tickers)
b_1m=$(per_row premium_1m); b_1h=$(per_row premium_1h)
# Raw bytes per premium row including its share of the per-tick row.
b_raw_all=$(awk -v r="$b_raw" -v t="$b_tick" -v n="$FULL_PER_TICK" 'BEGIN {printf "%.1f", r + t / n}')
gib() { awk -v b="$1" 'BEGIN {printf "%.2f", b / 1073741824}'; }
day_raw=$(awk -v b="$b_raw_all" -v n="$FULL_PER_TICK" 'BEGIN {print b * n * 86400}')
day_1m=$(awk -v b="$b_1m" -v n="$FULL_PER_TICK" 'BEGIN {print b * n * 1440}')
day_1h=$(awk -v b="$b_1h" -v n="$FULL_PER_TICK" 'BEGIN {print b * n * 24}')
day_tickers_per_k=$(awk -v b="$b_ticker" 'BEGIN {print b * 1000 * 86400}')
# Steady state under the default tiers: raw days are dropped whole once older than 48 h, so up
# to 3 UTC days (+ today's partition ahead) are on disk; minute rollups 90 days (+1 partial).
steady_raw=$(awk -v d="$day_raw" 'BEGIN {print 3 * d}')
steady_1m=$(awk -v d="$day_1m" 'BEGIN {print 91 * d}')
year_1h=$(awk -v d="$day_1h" 'BEGIN {print 365 * d}')

# Queries through the API.
now_epoch=$(date -u +%s); now_s=$(date -u -d "@$now_epoch" +%Y-%m-%dT%H:%M:%SZ)
from_90d=$(date -u -d "@$((now_epoch - HIST_MINUTE_DAYS * 86400))" +%Y-%m-%dT%H:%M:%SZ)
from_7d=$(date -u -d "@$((now_epoch - 7 * 86400))" +%Y-%m-%dT%H:%M:%SZ)
URL="http://$API_ADDR"
first_ok() { curl -fsS -m 5 -o /dev/null "$URL/api/v1/premiums/SIM001/history?interval=1h"; }
wait_until 60 "history answers (market registry filled)" first_ok
q1h="interval=1h&from=$from_90d&to=$now_s&limit=10080"
q1m="interval=1m&from=$from_7d&to=$now_s&limit=10080"
qdef="interval=1m"
r1h=$("$PB" history-query --api "$URL" --coins "$QUERY_COINS" --query "$q1h" --requests "$HIST_REQUESTS" --label "1h over ${HIST_MINUTE_DAYS} d")
r1m=$("$PB" history-query --api "$URL" --coins "$QUERY_COINS" --query "$q1m" --requests "$HIST_REQUESTS" --label "1m over 7 d")
rdef=$("$PB" history-query --api "$URL" --coins "$QUERY_COINS" --query "$qdef" --requests "$HIST_REQUESTS" --label "1m, latest 500")
rd=$("$PB" history-query --api "$URL" --coins "$QUERY_COINS" --query "interval=1d&tz=Asia/Seoul&from=$from_90d&to=$now_s" --requests "$HIST_REQUESTS" --label "1d Asia/Seoul over ${HIST_MINUTE_DAYS} d")
stop_pid "$FILL_PID"

# Insert headroom: 694-row ticks as fast as the store takes them, on a day of their own.
ins_start="$(date -u -d '+2 days' +%Y-%m-%dT00:00:00Z)"
ins=$("$PB" history-insert --rows "$FULL_PER_TICK" --secs "$INSERT_SECS" --start "$ins_start")
# Taken out again, so that a kept database (HIST_DB) measures the same next time.
psql_big "DELETE FROM premiums WHERE ts >= '$ins_start'; DELETE FROM premium_ticks WHERE ts >= '$ins_start'"
ins_rps=$(sed -E 's/.*: ([0-9]+) rows\/s.*/\1/' <<<"$ins")
headroom=$(awk -v r="$ins_rps" -v n="$FULL_PER_TICK" 'BEGIN {printf "%.1f", r / n}')

p99() { sed -E 's/.*p99 ([0-9.]+) ms.*/\1/' <<<"$1"; }
verdict() { awk -v p="$(p99 "$1")" 'BEGIN {print (p <= 50 ? "PASS" : "FAIL")}'; }

machine_line
echo "scale: $HIST_COINS coins × $PAIRS pairs = $PER_TICK rows per tick (full universe: $FULL_PER_TICK); ${HIST_MINUTE_DAYS} d of 1 m rollups (${ROWS[premium_1m]} rows), ${ROWS[premium_1h]} 1 h rows, ${HIST_RAW_HOURS} h raw (${ROWS[premiums]} premium rows, ${ROWS[premium_ticks]} ticks), ${ROWS[tickers]} ticker rows (1 h × 5 venues)"
echo
echo "| measure | target | result | verdict |"
echo "| --- | --- | --- | --- |"
echo "| \`1h\` over ${HIST_MINUTE_DAYS} d via API | p99 ≤ 50 ms | ${r1h#query } | $(verdict "$r1h") |"
echo "| \`1m\` over 7 d via API | p99 ≤ 50 ms | ${r1m#query } | $(verdict "$r1m") |"
echo "| \`1m\` without from/to (latest 500) | – | ${rdef#query } | – |"
echo "| \`1d\` tz=Asia/Seoul over ${HIST_MINUTE_DAYS} d | – | ${rd#query } | – |"
echo "| bytes per raw premium row (table + indexes) | small | $b_raw B (+ $b_tick B per tick row / $FULL_PER_TICK = $b_raw_all B) | – |"
echo "| bytes per 1 m / 1 h rollup row | – | $b_1m B / $b_1h B | – |"
echo "| bytes per ticker row | – | $b_ticker B ($(gib "$day_tickers_per_k") GiB per day per 1,000 ticker rows/s) | – |"
echo "| premium history per day at $FULL_PER_TICK rows/s | – | raw $(gib "$day_raw") GiB, 1 m $(gib "$day_1m") GiB, 1 h $(gib "$day_1h") GiB | – |"
echo "| steady state, default tiers (raw 48 h → ≤ 3 days, 1 m 90 d, 1 h kept) | – | raw ≤ $(gib "$steady_raw") GiB + 1 m $(gib "$steady_1m") GiB + 1 h $(gib "$year_1h") GiB per year (+ tickers) | – |"
echo "| insert headroom (694-row ticks, one statement each) | ≥ 694 rows/s | ${ins#insert: } | ${headroom}× ($( awk -v h="$headroom" 'BEGIN {print (h >= 1 ? "PASS" : "FAIL")}')) |"
