#!/usr/bin/env bash
# The dashboard at `/` as a browser loads it (targets: total transfer ≤ 200 KiB with
# compression, first full table ≤ 1 s).
#
# Starts `premium-spread up --sim` (release; the realistic simulated universe, WORKERS (2)
# workers) on this run's own Redis prefix and database, waits until the premium table is full
# (every row available, or the available count unchanged for FULL_STABLE_SECS), then loads the
# page in headless Chromium (`premium-bench dashboard`, over the DevTools protocol): once with an
# empty cache, then RELOADS (5) times with the cache warm. Prints the bytes transferred (Resource
# Timing `transferSize`, headers included: the page, script, style, uPlot, and the first API
# calls: the premium table, FX and job stats; the live stream is not counted) and the time from
# navigation start to the first full table on screen (the page's `table-complete` mark), each
# beside its target. Keeps a screenshot of the first load in $OUT/dashboard.png (SHOT=path
# copies it there too, e.g. SHOT=docs/dashboard.png).
#
# Env: REDIS_URL, DATABASE_URL, WORKERS, RELOADS, WARMUP_SECS, FULL_STABLE_SECS, SHOT, CHROMIUM,
# SKIP_BUILD=1.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

WORKERS="${WORKERS:-2}"
RELOADS="${RELOADS:-5}"
WARMUP_SECS="${WARMUP_SECS:-180}"
FULL_STABLE_SECS="${FULL_STABLE_SECS:-10}"
build_release
command -v "${CHROMIUM:-chromium}" >/dev/null || bash "$REPO/ops/tools.sh" >&2

SIM_PORT="$(free_port)"
API_PORT="$(free_port)"
export REDIS_PREFIX="$PREFIX" DATABASE_URL="$PG_SERVER/$DB" API_ADDR="127.0.0.1:$API_PORT"
export RUST_LOG="${RUST_LOG:-warn}"
unset PREMIUM_COINS PREMIUM_VENUES PREMIUM_PAIRS PREMIUM_SIM_URL
URL="http://$API_ADDR/api/v1/premiums"

create_db "$DB"
start_bg up "$BIN" up --sim --sim-addr "127.0.0.1:$SIM_PORT" --workers "$WORKERS"
wait_until 60 "api /health/live" http_ok "http://$API_ADDR/health/live"

log "waiting for a full table (at most ${WARMUP_SECS} s)"
wait_full_table "$URL"
log "table: $rows rows, $avail available"

machine_line | tee "$OUT/machine.txt" >&2
log "premium-bench dashboard --url http://$API_ADDR/ --reloads $RELOADS"
timeout 300 "$PB" dashboard --url "http://$API_ADDR/" --reloads "$RELOADS" \
  --screenshot "$OUT/dashboard.png" >"$OUT/dashboard.json"
if [[ -n "${SHOT:-}" ]]; then cp "$OUT/dashboard.png" "$SHOT"; fi

python3 - "$OUT/dashboard.json" "$rows" "$avail" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
rows, avail = sys.argv[2], sys.argv[3]
kib = lambda b: f"{b / 1024:.1f} KiB"
ok = lambda c: "PASS" if c else "FAIL"
t = m["transfer_bytes"]
cold, warm, wmax = m["cold_table_ms"], m["warm_table_ms_median"], m["warm_table_ms_max"]
print(f"dashboard: {m['rows']} rows on screen ({avail} of {rows} premiums available)")
print()
print("| resource | transferred | body (compressed) | body (decoded) |")
print("| --- | --- | --- | --- |")
for r in m["resources"]:
    if r["name"] == "/api/v1/premiums/stream":
        continue
    print(f"| {r['name']} | {kib(r['transfer'])} | {kib(r['encoded'])} | {kib(r['decoded'])} |")
print()
print("| what | target | measured | |")
print("| --- | --- | --- | --- |")
print(f"| total transfer, first load (empty cache) | ≤ 200 KiB | {kib(t)} (decoded {kib(m['decoded_bytes'])}; warm cache {kib(m['warm_transfer_bytes'])}) | {ok(t <= 200 * 1024)} |")
print(f"| first full table on screen, empty cache | ≤ 1 s | {cold:.0f} ms | {ok(cold is not None and cold <= 1000)} |")
if warm is not None:
    print(f"| first full table on screen, warm cache (median, max of reloads) | ≤ 1 s | {warm:.0f} ms, {wmax:.0f} ms | {ok(wmax <= 1000)} |")
print(f"| console errors | none | {len(m['console_errors'])} | {ok(not m['console_errors'])} |")
for e in m["console_errors"]:
    print(f"  {e}")
EOF
