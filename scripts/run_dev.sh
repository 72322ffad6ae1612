#!/usr/bin/env bash
# Serve Tool OCR locally: the dev auth API, one OCR worker (restarted after N tasks), the web server.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PORT=${PORT:-8000}
AUTH_PORT=${AUTH_PORT:-8765}
export EXTERNAL_AUTH_API_URL=${EXTERNAL_AUTH_API_URL:-http://127.0.0.1:$AUTH_PORT}
mkdir -p data/logs
pids=()
cleanup() { trap - EXIT INT TERM; kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

$BIN/python manage.py run_dev_auth_api --port "$AUTH_PORT" >data/logs/dev-auth.log 2>&1 &
pids+=($!)
# One OCR worker, restarted after WORKER_MAX_TASKS tasks to bound memory (see scripts/run_worker.sh).
bash scripts/run_worker.sh >>data/logs/worker.log 2>&1 &
pids+=($!)
cat <<MSG

  Tool OCR is starting on  http://127.0.0.1:$PORT/
  Demo login:   ada.lin@example.com / demo-password
  (also chen.meiling@example.com / demo-password, whose name is 陳美玲)
  Logs: data/logs/  ·  Stop with Ctrl+C

MSG
# In the background with a wait, so that a TERM (not only Ctrl+C) stops everything at once.
$BIN/python manage.py runserver "127.0.0.1:$PORT" --noreload &
pids+=($!)
wait "${pids[-1]}"
