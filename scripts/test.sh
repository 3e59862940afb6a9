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
reuse=(--create-db)
if [ -z "${INFRAPLAN_EXTERNAL_DB:-}" ] && pg_lsclusters -h >/dev/null 2>&1 && [[ "$DATABASE_URL" == *"@127.0.0.1:$(local_port)/"* ]]; then
  say "Creating a fresh test database $TEST_DATABASE_NAME"
  recreate_test_database "$TEST_DATABASE_NAME"
  reuse=()  # exists now, with PostGIS; pytest-django keeps it (--reuse-db) and migrates it
fi

say "Running the tests"
cd "$ROOT"
# pytest exits 5 when it collects no test; that is a failure here like any other non-zero code.
"$VENV/bin/pytest" "${reuse[@]}" "$@"
