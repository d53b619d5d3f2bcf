#!/usr/bin/env bash
# Hostile input: schemathesis (PyPI) fuzzes every operation of /openapi.json against a
# running system (`premium-spread up --sim`), with and without the admin token. Pass = no 5xx
# and no response that violates the document. Prints PASS/FAIL per run.
# `positive_data_acceptance` is left out: some rules cannot be written in JSON Schema (a coin
# must be one the deployment tracks, quantities must be positive decimals in strings), so a
# schema-valid request may rightly get a 400.
# Env: MAX_EXAMPLES (default 30), PORT (default 18080), BIN (default target/debug/premium-spread).
set -euo pipefail
cd "$(dirname "$0")/../.."
PORT="${PORT:-18080}"
BIN="${BIN:-target/debug/premium-spread}"
MAX_EXAMPLES="${MAX_EXAMPLES:-30}"
TOKEN="hostile-$(date +%s%N)"
PREFIX="hostile-$(date +%s)"
DB="ps_hostile_$(date +%s)"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/}"
PG_BASE="${PG_BASE:-postgres://postgres@127.0.0.1:5432}"

command -v schemathesis >/dev/null 2>&1 || python3 -m pip install --quiet schemathesis
[ -x "$BIN" ] || cargo build --bin premium-spread

API_ADDR="127.0.0.1:$PORT" ADMIN_TOKEN="$TOKEN" REDIS_PREFIX="$PREFIX" DATABASE_URL="$PG_BASE/$DB" \
  RUST_LOG=warn "$BIN" up --sim --workers 1 --sim-addr 127.0.0.1:0 >/tmp/hostile-up.log 2>&1 &
UP=$!
cleanup() {
  kill -INT "$UP" 2>/dev/null || true
  wait "$UP" 2>/dev/null || true
  redis-cli -u "$REDIS_URL" --scan --pattern "$PREFIX:*" | xargs -r -n 500 redis-cli -u "$REDIS_URL" del >/dev/null
  psql "$PG_BASE/postgres" -qc "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$PORT/health/live" >/dev/null 2>&1 && break; sleep 0.2; done
sleep 3 # a few ticks of data

status=0
run() {
  local name=$1; shift
  if schemathesis run "http://127.0.0.1:$PORT/openapi.json" \
      --checks all --exclude-checks positive_data_acceptance --max-examples "$MAX_EXAMPLES" --request-timeout 5 --seed 1 \
      --exclude-path /api/v1/premiums/stream --exclude-path /metrics \
      --suppress-health-check all --warnings off "$@" >"/tmp/hostile-$name.log" 2>&1; then
    echo "PASS hostile input ($name): $(grep -E '[0-9]+ generated' "/tmp/hostile-$name.log" | sed 's/^ *//'); no 5xx, every response conforms to the document"
  else
    status=1
    echo "FAIL hostile input ($name): see /tmp/hostile-$name.log"
    grep -E "Server error|Undocumented|not conform|violat|FAILED|failures" "/tmp/hostile-$name.log" | head -20 || true
  fi
}
run "no token"
run "admin token" -H "Authorization: Bearer $TOKEN"
exit $status
