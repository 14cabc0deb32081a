# Two commands for users: `make run` and `make test`. Everything else here serves those two.
VENV   := .venv
PYTHON ?= python3
BIN    := $(VENV)/bin

.PHONY: run test bench

run: $(VENV)/.installed
	$(BIN)/parley serve

test: $(VENV)/.installed-test
	bash scripts/install-system-deps.sh
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/python -m parley.protocol.docs docs/protocol.md
	$(BIN)/python -m pytest

# Not part of `make test`: throughput, latency, memory and call set-up against PeerServer.
# BENCH_ARGS=--quick for a short run; see bench/README.md.
bench: $(VENV)/.installed-test
	bash scripts/install-system-deps.sh
	$(BIN)/pip install -q -r bench/requirements.txt
	$(BIN)/python bench/run.py $(BENCH_ARGS)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $(VENV)/.installed $@
