# Two commands matter: `make run` and `make test`. Both create .venv when missing.
SHELL := /bin/bash
# Lambda runs Python 3.11, so 3.11 is preferred; any newer 3.x works for local runs.
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PY_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
PY_OK := $(shell $(PYTHON) -c 'import sys; print(int(sys.version_info >= (3, 11)))' 2>/dev/null)
# Each stamp names the requirement files' hash and the Python that installed them: a venv
# built by another Python (or other pins) is never taken for this one.
HASH = $(shell cat $(1) | sha256sum | cut -c1-12)
RUN_STAMP := $(VENV)/.run-py$(PY_VERSION)-$(call HASH,requirements.txt requirements-run.txt)
DEV_STAMP := $(VENV)/.dev-py$(PY_VERSION)-$(call HASH,requirements.txt requirements-run.txt requirements-dev.txt)
# Where the browser tests' Chromium is: CHROMIUM=… wins; else where the platform keeps it
# (tests/support/chromium.py looks in the same places).
CHROMIUM ?= $(firstword $(wildcard /usr/bin/chromium /usr/bin/chromium-browser /usr/lib/chromium/chromium /snap/bin/chromium /opt/homebrew/bin/chromium) $(shell command -v chromium chromium-browser 2>/dev/null))
export CHROMIUM

.PHONY: run test lint routes unit browser-deps venv clean bench bench-cpu bench-dispatch bench-coldstart python-check secrets deploy smoke replay stage-check

# One line, before anything is installed, when the Python found is too old or missing.
python-check:
	@if [ "$(PY_OK)" != 1 ]; then \
	  echo "PT Bookings needs Python 3.11 or newer, but $(or $(PYTHON),python3) is $(or $(PY_VERSION),missing): install python3.11, or run: make PYTHON=/path/to/python3.11 $(MAKECMDGOALS)"; \
	  exit 1; \
	fi

# A venv made by another Python (another version, or one since removed) is rebuilt, not
# reused: its compiled packages would not load, or would load for the wrong version.
$(VENV)/.python-$(PY_VERSION): | python-check
	@if [ -e $(VENV) ] && [ "$$($(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" != "$(PY_VERSION)" ]; then \
	  echo "Rebuilding .venv for Python $(PY_VERSION) (it was made by another Python)"; rm -rf $(VENV); \
	fi
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@touch $@

# What running needs (the app's runtime packages, chalice and the moto server) ...
$(RUN_STAMP): requirements.txt requirements-run.txt | $(VENV)/.python-$(PY_VERSION)
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements-run.txt
	@rm -f $(VENV)/.run-*; touch $@

# ... and the rest for the tests and tools.
$(DEV_STAMP): requirements.txt requirements-run.txt requirements-dev.txt | $(VENV)/.python-$(PY_VERSION)
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.dev-* $(VENV)/.run-*; touch $@ $(RUN_STAMP)

venv: $(DEV_STAMP)

# The app on an embedded DynamoDB (moto), with demo data and a printed sign-in link.
# `exec` so Ctrl-C / SIGTERM reach the Python process directly and nothing is left behind.
run: $(RUN_STAMP)
	@exec $(PY) -m infra.local_run

# ruff, then the whole pytest suite (unit, integration, functional, infra, browser), on
# TEST_WORKERS processes (pytest-xdist): each worker has its own moto and, for the browser
# tests, its own `make run` runner on a free port.
TEST_WORKERS ?= 2
test: $(DEV_STAMP) browser-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -n $(TEST_WORKERS)

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

# Per-page DynamoDB calls, items, read units and CPU for a small and a large (5-year)
# account on an in-process moto; not part of `make test` (docs/benchmarks.md).
# BENCH_RUNS measured runs per page after a warm-up (default 5).
bench: $(DEV_STAMP)
	$(PY) -m benchmarks.pages

# Where one week view's CPU goes, at ~40 and ~100 items (cProfile by layer, moto left
# out): docs/benchmarks.md, "CPU per request".
bench-cpu: $(DEV_STAMP)
	$(PY) -m benchmarks.cpu

# Dispatcher throughput against local fakes of Twilio and Meta's Graph API (0 and 50 ms
# answers): messages per second and DynamoDB calls per message (docs/benchmarks.md,
# "Dispatcher throughput"). BENCH_DISPATCH_ARGS passes options, e.g. "--messages 400".
bench-dispatch: $(DEV_STAMP)
	$(PY) -m benchmarks.dispatch $(BENCH_DISPATCH_ARGS)

# From nothing in three commands (docs/deploy.md): the stage's secrets, the deploy (the
# operator, data and email stacks, the bundle, `chalice deploy` with its state kept in S3,
# the ops stack with the alarms, access logs), then a read-only smoke test of the live URL.
# DRY_RUN=1 prints every AWS call instead of making it.
stage-check:
	@case "$(STAGE)" in dev|prod) ;; *) echo "Give the stage: make $(MAKECMDGOALS) STAGE=dev (or STAGE=prod)"; exit 1 ;; esac

secrets: $(DEV_STAMP) stage-check
	$(PY) -m infra.deploy secrets --stage $(STAGE) $(if $(DRY_RUN),--dry-run)

deploy: $(DEV_STAMP) stage-check
	$(PY) -m infra.deploy deploy --stage $(STAGE) $(if $(DRY_RUN),--dry-run) $(if $(ALARM_EMAIL),--alarm-email $(ALARM_EMAIL))

smoke: $(DEV_STAMP) stage-check
	$(PY) -m infra.deploy smoke --stage $(STAGE) $(if $(URL),--url $(URL))

# Runs the failure queue's failed scheduled runs again (docs/monitoring.md, "Replay").
replay: $(DEV_STAMP) stage-check
	$(PY) -m infra.replay --stage $(STAGE) $(if $(DRY_RUN),--dry-run) $(if $(MAX),--max $(MAX))

# app.py registers chalicelib/web/route_table.py, generated from the views' @bp.route
# lines: run after adding, moving or removing a route (tests/unit/test_route_table.py).
routes: $(DEV_STAMP)
	$(PY) -m infra.routes

# Cold start: the Lambda zip's size and `import app` ÷ importing its dependencies, from the
# staged bundle (docs/cold-start.md). BENCH_COLDSTART_ARGS passes options.
bench-coldstart: $(DEV_STAMP)
	$(PY) -m benchmarks.coldstart $(BENCH_COLDSTART_ARGS)

# Browser tests drive Debian's Chromium (Playwright cannot download its own here); their
# accessibility audit injects axe-core from npm, pinned by package-lock.json.
browser-deps:
	@if [ -n "$(CHROMIUM)" ] && [ ! -x "$(CHROMIUM)" ]; then \
	  echo "CHROMIUM=$(CHROMIUM) is not a runnable file: point it at Chromium, or unset it"; exit 1; \
	fi
	@if [ -z "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Chromium for the browser tests (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "Chromium is missing: install it (Debian/Ubuntu: sudo apt-get install chromium) or set CHROMIUM=/path/to/chromium"; exit 1; \
	  fi; \
	fi
	@if [ ! -f node_modules/axe-core/axe.min.js ]; then \
	  command -v npm >/dev/null || { echo "npm is missing: the accessibility audit needs Node.js and npm"; exit 1; }; \
	  echo "Installing axe-core for the accessibility audit (npm ci)"; \
	  npm ci --no-audit --no-fund; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
