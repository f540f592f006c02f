#!/usr/bin/env bash
# Full fine-tuning vs head mode on a GPU for the two real datasets of issue 7, with the
# benchmark protocol (50/50 customer split, fused + numeric-only + text-only variants, GBM and
# BG/NBD+Gamma-Gamma baselines, paired-bootstrap intervals). Writes <dataset>-<mode>.md/.json
# into OUT. The warehouses come from `make benchmark-cdnow` / `make benchmark-completejourney`
# (any DuckDB file with training_examples, cutoffs and model_features will do).
#
#   benchmarks/gpu_finetune.sh OUT [CDNOW_DB] [COMPLETEJOURNEY_DB]
#   BASE_MODEL=/path/to/checkpoint benchmarks/gpu_finetune.sh OUT   # another local encoder
set -euo pipefail
out=${1:?usage: gpu_finetune.sh OUT [CDNOW_DB] [COMPLETEJOURNEY_DB]}
cdnow=${2:-benchmarks/out/cdnow/warehouse.duckdb}
cj=${3:-benchmarks/out/completejourney/warehouse.duckdb}
python=${PYTHON:-python3}
mkdir -p "$out"
work=$(mktemp -d)

run() {
    local name=$1 db=$2 mode=$3
    shift 3
    echo "== $name $mode"
    "$python" -m training --database "$db" ${BASE_MODEL:+--base-model "$BASE_MODEL"} \
        --device cuda --mode "$mode" --validation customers --test-fraction 0.5 \
        --variants fused,numeric,text --no-progress \
        --output-dir "$work/$name-$mode/artifacts" --report-dir "$work/$name-$mode" "$@" 2>&1 \
        | grep -E "Running training|examples/s|best_epoch|refit epoch|wins on|behaviour text" || true
    cp "$work/$name-$mode/report.md" "$out/$name-$mode.md"
    cp "$work/$name-$mode/report.json" "$out/$name-$mode.json"
}

run cdnow "$cdnow" full --epochs 10 --patience 3 --batch-size 128
run completejourney "$cj" full --epochs 10 --patience 3 --batch-size 128
run cdnow "$cdnow" head
run completejourney "$cj" head
