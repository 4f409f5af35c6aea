# Everyday commands. On a fresh clone `make run` or `make test` is the first command: both
# create .venv and install the service, the emulators and the dev tools when needed (once;
# again only after pyproject.toml changes).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Stamp of the last successful install: newer than pyproject.toml means nothing to do.
INSTALLED := $(VENV)/.installed

.PHONY: install run test lint typecheck migrate bench screenshot clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(INSTALLED)  ## create .venv and install the service, emulators and dev tools

run: $(INSTALLED)  ## service + emulators + workers; embedded PostgreSQL when DATABASE_URL is unset
	$(BIN)/python -m app.cli run

# The test database: TEST_DATABASE_URL when set, else TEST_DEFAULT_DATABASE_URL's server
# (default 127.0.0.1:5432) when it answers, else an embedded PostgreSQL (tests/conftest.py).
test: lint typecheck  ## lint, type-check, then every test (browser tests need Chromium)
	$(BIN)/pytest

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(INSTALLED)
	$(BIN)/mypy app

migrate: $(INSTALLED)  ## alembic upgrade head on DATABASE_URL
	$(BIN)/python -m app.cli migrate

bench: $(INSTALLED)  ## benchmarks: print measured figures, assert nothing
	@for script in bench/[!_]*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

screenshot: $(INSTALLED)  ## docs/sidebar-preview.png from a running `make run` (needs Chromium)
	$(BIN)/python scripts/sidebar_screenshot.py

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis
