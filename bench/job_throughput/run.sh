#!/usr/bin/env bash
# No-op job throughput and queue pickup latency: apalis-redis configured like this project
# (queue::queue_config) vs BullMQ on the same Redis (target: ≥ 1.5 × BullMQ with crash
# recovery intact; pickup p99 ≤ 5 ms), plus a kill -9 crash-recovery check of the apalis
# configurations measured (lock_tasks on and off).
#
# The per-job Redis cost (round trips, commands, scripts, CPU) is read from INFO, so point
# REDIS_URL at a Redis of its own (`redis-server --port <p> --save "" --appendonly no`) for
# figures nobody else's commands pollute.
#
# Env: REDIS_URL, JOBS (20000), APALIS_CONFIGS (processes:concurrency:batch:lock,...),
# BULL_CONFIGS (processes:concurrency,...), LAT_SECS (10), SKIP_BUILD=1.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

JOBS="${JOBS:-20000}"
LAT_SECS="${LAT_SECS:-10}"
BULL_DIR="$REPO/bench/job_throughput/bullmq"
build_release
if [[ ! -d "$BULL_DIR/node_modules/bullmq" ]]; then
  log "npm install (bullmq, pinned in package.json)"
  (cd "$BULL_DIR" && timeout 600 npm install --no-audit --no-fund >&2)
fi

LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
APALIS_OUT="$OUT/apalis.jsonl"
RUNNER_OUT="$OUT/runner.jsonl"
BULL_OUT="$OUT/bullmq.jsonl"
: >"$APALIS_OUT"
: >"$RUNNER_OUT"
: >"$BULL_OUT"

PREFIXES+=("$PREFIX-apalis" "$PREFIX-runner" "$PREFIX-bull")
apalis_rc=0
if [[ "${SKIP_APALIS:-0}" != 1 ]]; then
  log "apalis-redis: recovery check, pickup latency, drains of $JOBS jobs"
  SUITE_ARGS=(--prefix "$PREFIX-apalis" --out "$APALIS_OUT" --jobs "$JOBS" --latency-secs "$LAT_SECS")
  [[ -n "${APALIS_CONFIGS:-}" ]] && SUITE_ARGS+=(--configs "$APALIS_CONFIGS")
  timeout 1500 "$PB" apalis-suite "${SUITE_ARGS[@]}" 2>"$OUT/apalis.log" || apalis_rc=$?
fi

runner_rc=0
if [[ "${SKIP_RUNNER:-0}" != 1 ]]; then
  log "project runner path: recovery check, drains of $JOBS jobs (${RUNNER_CONFIGS:-1:8,2:8,1:50,2:50})"
  timeout 900 "$PB" runner-suite --prefix "$PREFIX-runner" --out "$RUNNER_OUT" --jobs "$JOBS" \
    --configs "${RUNNER_CONFIGS:-1:8,2:8,1:50,2:50}" 2>"$OUT/runner.log" || runner_rc=$?
fi

log "BullMQ: drains of $JOBS jobs, pickup latency"
bull_rc=0
(cd "$BULL_DIR" && PREFIX="$PREFIX-bull" OUT="$BULL_OUT" JOBS="$JOBS" LAT_SECS="$LAT_SECS" \
  CONFIGS="${BULL_CONFIGS:-1:50,2:50,1:8,2:8}" timeout 900 node bench.mjs 2>"$OUT/bullmq.log") || bull_rc=$?

echo
machine_line
echo "load average at the start of the run: $LOAD_START"
echo "apalis 1.0 (apalis-redis 1.0.0) vs BullMQ $(node -p "require('$BULL_DIR/node_modules/bullmq/package.json').version") (Node $(node --version)); Redis CPU = used_cpu_user+sys delta over the drain"
"$PB" jobs-report "$APALIS_OUT" "$RUNNER_OUT" "$BULL_OUT"
echo
node "$(dirname "$0")/cost.mjs" "$RUNNER_OUT" "$BULL_OUT"
[[ $apalis_rc == 0 ]] || echo "apalis-suite exited $apalis_rc (see $OUT/apalis.log)"
[[ $runner_rc == 0 ]] || echo "runner-suite exited $runner_rc (see $OUT/runner.log)"
[[ $bull_rc == 0 ]] || echo "BullMQ script exited $bull_rc (see $OUT/bullmq.log)"
[[ $apalis_rc == 0 && $runner_rc == 0 && $bull_rc == 0 ]]
