#!/usr/bin/env bash
# Queue pickup latency (push → handler start) through the project's own worker process, with its
# wake-on-push (DESIGN §6 target: p99 ≤ 5 ms). Starts one `premium-spread worker` (cron off) on
# its own Redis prefix and database, pushes PICKUP_COUNT (1000) jobs one every 10 ms with
# queue::Enqueuer, and prints the percentiles from the job records. The worker runs with its
# default settings (poll 1 s, a safety net: pickup is the wake-on-push's), or POLL_MS if set.
# BIN and PB name other binaries (e.g. a debug build: BIN=target/debug/premium-spread
# PB=target/debug/premium-bench SKIP_BUILD=1).
set -euo pipefail
cd "$(dirname "$0")/.."
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/}"
PG="${PG_BASE:-postgres://postgres@127.0.0.1:5432}"
ID="$(date +%s)$$"
PREFIX="bench-pickup-$ID"
DB="bench_pickup_$ID"
BIN="${BIN:-target/release/premium-spread}"
PB="${PB:-target/release/premium-bench}"
[ "${SKIP_BUILD:-}" = 1 ] || cargo build --release -p premium-spread -p bench >&2
POLL_ENV=()
[ -n "${POLL_MS:-}" ] && POLL_ENV=(PREMIUM_WORKER__POLL_INTERVAL_MS="$POLL_MS")
env REDIS_URL="$REDIS_URL" REDIS_PREFIX="$PREFIX" DATABASE_URL="$PG/$DB" PREMIUM_WORKER__CRON=false \
  RUST_LOG=warn "${POLL_ENV[@]}" "$BIN" worker >/tmp/bench-pickup-worker.log 2>&1 &
W=$!
cleanup() {
  kill -TERM "$W" 2>/dev/null || true
  wait "$W" 2>/dev/null || true
  redis-cli -u "$REDIS_URL" --scan --pattern "$PREFIX:*" | xargs -r -n 500 redis-cli -u "$REDIS_URL" del >/dev/null
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
timeout 120 "$PB" worker-pickup --redis-url "$REDIS_URL" --prefix "$PREFIX" \
  --count "${PICKUP_COUNT:-1000}" --label "premium-spread worker (poll ${POLL_MS:-1000} ms + wake-on-push)"
