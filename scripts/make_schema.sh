#!/usr/bin/env bash
# `make schema`: regenerate database_schema.sql (from a scratch MariaDB/MySQL database that
# `migrate` builds) and docs/database.md (from the models), always for the default prefix tool_ocr_.
# Needs a server reachable as an administrator: MYSQL_ADMIN_URL (or DATABASE_URL=mysql://..., or
# root over the local socket). --output-dir DIR writes both files under DIR instead (the test uses it).
set -euo pipefail
cd "$(dirname "$0")/.."
out="."
if [ "${1:-}" = "--output-dir" ]; then out="$2"; mkdir -p "$out/docs"; fi
PY=${PYTHON:-.venv/bin/python}
"$PY" manage.py write_database_schema --prefix tool_ocr_ --output "$out/database_schema.sql"
"$PY" manage.py describe_schema --prefix tool_ocr_ --output "$out/docs/database.md"
