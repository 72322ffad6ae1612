#!/usr/bin/env bash
# Keep one OCR worker running (make run starts this). The worker exits after WORKER_MAX_TASKS tasks,
# which bounds its memory (an EasyOCR reader and PDF rendering grow it); this loop starts a fresh one,
# also after a crash (after 2 s). On start it queues the periodic jobs (reaper, token refresh, cleanups,
# storage report; tasks/jobs.py) that have no run waiting: the workers run them, nothing else does.
# On TERM/INT it stops its worker: TERM first (the worker finishes its current job if it can within
# WORKER_STOP_TIMEOUT seconds), then KILL; a task cut short is re-queued by the reaper later.
# Extra arguments go to db_worker.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
MAX_TASKS=${WORKER_MAX_TASKS:-50}
STOP_TIMEOUT=${WORKER_STOP_TIMEOUT:-10}
child=""

stop() {
  trap - TERM INT EXIT
  if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
    kill -TERM "$child" 2>/dev/null
    for _ in $(seq 1 $((STOP_TIMEOUT * 10))); do kill -0 "$child" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$child" 2>/dev/null
    wait "$child" 2>/dev/null
  fi
  exit 0
}
trap stop TERM INT EXIT

"$PY" manage.py periodic_jobs --schedule || echo "run_worker: could not queue the periodic jobs; going on" >&2
while true; do
  "$PY" manage.py db_worker --no-reload --max-tasks "$MAX_TASKS" "$@" &
  child=$!
  wait "$child"
  rc=$?
  child=""
  if [ $rc -ne 0 ]; then
    echo "run_worker: worker exited with status $rc; starting a new one in 2 s" >&2
    sleep 2
  fi
done
