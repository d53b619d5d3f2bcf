#!/usr/bin/env bash
# Round trips per no-op job, the project's runner beside BullMQ: the commands clients sent to
# Redis (MONITOR lines from a client address; the commands scripts run inside show as `lua` and
# are not round trips) over one drain of JOBS jobs, divided by JOBS. The drains' own progress
# polls (ZCARD / the completed count) and INFO readings are left out; set-up, worker heartbeats,
# the janitor and clean-up are in (amortised over the jobs). MONITOR slows Redis, so this is a
# pass of its own: throughput and CPU come from run.sh without it.
#
# Needs a Redis of its own (nothing else's commands must be counted):
#   redis-server --port 6391 --save "" --appendonly no --daemonize yes
# Env: REDIS_PORT (required), JOBS (10000), CONFIG (processes:concurrency, 1:50),
#      PB (premium-bench, default target/release/premium-bench).
set -euo pipefail
PORT="${REDIS_PORT:?REDIS_PORT: a Redis of its own}"
JOBS="${JOBS:-10000}"
CONFIG="${CONFIG:-1:50}"
DIR="$(cd "$(dirname "$0")" && pwd)"
PB="${PB:-$DIR/../../target/release/premium-bench}"
export REDIS_URL="redis://127.0.0.1:$PORT/"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

# count NAME CMD...: runs CMD under MONITOR and prints its round trips and scripts per job.
count() {
  local name="$1"
  shift
  timeout 900 redis-cli -p "$PORT" monitor >"$OUT/$name.monitor" &
  local mon=$!
  sleep 0.5
  "$@" >"$OUT/$name.log" 2>&1 || echo "$name exited $? (log: $(tail -2 "$OUT/$name.log"))"
  sleep 0.5
  kill "$mon" 2>/dev/null || true
  wait "$mon" 2>/dev/null || true
  # A line: `<time> [<db> <addr>|lua] "<command>" ...`; the command name is case-insensitive.
  awk -v jobs="$JOBS" -v name="$name" '
    /^[0-9]/ {
      if ($3 == "lua]") next
      c = tolower($4); gsub(/"/, "", c)
      if (c == "zcard" || c == "info" || c == "monitor") next
      trips++
      if (c == "evalsha" || c == "eval" || c == "fcall") scripts++
      by[c]++
    }
    END {
      printf "%-8s %6.2f round trips/job, %5.2f of them scripts; top:", name, trips / jobs, scripts / jobs
      n = 0
      PROCINFO["sorted_in"] = "@val_num_desc"
      for (k in by) { if (n++ < 6) printf " %s %.2f", k, by[k] / jobs }
      printf "\n"
    }' "$OUT/$name.monitor"
}

echo "round trips per job over one drain of $JOBS no-op jobs ($CONFIG), Redis :$PORT"
count runner "$PB" runner-suite --prefix "rt-runner-$$" --out "$OUT/runner.jsonl" --jobs "$JOBS" \
  --configs "$CONFIG" --no-recovery
(cd "$DIR/bullmq" && count bullmq env PREFIX="rt-bull-$$" OUT="$OUT/bull.jsonl" JOBS="$JOBS" \
  LAT_SECS=0 CONFIGS="$CONFIG" node bench.mjs)
