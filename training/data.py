"""Read training examples from the warehouse (Arrow, no CSV) and split them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from python_udfs.schema import TEXT_COLUMN

ID_COLUMNS = ("customer_id", "cutoff_date")
LABEL_COLUMNS = ("future_revenue", "future_purchases", "future_purchase_days", "churned")


@dataclass
class Examples:
    """Rows of training_examples as arrays: N rows, F numeric features."""

    customer_id: np.ndarray  # [N] str
    cutoff_date: np.ndarray  # [N] datetime64[D]
    texts: list[str]  # [N]
    numeric: np.ndarray  # [N, F] float64, NaN = missing
    revenue: np.ndarray  # [N] float64 >= 0
    churned: np.ndarray  # [N] float64 in {0, 1}
    feature_names: list[str]
    table: pa.Table  # the rows as read (for baselines that need named columns)

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, index: np.ndarray) -> Examples:
        return Examples(
            self.customer_id[index],
            self.cutoff_date[index],
            [self.texts[i] for i in index],
            self.numeric[index],
            self.revenue[index],
            self.churned[index],
            self.feature_names,
            self.table.take(pa.array(index, pa.int64())),
        )

    def column(self, name: str) -> np.ndarray:
        return self.table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)


BUILD_FEATURES = "dbt build --profiles-dir . --exclude tag:scoring  (or: make build)"


class NoTrainingDataError(ValueError):
    """The warehouse holds no usable training examples (with the cause and the fix)."""


def declared_feature_names(database: Path) -> list[str]:
    """The numeric model features declared in the dbt model `model_features`, in order."""
    try:
        table = read_table(
            database, "select feature_name from model_features order by feature_position"
        )
    except duckdb.CatalogException as error:
        raise NoTrainingDataError(
            f"{database} has no model_features table (the declared feature list): build the "
            f"features first with {BUILD_FEATURES}"
        ) from error
    names = table.column("feature_name").to_pylist()
    if not names:
        raise NoTrainingDataError(f"model_features in {database} is empty: rebuild the features")
    return names


def check_declared_features(declared: list[str], schema: pa.Schema) -> None:
    """Every declared feature must be a numeric column of training_examples."""
    missing = [n for n in declared if n not in schema.names]
    wrong = [
        n
        for n in declared
        if n in schema.names
        and not (
            pa.types.is_floating(schema.field(n).type) or pa.types.is_null(schema.field(n).type)
        )
    ]
    if missing or wrong:
        raise ValueError(
            "training_examples does not match the declared feature list (model_features): "
            + (f"missing {', '.join(missing)}" if missing else "")
            + ("; " if missing and wrong else "")
            + (f"not DOUBLE: {', '.join(wrong)}" if wrong else "")
            + f". Rebuild both with {BUILD_FEATURES}"
        )


def read_table(database: Path, sql: str) -> pa.Table:
    if not Path(database).exists():
        raise FileNotFoundError(
            f"warehouse {database} not found: build it first with `make build` (dbt build)"
        )
    with duckdb.connect(str(database), read_only=True) as con:
        return con.sql(sql).to_arrow_table()


def load_examples(database: Path, cutoffs: list[str] | None = None) -> Examples:
    """training_examples ordered by cutoff_date, customer_id (optionally some cutoffs only)."""
    where = ""
    if cutoffs:
        listed = ", ".join(f"date '{c}'" for c in cutoffs)
        where = f"where cutoff_date in ({listed})"
    names = declared_feature_names(database)
    try:
        table = read_table(
            database, f"select * from training_examples {where} order by cutoff_date, customer_id"
        )
    except duckdb.CatalogException as error:
        raise NoTrainingDataError(
            f"{database} has no training_examples table: build the features first with "
            f"{BUILD_FEATURES}"
        ) from error
    if table.num_rows == 0:
        raise NoTrainingDataError(
            f"no training examples in {database} {where}: training_examples is empty. Build the "
            f"features first with {BUILD_FEATURES}; if the warehouse has orders, the training "
            "cutoffs have no complete labels or no customer has an order before them (check "
            "the vars training_cutoffs, horizon_days and churn_horizon_days against the data's "
            "date range in the cutoffs model)"
        )
    check_declared_features(names, table.schema)
    numeric = np.column_stack(
        [table.column(n).to_numpy(zero_copy_only=False).astype(np.float64) for n in names]
    )
    revenue = table.column("future_revenue").to_numpy(zero_copy_only=False).astype(np.float64)
    if not (revenue > 0).any():
        raise NoTrainingDataError(
            f"every future_revenue label in training_examples of {database} is 0 "
            f"({table.num_rows} rows): the cutoffs have no complete labels (the label window "
            "lies after the data's last order) or no customer bought again. Move the training "
            "cutoffs earlier (var training_cutoffs) or shorten horizon_days"
        )
    return Examples(
        customer_id=np.asarray(table.column("customer_id").to_pylist(), dtype=object),
        cutoff_date=np.asarray(table.column("cutoff_date").to_pylist(), dtype="datetime64[D]"),
        texts=table.column(TEXT_COLUMN).to_pylist(),
        numeric=numeric,
        revenue=revenue,
        churned=table.column("churned").to_numpy(zero_copy_only=False).astype(np.float64),
        feature_names=names,
        table=table,
    )


def customer_fraction(customer_ids: np.ndarray, seed: int) -> np.ndarray:
    """A stable pseudo-random number in [0, 1) per customer id (hash of seed and id)."""
    return np.array(
        [
            int.from_bytes(hashlib.blake2b(f"{seed}:{c}".encode(), digest_size=8).digest()) / 2**64
            for c in customer_ids
        ]
    )


@dataclass
class Split:
    train: np.ndarray  # row indices used for gradient steps
    early_stopping: np.ndarray  # row indices used for early stopping
    test: np.ndarray  # held-out rows for the report


def split_examples(
    examples: Examples,
    protocol: str,
    seed: int,
    test_fraction: float,
    early_stopping_fraction: float,
    label_days: int = 0,
) -> Split:
    """customers: hold out a share of customers; out-of-time: hold out the latest cutoff.

    Early-stopping rows are a share of the remaining customers, so the report's rows never
    steer training. Out of time, only cutoffs whose label window (`label_days`, the longer
    horizon) ends by the held-out cutoff are used: otherwise a training label would contain
    the held-out period's purchases."""
    u = customer_fraction(examples.customer_id, seed)
    usable = np.ones(len(examples), dtype=bool)
    if protocol == "customers":
        test = u < test_fraction
    elif protocol == "out-of-time":
        latest = examples.cutoff_date.max()
        test = examples.cutoff_date == latest
        usable = examples.cutoff_date + np.timedelta64(label_days, "D") <= latest
        if not usable.any():
            raise ValueError(
                f"out-of-time validation needs a training cutoff at least {label_days} days "
                f"before the held-out one ({latest}); space the training cutoffs further apart "
                f"(training_cutoffs step_days >= {label_days}) or shorten the horizons"
            )
    else:
        raise ValueError(f"unknown validation protocol {protocol!r}")
    v = customer_fraction(examples.customer_id, seed + 1)
    early = ~test & usable & (v < early_stopping_fraction)
    train = ~test & usable & ~early
    for name, mask in (("train", train), ("early-stopping", early), ("test", test)):
        if not mask.any():
            raise ValueError(f"the {name} split is empty; use more data or other fractions")
    return Split(np.flatnonzero(train), np.flatnonzero(early), np.flatnonzero(test))


def fingerprint(examples: Examples) -> str:
    """sha256 of the rows as read (ids, cutoffs, texts, features, labels), in row order."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, examples.table.schema) as writer:
        writer.write_table(examples.table.combine_chunks())  # chunking must not matter
    return hashlib.sha256(sink.getvalue()).hexdigest()


def horizons(database: Path) -> tuple[int, int, str]:
    """(horizon_days, churn_horizon_days, text template version) recorded in the warehouse."""
    table = read_table(
        database,
        "select max(horizon_end_date - cutoff_date) as h, "
        "max(churn_horizon_end_date - cutoff_date) as ch, "
        "(select max(text_template_version) from training_examples) as v from cutoffs",
    )
    row = table.to_pylist()[0]
    if row["h"] is None or row["ch"] is None:
        raise NoTrainingDataError(
            f"the cutoffs table of {database} has no training cutoff with a label window: "
            "build the features first (dbt build --exclude tag:scoring) with training_cutoffs set"
        )
    return int(row["h"]), int(row["ch"]), str(row["v"])
