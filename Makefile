# Everyday commands. `make install` once, then `make run` or `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/postgres

.PHONY: install run test lint typecheck migrate bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python  ## create .venv and install the service, emulators and dev tools
	$(BIN)/pip install --quiet -e '.[dev]'

run:  ## service + emulators + workers; embedded PostgreSQL when DATABASE_URL is unset
	$(BIN)/python -m app.cli run

test: lint typecheck  ## lint, type-check, then every test against a real PostgreSQL
	TEST_DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy app

migrate:  ## alembic upgrade head on DATABASE_URL
	$(BIN)/python -m app.cli migrate

bench:  ## benchmarks: print measured figures, assert nothing
	@for script in bench/[!_]*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis
