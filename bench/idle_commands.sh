#!/usr/bin/env bash
# Redis commands per second of ONE idle worker replica (cron off, no job due), per command, on a
# private redis-server started on a free port (nothing else talks to it). The worker runs with
# its default settings, or with POLL_MS (e.g. POLL_MS=10 for the old default). Counts
# `INFO commandstats` over IDLE_SECS (30) after a WARMUP_SECS (10) settle.
#   bench/idle_commands.sh                        # release build, default poll
#   SKIP_BUILD=1 BIN=target/debug/premium-spread POLL_MS=10 bench/idle_commands.sh
set -euo pipefail
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
export REDIS_URL="redis://127.0.0.1:$PORT/"
WANT_BIN="${BIN:-}"
source "$(dirname "$0")/lib.sh"
if [[ -n "$WANT_BIN" ]]; then BIN="$WANT_BIN"; [[ "$BIN" = /* ]] || BIN="$REPO/$BIN"; fi
IDLE_SECS="${IDLE_SECS:-30}"
WARMUP_SECS="${WARMUP_SECS:-10}"
[[ "${SKIP_BUILD:-0}" = 1 ]] || (cd "$REPO" && timeout 3600 cargo build --release -p premium-spread >&2)

start_bg redis redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no
wait_until 10 "private redis-server on $PORT" rcli ping
create_db "$DB"
PREFIXES=() # the private server goes with the run: nothing to delete there
env_poll=()
[[ -n "${POLL_MS:-}" ]] && env_poll=(PREMIUM_WORKER__POLL_INTERVAL_MS="$POLL_MS")
start_bg worker env REDIS_PREFIX="$PREFIX" DATABASE_URL="$PG_SERVER/$DB" PREMIUM_WORKER__CRON=false \
  RUST_LOG=warn "${env_poll[@]}" "$BIN" worker
sleep "$WARMUP_SECS"
kill -0 "$LAST_PID" || { log "the worker exited: $(tail -5 "$OUT/worker.log")"; exit 1; }
rcli config resetstat >/dev/null
sleep "$IDLE_SECS"
stats="$(rcli info commandstats | tr -d '\r')"
machine_line
echo "one idle worker replica (cron off), poll ${POLL_MS:-default} ms, ${IDLE_SECS} s on a private Redis (port $PORT):"
echo "$stats" | awk -F'[:=,]' -v secs="$IDLE_SECS" '
  /^cmdstat_/ { name = substr($1, 9); calls = $3; if (name ~ /^(config|info)/) next;
                total += calls; printf "  %-18s %8.1f /s\n", name, calls / secs }
  END { printf "  %-18s %8.1f /s  (commands run inside scripts count too)\n", "TOTAL", total / secs }' | sort -k2 -rn
