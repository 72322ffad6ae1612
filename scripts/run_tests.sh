#!/usr/bin/env bash
# Run the whole suite with the project's venv; extra arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p test-artifacts
echo "== pytest on $(echo "${DATABASE_URL:-SQLite (default)}" | sed -E 's#(://[^:/@]+):[^@]*@#\1:***@#')"
.venv/bin/python -m pytest "$@"
rc=$?
if [ $rc -eq 5 ]; then
  echo "pytest collected no tests for this selection (exit 5); nothing ran, nothing failed."
  exit 0
fi
exit $rc
