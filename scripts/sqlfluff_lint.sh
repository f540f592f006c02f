#!/usr/bin/env bash
# `sqlfluff lint "$@"` that also fails when sqlfluff skips a file: the dbt templater only warns
# ("Skipped file ...") when dbt cannot compile a model, which would let it go unlinted.
# Run by pre-commit (.pre-commit-config.yaml), hence by `make lint` and CI.
# dbt compiles against an empty warehouse, so every file is linted the same way on every
# machine: against a built warehouse, is_incremental() would switch the incremental models to
# their other branch.
set -uo pipefail
cd "$(dirname "$0")/.."
empty=$(mktemp -d)
trap 'rm -rf "$empty"' EXIT
out=$(CLV_DUCKDB_PATH="$empty/lint.duckdb" .venv/bin/sqlfluff lint "$@" 2>&1)
rc=$?
echo "$out"
if grep -q "Skipped file" <<<"$out"; then
    echo "sqlfluff skipped files it could not compile (see above): fix them, do not ignore them"
    exit 1
fi
exit $rc
