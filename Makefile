.PHONY: run test lint format

# Each target does all of its own set-up (system packages, virtualenv, assets, database).
run:
	@bash scripts/run.sh

test:
	@bash scripts/test.sh

lint:
	@.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	@.venv/bin/ruff format . && .venv/bin/ruff check --fix .
