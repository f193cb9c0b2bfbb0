# One place for the commands used locally and in CI.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: install run test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

## Serve on http://127.0.0.1:8000 with ./cipulse.db; prints an API key on first start.
run: install
	$(BIN)/cipulse serve

## Lint, check the import layers, and run every test (PostgreSQL half when a server answers).
test: install lint
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

## Ingest throughput against a bare endpoint, SQLite and PostgreSQL, 1 and 2 workers.
bench: install
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache bench/results
