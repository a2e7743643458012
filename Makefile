# Two commands matter: `make run` and `make test`. Both create .venv when missing.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-12)
CHROMIUM ?= /usr/bin/chromium

.PHONY: run test lint unit browser-deps venv clean bench bench-cpu bench-dispatch

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*; touch $(STAMP)

venv: $(STAMP)

# The app on an embedded DynamoDB (moto), with demo data and a printed sign-in link.
# `exec` so Ctrl-C / SIGTERM reach the Python process directly and nothing is left behind.
run: $(STAMP)
	@exec $(PY) -m infra.local_run

# ruff, then the whole pytest suite (unit, integration, functional, infra, browser), on
# TEST_WORKERS processes (pytest-xdist): each worker has its own moto and, for the browser
# tests, its own `make run` runner on a free port.
TEST_WORKERS ?= 2
test: $(STAMP) browser-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -n $(TEST_WORKERS)

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

# Per-page DynamoDB calls, items, read units and CPU for a small and a large (5-year)
# account on an in-process moto; not part of `make test` (docs/benchmarks.md).
# BENCH_RUNS measured runs per page after a warm-up (default 5).
bench: $(STAMP)
	$(PY) -m benchmarks.pages

# Where one week view's CPU goes, at ~40 and ~100 items (cProfile by layer, moto left
# out): docs/benchmarks.md, "CPU per request".
bench-cpu: $(STAMP)
	$(PY) -m benchmarks.cpu

# Dispatcher throughput against local fakes of Twilio and Meta's Graph API (0 and 50 ms
# answers): messages per second and DynamoDB calls per message (docs/benchmarks.md,
# "Dispatcher throughput"). BENCH_DISPATCH_ARGS passes options, e.g. "--messages 400".
bench-dispatch: $(STAMP)
	$(PY) -m benchmarks.dispatch $(BENCH_DISPATCH_ARGS)

# Browser tests drive Debian's Chromium (Playwright cannot download its own here); their
# accessibility audit injects axe-core from npm, pinned by package-lock.json.
browser-deps:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Chromium for the browser tests (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "Chromium is missing: run 'sudo apt-get install chromium' (browser tests need it)"; exit 1; \
	  fi; \
	fi
	@if [ ! -f node_modules/axe-core/axe.min.js ]; then \
	  command -v npm >/dev/null || { echo "npm is missing: the accessibility audit needs Node.js and npm"; exit 1; }; \
	  echo "Installing axe-core for the accessibility audit (npm ci)"; \
	  npm ci --no-audit --no-fund; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
