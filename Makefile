# One place for the commands used locally and in CI.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin
TEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print(len(os.sched_getaffinity(0)) + 1)')

.PHONY: install install-dev run demo test test-fast lint lint-beside bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

## What the server needs, for make run and make demo: cipulse and its dependencies only.
$(BIN)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

## The dev extras too (pytest, ruff, mypy, Playwright, …), for make test and make lint.
$(BIN)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(BIN)/.installed

install: $(BIN)/.installed

install-dev: $(BIN)/.installed-dev

## Serve on http://127.0.0.1:8000 with ./cipulse.db; on first start prints an API key and the
## password of the dashboard user admin@cipulse.local.
run: install
	$(BIN)/cipulse serve

## Seed ./demo.db with a generated history (200,000 runs over 90 days), a read key and the
## dashboard user demo@cipulse.local, printing the key and the password (once), then serve it.
demo: install
	@if [ ! -f demo.db ]; then \
		CIPULSE_DATABASE_URL=sqlite:///./demo.db $(BIN)/cipulse migrate && \
		CIPULSE_DATABASE_URL=sqlite:///./demo.db $(BIN)/cipulse demo seed --org demo --runs 200000 --days 90 && \
		echo "a read key for the demo organisation (shown once):" && \
		CIPULSE_DATABASE_URL=sqlite:///./demo.db $(BIN)/cipulse keys create --org demo --name demo --scope read && \
		PASSWORD=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(12))') && \
		echo "$$PASSWORD" | CIPULSE_DATABASE_URL=sqlite:///./demo.db $(BIN)/cipulse users create demo@cipulse.local --org demo --password-stdin && \
		URL=$$($(BIN)/python -c 'from cipulse.settings import Settings; print(Settings().base_url)') && \
		echo "sign in at $$URL/ as demo@cipulse.local with password $$PASSWORD (shown once)" \
		|| { rm -f demo.db demo.db-wal demo.db-shm demo.db-writer.lock; exit 1; }; \
	fi
	CIPULSE_DATABASE_URL=sqlite:///./demo.db $(BIN)/cipulse serve

## Lint, check the import layers, and run every test (PostgreSQL half when a server answers),
## in parallel: one worker per core and one more (many tests wait on a server, Chromium or
## podman they started), each with its own PostgreSQL database; work-stealing evens the tail.
## Lint runs beside the tests (mostly one core for ~25 s); its output follows theirs, and
## either failing fails the target.
test: install-dev
	@$(MAKE) --no-print-directory lint-beside PYTEST_ARGS=""

## The same without the slow tests (consistency, fuzzing, packaging): for quick iteration.
test-fast: install-dev
	@$(MAKE) --no-print-directory lint-beside PYTEST_ARGS='-m "not slow"'

lint-beside:
	@log=$$(mktemp); $(MAKE) --no-print-directory lint > $$log 2>&1 & lint=$$!; \
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS); tests=$$?; \
	wait $$lint; linted=$$?; echo "--- make lint:"; cat $$log; rm -f $$log; \
	[ $$tests -eq 0 ] && [ $$linted -eq 0 ]

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

## Ingest throughput against a bare endpoint, SQLite and PostgreSQL, 1 and 2 workers.
bench: install-dev
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache bench/results
