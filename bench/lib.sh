# Shared helpers of the bench scripts; sourced, not run.
#
# Sets REPO, BIN (premium-spread), PB (premium-bench), RUN_ID, PREFIX (Redis key prefix of this
# run), DB (PostgreSQL database of this run), PG_SERVER (DATABASE_URL without the database),
# OUT (folder for logs and results). `start_bg` records every process it starts; the EXIT trap
# stops them (TERM, then KILL after 10 s), deletes the run's Redis keys and drops its databases.

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$REPO/target/release/premium-spread"
PB="$REPO/target/release/premium-bench"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/}"
DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/premium_spread}"
PG_SERVER="${DATABASE_URL%/*}"
RUN_ID="${RUN_ID:-$(date +%Y%m%d%H%M%S)$(printf '%04x' $((RANDOM % 65536)))}"
SCRIPT_NAME="$(basename "$0" .sh)"
PREFIX="bench-${RUN_ID}-${SCRIPT_NAME}"
DB="bench_${RUN_ID}_${SCRIPT_NAME}"
OUT="${BENCH_OUT:-$REPO/bench/out}/${RUN_ID}/${SCRIPT_NAME}"
mkdir -p "$OUT"
BG_PIDS=()
DBS=("$DB")
PREFIXES=("$PREFIX")

log() { printf '[%s %s] %s\n' "$(date +%H:%M:%S)" "$SCRIPT_NAME" "$*" >&2; }

rcli() { timeout 30 redis-cli -u "$REDIS_URL" "$@"; }

pg() { timeout 60 psql "$PG_SERVER/${1}" -XAtq -v ON_ERROR_STOP=1 -c "$2"; }

# Builds the release binaries unless SKIP_BUILD=1 (run_all.sh builds once).
build_release() {
  if [[ "${SKIP_BUILD:-0}" != 1 || ! -x "$BIN" || ! -x "$PB" ]]; then
    log "cargo build --release -p premium-spread -p bench"
    (cd "$REPO" && timeout 3600 cargo build --release -p premium-spread -p bench >&2)
  fi
}

# start_bg NAME CMD... : runs CMD in the background, output in $OUT/NAME.log; sets LAST_PID.
start_bg() {
  local name="$1"
  shift
  "$@" >"$OUT/$name.log" 2>&1 &
  LAST_PID=$!
  BG_PIDS+=("$LAST_PID")
}

# start_workers N: N `premium-spread worker` processes (logs worker1.log …); sets WORKER_PIDS.
start_workers() {
  local i
  WORKER_PIDS=()
  for i in $(seq 1 "$1"); do
    start_bg "worker$i" "$BIN" worker
    WORKER_PIDS+=("$LAST_PID")
  done
}

# stop_pid PID: TERM, wait up to 15 s, then KILL.
stop_pid() {
  local pid="$1" i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

delete_prefix() {
  local p="$1"
  rcli --scan --pattern "${p}:*" | xargs -r -n 500 redis-cli -u "$REDIS_URL" unlink >/dev/null || true
  rcli zrange core:apalis:queues:list 0 -1 | grep "^${p}:" | xargs -r redis-cli -u "$REDIS_URL" zrem core:apalis:queues:list >/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local pid
  for pid in "${BG_PIDS[@]}"; do stop_pid "$pid"; done
  local p d
  for p in "${PREFIXES[@]}"; do delete_prefix "$p"; done
  for d in "${DBS[@]}"; do
    pg postgres "DROP DATABASE IF EXISTS \"$d\" WITH (FORCE)" 2>/dev/null || true
  done
  log "cleaned up (processes, Redis keys ${PREFIX}*, databases ${DB}*)"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# create_db NAME: creates the database up front. Two processes of this project starting at once
# on a missing database race in CREATE DATABASE and one of them exits (duplicate
# pg_database_datname_index); the benchmarks are not about that.
create_db() { pg postgres "CREATE DATABASE \"$1\"" >/dev/null; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_until TIMEOUT_SECS WHAT CMD...: runs CMD every 0.2 s until it succeeds.
wait_until() {
  local secs="$1" what="$2" i
  shift 2
  for i in $(seq 1 $((secs * 5))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  log "timed out after ${secs} s waiting for: $what"
  return 1
}

http_ok() { curl -fsS -m 2 -o /dev/null "$1"; }

# Waits (at most WARMUP_SECS) until the premium table at $1 (`GET /api/v1/premiums`) is full:
# every row available and the universe unchanged for 5 s, or the available count no longer
# growing for FULL_STABLE_SECS (some rows may stay unavailable: suspect or stale inputs).
# Sets `rows` (the universe in force, every (coin, pair)), `avail` and `warm_start`.
wait_full_table() {
  local url="$1" now r a best=-1 stable_since rows_since
  warm_start=$(date +%s) stable_since=$warm_start rows_since=$warm_start rows=0 avail=0
  while :; do
    now=$(date +%s)
    if (( now - warm_start > WARMUP_SECS )); then
      log "table not full within ${WARMUP_SECS} s (rows $rows, available $avail): measuring anyway"
      break
    fi
    if read -r r a < <(curl -fsS -m 5 "$url" 2>/dev/null | python3 -c '
import json, sys
rows = json.load(sys.stdin)["premiums"]
print(len(rows), sum(1 for r in rows if r.get("available")))' 2>/dev/null) && (( r > 0 )); then
      if (( r != rows )); then rows_since=$now; fi
      rows=$r avail=$a
      if (( a > best )); then best=$a stable_since=$now; fi
      if (( a == r && now - rows_since >= 5 )); then break; fi
      if (( now - stable_since >= FULL_STABLE_SECS && now - rows_since >= FULL_STABLE_SECS && a > 0 )); then break; fi
    fi
    sleep 1
  done
}

# CPU ticks (utime + stime, 1/100 s) of a process; 0 when it is gone.
cpu_ticks() {
  [[ -r /proc/$1/stat ]] || { echo 0; return; }
  sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

# Resident set of a process, KiB.
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# Busy and total jiffies of the whole machine (all cores).
box_jiffies() { awk '/^cpu / {busy=$2+$3+$4+$7+$8+$9; total=busy+$5+$6; print busy, total}' /proc/stat; }

redis_pid() { rcli info server | awk -F: '/^process_id/ {gsub("\r",""); print $2}'; }

machine_line() {
  printf 'machine: %s cores, %s, load average %s; Redis %s, PostgreSQL %s\n' \
    "$(nproc)" "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)" \
    "$(rcli info server | awk -F: '/^redis_version/ {gsub("\r",""); print $2}')" \
    "$(pg postgres 'SHOW server_version' 2>/dev/null | cut -d' ' -f1)"
  echo "note: shared machine (other engineers compile and test on it): figures are noisy; compare runs, not single digits."
}
