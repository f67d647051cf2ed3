# CommonGuard: `make run` serves the demo, `make test` runs everything. Nothing else to install
# by hand on Debian with Python 3.11 and Node 20 (system packages for tests: see .ci/run).

SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .cache/tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)

.PHONY: run test install lint types pytest bench-directory bench-fanout bench-live bench-lookup bench-taxii bench-import bench-publish-import bench-reports bench-federation bench-matching bench-dashboard clean help

help:
	@echo "make run               build, migrate, seed the demo, serve http://127.0.0.1:8000 with a worker"
	@echo "make test              lint, types, the whole test suite on SQLite and on a throwaway PostgreSQL"
	@echo "make bench-directory   directory search p95 over 30,000 organisations"
	@echo "make bench-fanout      publish to 1,700 and to 90,000 recipients: time to the last delivery"
	@echo "make bench-live        1,000 live-feed (SSE) clients: time for each to get a new alert"
	@echo "make bench-lookup      log lookup: 1,000,000 lines against 1,000,000 indicators"
	@echo "make bench-taxii       TAXII: page ATT&CK Enterprise (24,771 objects), SQLite and PostgreSQL, vs medallion"
	@echo "make bench-import      import the 51,000 URLhaus + ThreatFox indicators: objects/s, first and again"
	@echo "make bench-publish-import  publish latency alone vs during a 100,000-indicator feed import"
	@echo "make bench-reports     200 concurrent incident-report submissions: all stored with obligations, p99"
	@echo "make bench-federation  hub A to hub B: time until B serves A's alert, by pull (2 s) and by push"
	@echo "make bench-matching    mutual aid: rank 10,000 responders and 500 teams for a request, SQLite and PostgreSQL"
	@echo "make bench-dashboard   state dashboard, 1,700 local governments x 5 years: server time, map in Chromium"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

# Python dependencies from the lock file (uv.lock), into .venv, with their bytecode compiled at install:
# where PYTHONDONTWRITEBYTECODE is set, every process would otherwise compile every library it imports
# (a server's start took 2.0 s instead of 1.1 s, and a module first imported inside a request, 0.4 s more).
$(VENV)/.synced: uv.lock pyproject.toml Makefile | $(UV)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON) --quiet
	touch $@

# USWDS, htmx and axe-core from package-lock.json, copied into assets/build.
assets/node_modules/.installed: assets/package-lock.json
	cd assets && npm ci --no-audit --no-fund --loglevel=error
	touch $@

assets/build/.built: assets/node_modules/.installed assets/build.mjs $(wildcard assets/src/*)
	cd assets && node build.mjs
	touch $@

install: $(VENV)/.synced assets/build/.built

run: install
	@bash scripts/run-demo.sh

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

types: install
	COMMONGUARD_DEMO=1 $(VENV)/bin/mypy

pytest: install
	@bash scripts/run-tests.sh

test: lint types pytest

bench-directory: install
	@bash bench/directory/run.sh

bench-fanout: install
	@bash bench/fanout/run.sh

bench-live: install
	@bash bench/live/run.sh

bench-lookup: install
	@bash bench/lookup/run.sh

bench-taxii: install
	@bash bench/taxii/run.sh

clean:
	rm -rf $(VENV) $(TOOLS) assets/node_modules assets/build var/static var/static-plain

bench-import: install
	@bash bench/import/run.sh

bench-publish-import: install
	@bash bench/publish-under-import/run.sh

bench-reports: install
	@bash bench/reports/run.sh
bench-federation: install
	@bash bench/federation/run.sh
bench-matching: install
	@bash bench/matching/run.sh
bench-dashboard: install
	@bash bench/dashboard/run.sh
