# Two commands for users: `make run` and `make test`. Everything else here serves those two,
# plus developer targets: `make check` (fast: lint, types, layers, socket-free tests),
# `make lock` (refresh the lock files), `make bench`.
#
# Installs come from lock files with exact versions and hashes (requirements/*.txt,
# package-lock.json), so every fresh clone tests the same program; pyproject.toml keeps the
# compatible ranges for people who `pip install parley`.
VENV   := .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
NODE_BIN := node_modules/.bin
# Sans-I/O and pure tests: no sockets, no browsers, no servers (about 30 s on 2 cores).
FAST_TESTS := tests/core tests/protocol tests/project tests/test_identity.py tests/test_jwt_identity.py

.PHONY: run test check static-checks lock bench screenshots

run: $(VENV)/.installed
	$(BIN)/parley serve

test: $(VENV)/.installed-test node_modules/.installed
	bash scripts/install-system-deps.sh
	$(MAKE) --no-print-directory static-checks
	$(BIN)/python -m pytest

check: $(VENV)/.installed-test node_modules/.installed
	$(MAKE) --no-print-directory static-checks
	$(BIN)/python -m pytest -q $(FAST_TESTS)

static-checks:
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m parley.protocol.docs docs/protocol.md
	$(BIN)/python -m parley.server.api docs/openapi.json
	$(NODE_BIN)/tsc --noEmit -p tsconfig.json
	$(NODE_BIN)/eslint src/parley/static/js src/parley/static/sdk examples/chat-app/static

# The README's pictures (docs/screenshots/), taken again from real calls in Chromium; `make test`
# takes the same ones into test-artifacts/screenshots/ and leaves docs/ alone.
screenshots: $(VENV)/.installed-test node_modules/.installed
	bash scripts/install-system-deps.sh
	PARLEY_SCREENSHOTS=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest -q -p no:cacheprovider \
	  tests/e2e/test_readme_screenshots.py -k real_calls

# Rewrites the lock files from pyproject.toml and package.json (needs the registries).
lock: $(BIN)/python
	$(BIN)/pip install -q --require-hashes -r requirements/lock-tool.txt
	$(BIN)/uv pip compile pyproject.toml requirements/build.in --universal --python-version 3.11 \
	  --generate-hashes -q --custom-compile-command "make lock" -o requirements/run.txt
	$(BIN)/uv pip compile pyproject.toml requirements/build.in --extra test --universal \
	  --python-version 3.11 --generate-hashes -q --custom-compile-command "make lock" \
	  -o requirements/test.txt
	$(BIN)/uv pip compile requirements/lock-tool.in --universal --python-version 3.11 \
	  --generate-hashes -q --custom-compile-command "make lock" -o requirements/lock-tool.txt
	npm install --package-lock-only --no-audit --no-fund

# Not part of `make test`: throughput, latency, memory and call set-up against PeerServer.
# BENCH_ARGS=--quick for a short run; see bench/README.md.
bench: $(VENV)/.installed-test
	bash scripts/install-system-deps.sh
	$(BIN)/pip install -q -r bench/requirements.txt
	$(BIN)/python bench/run.py $(BENCH_ARGS)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# --no-build-isolation: Parley is built with the locked setuptools, nothing fetched unpinned.
$(VENV)/.installed: requirements/run.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --require-hashes -r requirements/run.txt
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.installed-test: requirements/test.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --require-hashes -r requirements/test.txt
	$(BIN)/pip install -q --no-deps --no-build-isolation -e '.[test]'
	touch $(VENV)/.installed $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@
