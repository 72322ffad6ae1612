#!/usr/bin/env bash
# Run the whole suite with the project's venv; extra arguments go to pytest.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p test-artifacts
echo "== pytest on $(echo "${DATABASE_URL:-SQLite (default)}" | sed -E 's#(://[^:/@]+):[^@]*@#\1:***@#')"
# The import contracts first (.importlinter, docs/architecture.md): a broken layer fails before any test runs.
if ! out=$(.venv/bin/lint-imports --no-cache --no-logo 2>&1); then
  echo "$out"
  echo "lint-imports: an import breaks the contracts in .importlinter (above); no test was run."
  exit 1
fi
echo "$out" | grep -E "^Contracts:"
.venv/bin/python -m pytest "$@"
rc=$?
if [ $rc -eq 5 ]; then
  echo "pytest collected no tests for this selection (exit 5); nothing ran, nothing failed."
  exit 0
fi
exit $rc
