# Two commands do everything on a fresh machine with Python 3.11 and pip:
#   make demo   set up, build the CDNOW warehouse, test it, print a summary
#   make test   set up, lint, pytest, dbt build + tests
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DBT := $(BIN)/dbt
DBT_FLAGS := --profiles-dir . --project-dir .
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := False

.PHONY: setup demo build test lint pytest dbt-test test-slow benchmark clean

setup: $(STAMP)

# Idempotent: reinstalls only when the dependency files change.
$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	$(BIN)/python -c "import torch, sys; v = torch.__version__; \
		sys.exit(0 if v.startswith('2.13.0') else f'torch was replaced: {v}')"
	mkdir -p warehouse
	touch $(STAMP)

demo: setup build
	$(BIN)/python -m shopdata.summary warehouse/clv.duckdb

build: setup
	mkdir -p warehouse
	$(DBT) build $(DBT_FLAGS) --target dev

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint models

pytest: setup
	$(BIN)/python -m pytest -m "not slow"

dbt-test: setup
	mkdir -p warehouse
	rm -f warehouse/ci.duckdb
	$(DBT) build $(DBT_FLAGS) --target ci

test: lint pytest dbt-test

test-slow: setup
	$(BIN)/python -m pytest -m slow

benchmark: setup
	$(BIN)/python -m benchmarks.feature_build

clean:
	rm -rf target logs warehouse
