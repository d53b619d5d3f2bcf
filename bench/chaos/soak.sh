#!/usr/bin/env bash
# Soak: 3 worker replicas with cron for SOAK_SECS (default 600 s) against the
# simulator and the local Redis/PostgreSQL, one replica killed with SIGKILL and replaced every
# SOAK_KILL_SECS (default 60 s; 0 = no kills). The simulator answers every venue and FX source
# SOAK_LATENCY_MS late (default 300 ms; 0 = the fast variant, where fetches take milliseconds),
# and each kill comes at a random offset within a second and hits a replica with a job running
# if there is one (looked for during up to a second), so killed jobs are re-run (recovered).
# Prints PASS/FAIL with the ledger:
#   PASS: ticks=… expected=… once=… recovered=… lost=… late=… duplicated=… redone=… fenced=… kills=…
# once = done after one run, recovered = done after a re-run (runs > 1), lost = no done record
# (late tick jobs, dropped on purpose after worker.max_tick_lag_secs, are counted apart),
# duplicated = tick jobs whose body completed more than once for one attempt, counted from the
# execution ledger the replicas append to (worker.execution_ledger, on here), plus compute-premium
# ticks whose history does not match the done record; redone = tick jobs whose body completed
# twice because the process that completed it first was killed before its finish was written
# (explained, reported apart); fenced = writes of runs no longer current refused by the fence.
set -euo pipefail
cd "$(dirname "$0")/../.."
export SOAK_SECS="${SOAK_SECS:-600}" SOAK_KILL_SECS="${SOAK_KILL_SECS:-60}" \
  SOAK_LATENCY_MS="${SOAK_LATENCY_MS:-300}"
cargo test --test it -- --ignored --nocapture soak_three_replicas_with_kills_lose_nothing 2>&1 \
  | grep -E '^(PASS|FAIL)|soak:|test result'
