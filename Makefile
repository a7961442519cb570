# The two commands of the README are `make run` and `make test`; CI calls `make test` through .ci/run.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup run serve test lint typecheck unit integration rig bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# First command: set up and run the demo on embedded defaults (no PostgreSQL, Redis or PBX needed).
run: setup
	$(BIN)/gps-admin demo

# The service itself, on embedded PostgreSQL/Redis unless configured, connecting to the configured Asterisk.
serve: setup
	$(BIN)/gps-admin serve

# Second command: set up everything (venv, the Asterisk rig) and pass the whole suite.
test: setup rig lint typecheck
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest -q tests/unit

integration: setup rig
	$(BIN)/pytest -q tests/integration

rig:
	scripts/asterisk-rig.sh

bench: setup
	$(BIN)/python -m bench.ingest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
