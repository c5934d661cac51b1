# e-BOK: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Written after a successful `npm ci`; removed with node_modules, older than a changed lockfile.
WEB_STAMP := web/node_modules/.ebok-npm-ci
CHROMIUM  := /usr/bin/chromium
# e.g. make test PYTEST_ARGS="--ignore=tests/fault" on a machine whose RabbitMQ others use
PYTEST_ARGS ?=

.PHONY: run test web chromium lint format bench clean lock audit

# Every Python package at the version and hash requirements-dev.lock names (made by `make lock`
# from pyproject.toml's pins); then the project itself, without resolving anything again.
$(STAMP): pyproject.toml requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

## pin every Python dependency (direct and indirect) with its hashes: requirements.lock (what the
## services run with, the container image installs it) and requirements-dev.lock (and the tools)
lock: $(STAMP)
	$(BIN)/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	  --custom-compile-command "make lock" -o requirements.lock pyproject.toml
	$(BIN)/uv pip compile --quiet --generate-hashes --extra dev --python-version 3.11 \
	  --custom-compile-command "make lock" -o requirements-dev.lock pyproject.toml

## look up the locked Python dependencies in PyPI's vulnerability data (make test does it too;
## where the data cannot be reached it says so and checks nothing)
audit: $(STAMP)
	$(BIN)/python -m deploy.audit

## set up and start the whole platform with demo data (Ctrl-C stops it)
run: $(STAMP) web
	$(BIN)/python -m deploy.run_local

## build the front end into web/dist (npm ci first when node_modules is missing or stale)
web:
	@if [ ! -f web/package.json ]; then \
	  echo "make web: web/package.json does not exist yet; skipping the front end build"; \
	  exit 0; \
	fi; \
	set -e; \
	if [ ! -f $(WEB_STAMP) ] || [ web/package-lock.json -nt $(WEB_STAMP) ]; then \
	  echo "make web: npm ci"; \
	  (cd web && npm ci --no-audit --no-fund); \
	  touch $(WEB_STAMP); \
	fi; \
	echo "make web: npm run build"; \
	cd web && npm run build

## Debian's Chromium for the browser tests (Playwright's own browser downloads cannot work here)
chromium:
	@if [ -x $(CHROMIUM) ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "make chromium: installing Debian's chromium for the browser tests"; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	else \
	  echo "make chromium: $(CHROMIUM) is missing and the browser tests need it;"; \
	  echo "  install it as root: apt-get update && apt-get install -y chromium"; \
	  exit 1; \
	fi

## set up and run the whole test suite: ruff; Chromium and the front end build when missing;
## Vitest and the bundle size check; then pytest (unit, integration, e2e, browser, fault)
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m deploy.audit
	@$(MAKE) --no-print-directory chromium
	@$(MAKE) --no-print-directory web
	@if [ -f web/package.json ]; then \
	  set -e; cd web; npm test; npm run size; \
	else \
	  echo "make test: web/package.json does not exist yet; skipping Vitest and the size check"; \
	fi
	$(BIN)/python -m pytest --durations=20 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
