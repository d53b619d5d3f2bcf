#!/usr/bin/env bash
# Premium alerts: crossing → webhook receiver latency (target p99 ≤ 1.5 s) and delivery
# throughput with 1,000 rules firing at once.
#
# Starts the simulator (basic shape, no price noise), WORKERS (2) worker processes and the API on
# this run's own Redis prefix and database, and a webhook receiver (Python, in this script) that
# stamps every request on arrival. Then:
#
# 1. Latency: one rule (BTC upbit-binance rate above 2.5, cooldown 0), CROSSINGS (30) times:
#    premium to 3.0 → wait for the webhook → premium back to 1.5 → wait until the rule re-armed.
#    Latency = arrival − the start of the tick whose premium crossed (the firing's `tick`), and
#    arrival − the firing's `at` (when compute-premium computed the crossing premium).
# 2. Throughput: RULES (1000) rules on BTC with the same threshold, premium to 3.0 once: time
#    from the crossing tick to the last of the 1,000 webhooks, deliveries per second between the
#    first and the last, and whether every rule was delivered exactly once.
#
# Env: REDIS_URL, DATABASE_URL (server part), WORKERS, CROSSINGS, RULES, SKIP_BUILD=1,
# BENCH_PROFILE=debug (use target/debug, built here if needed, instead of a release build).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

WORKERS="${WORKERS:-2}"
CROSSINGS="${CROSSINGS:-30}"
RULES="${RULES:-1000}"
if [[ "${BENCH_PROFILE:-release}" == debug ]]; then
  BIN="$REPO/target/debug/premium-spread"
  [[ "${SKIP_BUILD:-0}" == 1 && -x "$BIN" ]] || (cd "$REPO" && cargo build -p premium-spread >&2)
else
  build_release
fi

SIM_PORT="$(free_port)"
API_PORT="$(free_port)"
HOOK_PORT="$(free_port)"
ADMIN="bench-$RUN_ID"
export REDIS_PREFIX="$PREFIX" DATABASE_URL="$PG_SERVER/$DB" PREMIUM_SIM_URL="http://127.0.0.1:$SIM_PORT"
export RUST_LOG="${RUST_LOG:-warn}" ADMIN_TOKEN="$ADMIN" API_ADDR="127.0.0.1:$API_PORT"
export PREMIUM_ALERTS__SECRET_KEY="$(python3 -c 'import os,base64; print(base64.b64encode(os.urandom(32)).decode())')"
export PREMIUM_COINS="BTC,ETH,XRP,SOL,DOGE"
unset PREMIUM_VENUES PREMIUM_PAIRS

create_db "$DB"
start_bg sim "$BIN" sim --addr "127.0.0.1:$SIM_PORT" --seed 1 --basic
wait_until 30 "simulator" http_ok "$PREMIUM_SIM_URL/_sim/health"
curl -fsS -m 5 -X POST -H 'content-type: application/json' \
  -d '{"noise_pct":"0","premium_pct":"1.5"}' "$PREMIUM_SIM_URL/_sim/config" >/dev/null
start_workers "$WORKERS"
start_bg api "$BIN" api
wait_until 60 "api /health/live" http_ok "http://$API_ADDR/health/live"

machine_line
echo "build: ${BENCH_PROFILE:-release}; workers: $WORKERS"
timeout 900 python3 - "$HOOK_PORT" "http://$API_ADDR" "$ADMIN" "$PREMIUM_SIM_URL" "$CROSSINGS" "$RULES" "$REDIS_URL" "$PREFIX" <<'PY'
import base64, datetime, json, os, subprocess, sys, threading, time, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, api, admin, sim, crossings, rules, redis_url, prefix = sys.argv[1:9]
port, crossings, rules = int(port), int(crossings), int(rules)
got, lock = [], threading.Lock()

class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        t = time.time()
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        with lock:
            got.append((t, self.headers.get("webhook-id"), json.loads(body)["data"]))
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
    def log_message(self, *a): pass

ThreadingHTTPServer.request_queue_size = 1024
srv = ThreadingHTTPServer(("127.0.0.1", port), Hook)
threading.Thread(target=srv.serve_forever, daemon=True).start()

def call(method, url, body=None, token=None):
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None)
    req.add_header("content-type", "application/json")
    if token: req.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")

def premium(p): call("POST", f"{sim}/_sim/config", {"premium_pct": p})
def btc_rate():
    try: return float(call("GET", f"{api}/api/v1/premiums/BTC?korea=upbit&foreign=binance")["rate"])
    except Exception: return None
def wait(what, cond, secs=60):
    end = time.time() + secs
    while time.time() < end:
        if cond(): return
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")
def armed(rule):
    out = subprocess.run(["redis-cli", "-u", redis_url, "hget", f"{prefix}:alert:{rule}", "BTC:armed"], capture_output=True, text=True).stdout.strip()
    return out == "1"
def secret(): return "whsec_" + base64.b64encode(os.urandom(32)).decode()
def rule(cooldown=0):
    return call("POST", f"{api}/api/v1/alerts", {"coin": "BTC", "pair": "upbit-binance", "metric": "rate",
        "op": "above", "threshold": "2.5", "cooldown": cooldown,
        "target": {"webhook": {"url": f"http://127.0.0.1:{port}/hook", "secret": secret()}}}, admin)["id"]
def pct(xs, q):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]

wait("a BTC premium", lambda: (r := btc_rate()) is not None and r < 2.0, 120)
r1 = rule()
wait("the rule to be armed", lambda: armed(r1))
lat_at = []
for i in range(crossings):
    premium("3.0")
    wait(f"webhook {i + 1}", lambda: len(got) > i)
    t, _, d = got[i]
    at = datetime.datetime.fromisoformat(d["at"].replace("Z", "+00:00")).timestamp()
    lat_at.append((t - at) * 1000)
    premium("1.5")
    wait("the rule to re-arm", lambda: armed(r1))
# the tick of each firing is its `at` second (compute-premium runs at the start of its tick)
ticks = [(g[0] - int(datetime.datetime.fromisoformat(g[2]["at"].replace("Z", "+00:00")).timestamp())) * 1000 for g in got[:crossings]]
print()
print(f"| crossing → webhook received ({crossings} crossings, 1 rule) | p50 ms | p99 ms | max ms |")
print("| --- | ---: | ---: | ---: |")
print(f"| from the start of the crossing tick | {pct(ticks, .5):.0f} | {pct(ticks, .99):.0f} | {max(ticks):.0f} |")
print(f"| from compute-premium's computation (`at`) | {pct(lat_at, .5):.0f} | {pct(lat_at, .99):.0f} | {max(lat_at):.0f} |")
print("target: p99 ≤ 1500 ms from the crossing tick")

call("DELETE", f"{api}/api/v1/alerts/{r1}", token=admin)
t0 = time.time()
ids = [rule() for _ in range(rules)]
print(f"\n{rules} rules created in {time.time() - t0:.1f} s")
wait("every rule armed", lambda: armed(ids[-1]) and armed(ids[0]), 60)
with lock: got.clear()
premium("3.0")
wait(f"{rules} webhooks", lambda: len(got) >= rules, 600)
time.sleep(2)
with lock: snap = list(got)
first, last = min(g[0] for g in snap), max(g[0] for g in snap)
tick = min(int(datetime.datetime.fromisoformat(g[2]["at"].replace("Z", "+00:00")).timestamp()) for g in snap)
distinct = len({g[1] for g in snap}); rules_hit = len({g[2]["rule_id"] for g in snap})
print(f"| {rules} rules firing at once | value |")
print("| --- | ---: |")
print(f"| webhooks received / distinct ids / rules | {len(snap)} / {distinct} / {rules_hit} |")
print(f"| crossing tick → first webhook | {(first - tick) * 1000:.0f} ms |")
print(f"| crossing tick → last webhook | {(last - tick) * 1000:.0f} ms |")
print(f"| throughput (first → last) | {len(snap) / max(last - first, 1e-3):.0f} deliveries/s |")
PY
