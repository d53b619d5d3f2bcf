#!/usr/bin/env bash
# Soak: 3 worker replicas with cron for SOAK_SECS (default 600 s) against the
# simulator and the local Redis/PostgreSQL, one replica killed with SIGKILL and replaced every
# SOAK_KILL_SECS (default 60 s; 0 = no kills). Prints PASS/FAIL with the ledger: jobs expected,
# run once, recovered after a kill, lost.
set -euo pipefail
cd "$(dirname "$0")/../.."
export SOAK_SECS="${SOAK_SECS:-600}" SOAK_KILL_SECS="${SOAK_KILL_SECS:-60}"
cargo test --test it -- --ignored --nocapture soak_three_replicas_with_kills_lose_nothing 2>&1 \
  | grep -E '^(PASS|FAIL)|soak:|test result'
