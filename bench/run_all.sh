#!/usr/bin/env bash
# Builds the release binaries once, then runs every benchmark in sequence and prints its table.
# One RUN_ID for all: results and logs under bench/out/<RUN_ID>/<script>/; each script uses its
# own Redis prefix (bench-<RUN_ID>-<script>…) and database (bench_<RUN_ID>_<script>…), and
# removes them when it ends. A script that fails does not stop the others; the exit code says
# whether all passed through.
#
# Env: REDIS_URL, DATABASE_URL, and each script's own knobs (AGE_SECS, COIN_COUNTS, COIN_SECS,
# HTTP_SECS, JOBS, …; see bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
export RUN_ID="${RUN_ID:-$(date +%Y%m%d%H%M%S)$(printf '%04x' $((RANDOM % 65536)))}"
echo "run $RUN_ID: cargo build --release -p premium-spread -p bench" >&2
timeout 3600 cargo build --release -p premium-spread -p bench >&2
export SKIP_BUILD=1
failed=()
for s in premium_age.sh coin_capacity.sh http_load.sh premium_table.sh full_universe.sh dashboard.sh job_throughput/run.sh pickup.sh alerts.sh; do
  echo
  echo "=== bench/$s ==="
  rc=0
  timeout 3000 "bench/$s" || rc=$?
  if [[ $rc == 3 && $s == http_load.sh ]]; then
    failed+=("$s (untested: no api command)")
  elif [[ $rc != 0 ]]; then
    failed+=("$s (exit $rc)")
  fi
done
echo
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "did not complete: ${failed[*]}"
  exit 1
fi
echo "all benchmarks ran (results under bench/out/$RUN_ID/)"
