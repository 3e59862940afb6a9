#!/usr/bin/env bash
# `make run`: set everything up, load the demo data through the task queue, and serve the
# platform at http://127.0.0.1:$PORT with a task-queue worker beside it.
source "$(dirname "$0")/lib.sh"

PORT="${PORT:-8000}"
started=$(date +%s)
setup run
# Plain http on the loopback address: cookies cannot be Secure here.
export SECURE_COOKIES="${SECURE_COOKIES:-false}"

say "Applying migrations"
infraplan migrate --noinput -v 0
ensure_static

say "Starting the task-queue workers (logs: .local/worker.log, .local/worker-schedule.log)"
# One worker takes every queue, so loads run one at a time (a large load's memory is not doubled);
# a second takes only the default queue, so the minute tick that starts scheduled refreshes and
# fails dead runs is not kept waiting behind a long load.
"$VENV/bin/infraplan" procrastinate worker --name "worker-$(hostname)" >"$LOCAL/worker.log" 2>&1 &
worker=$!
"$VENV/bin/infraplan" procrastinate worker --name "schedule-$(hostname)" --queues default \
  >"$LOCAL/worker-schedule.log" 2>&1 &
schedule_worker=$!
web=""
stop() { kill $worker $schedule_worker $web 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop EXIT
trap 'stop; exit 0' INT TERM

say "Loading the demo data (through the queue)"
infraplan load_demo --wait --timeout 900

say "Set-up took $(( $(date +%s) - started )) s. Serving http://127.0.0.1:$PORT (Ctrl-C stops)"
"$VENV/bin/gunicorn" config.wsgi:application \
  --bind "127.0.0.1:$PORT" --workers "${WEB_CONCURRENCY:-3}" --access-logfile - --forwarded-allow-ips="" --no-control-socket &
web=$!
# Serve until any of the processes ends; then stop the others too.
wait -n "$worker" "$schedule_worker" "$web" || true
stopped="web server"
kill -0 "$worker" 2>/dev/null || stopped="task-queue worker (.local/worker.log)"
kill -0 "$schedule_worker" 2>/dev/null || stopped="schedule worker (.local/worker-schedule.log)"
die "the $stopped stopped; see the messages above"
