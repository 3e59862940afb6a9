#!/usr/bin/env bash
# `make test`: set everything up, lint, then run the whole suite (unit, integration with a real
# PostGIS and task-queue worker, and browser tests in headless Chromium) against a fresh
# test database. Extra arguments go to pytest.
source "$(dirname "$0")/lib.sh"

setup test

say "Linting (ruff)"
"$VENV/bin/ruff" check "$ROOT"
"$VENV/bin/ruff" format --check "$ROOT"

ensure_static
export TEST_DATABASE_NAME="${TEST_DATABASE_NAME:-test_${DB_NAME}}"
# Test processes side by side (pytest-xdist), one per core by default; 0 runs them in this one.
# Each has its own database, named by pytest-django with the process's suffix (_gw0, _gw1, ...);
# a test file runs whole in one process, so its servers and module fixtures start once.
workers="${TEST_WORKERS:-$(nproc)}"
databases=("$TEST_DATABASE_NAME")
parallel=()
if [ "$workers" -gt 0 ]; then
  databases=()
  for ((i = 0; i < workers; i++)); do databases+=("${TEST_DATABASE_NAME}_gw$i"); done
  parallel=(--numprocesses "$workers" --dist loadfile)
fi
reuse=(--create-db)
if [ -z "${INFRAPLAN_EXTERNAL_DB:-}" ] && pg_lsclusters -h >/dev/null 2>&1 && [[ "$DATABASE_URL" == *"@127.0.0.1:$(local_port)/"* ]]; then
  for database in "${databases[@]}"; do
    say "Creating a fresh test database $database"
    recreate_test_database "$database"
  done
  reuse=()  # they exist now, with PostGIS; pytest-django keeps them (--reuse-db) and migrates
fi

say "Running the tests"
cd "$ROOT"
# pytest exits 5 when it collects no test; that is a failure here like any other non-zero code.
"$VENV/bin/pytest" "${reuse[@]}" "${parallel[@]}" "$@"
