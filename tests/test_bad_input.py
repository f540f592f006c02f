"""Bad raw input ends in a quarantine row with a reason, or in a clear error: never lost."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import run_dbt, token_counts

LONG_REVIEW = (
    "Très bien 😀 日本語 — mail me at jane.doe@example.com or call +1 (555) 010-0199. "
    + "great value " * 500
)

RAW = {
    "customers": (
        ["customer_id", "signed_up_at", "country", "acquisition_channel"],
        [
            ["c1", "2023-12-01", "DE", "email"],
            ["c2", "2023-12-02 10:00:00", "", ""],
            ["c3", "", "fr", "organic"],
            ["", "2023-12-01", "de", "email"],
            ["c1", "2023-12-05", "de", "paid"],
            ["c4", "last tuesday", "de", "email"],
            ["c5", "2999-01-01", "de", "email"],
            ["c6", "-infinity", "de", "email"],
        ],
    ),
    "orders": (
        ["order_id", "customer_id", "ordered_at", "order_total", "status"],
        [
            ["o1", "c1", "2024-01-05", "10.00", "completed"],
            ["o2", "c1", "2024-02-01T09:30:00", "25.50", "Returned"],
            ["o3", "c2", "2024-02-03 12:00:00", "30", "cancelled"],
            ["o14", "c3", "2024-02-02", "0", "completed"],
            ["", "c1", "2024-01-06", "1", "completed"],
            ["o4", "", "2024-01-06", "1", "completed"],
            ["o5", "c1", "not a date", "1", "completed"],
            ["o6", "c1", "", "1", "completed"],
            ["o7", "c1", "2999-01-01", "1", "completed"],
            ["o8", "c1", "2024-01-06", "abc", "completed"],
            ["o9", "c1", "2024-01-06", "NaN", "completed"],
            ["o10", "c1", "2024-01-06", "inf", "completed"],
            ["o11", "c1", "2024-01-06", "-5", "completed"],
            ["o12", "c1", "2024-01-06", "5", "shipped"],
            ["o13", "c999", "2024-01-06", "5", "completed"],
            ["o1", "c1", "2024-01-05", "10.00", "completed"],
            ["o15", "c1", "-infinity", "1", "completed"],
            ["o16", "c1", "1850-01-01", "1", "completed"],
            ["o17", "c4", "2024-01-10", "7", "completed"],
        ],
    ),
    "order_items": (
        ["order_id", "product_id", "quantity", "unit_price"],
        [
            ["o1", "p1", "1", "10"],
            ["o1", "p2", "0", "5"],
            ["o1", "p3", "1", "-1"],
            ["o404", "p1", "1", "1"],
            ["o1", "p1", "1", "10"],
            ["o2", "p1", "x", "1"],
            ["o14", "p1", "1e19", "1"],
        ],
    ),
    "refunds": (
        ["refund_id", "customer_id", "refunded_at", "amount", "order_id", "reason"],
        [
            ["r1", "c1", "2024-01-10", "4", "o1", "damaged"],
            ["r2", "c1", "2024-02-05", "3", "o2", ""],
            ["r3", " c1 ", " 2024-01-12 ", "2.5", "", "goodwill"],
            ["", "c1", "2024-01-10", "1", "", ""],
            ["r4", "", "2024-01-10", "1", "", ""],
            ["r5", "c1", "yesterday", "1", "", ""],
            ["r6", "c1", "", "1", "", ""],
            ["r7", "c1", "2999-01-01", "1", "", ""],
            ["r8", "c1", "-infinity", "1", "", ""],
            ["r9", "c1", "2024-01-10", "lots", "", ""],
            ["r10", "c1", "2024-01-10", "", "", ""],
            ["r11", "c1", "2024-01-10", "NaN", "", ""],
            ["r12", "c1", "2024-01-10", "-3", "", ""],
            ["r13", "c999", "2024-01-10", "1", "", ""],
            ["r14", "c1", "2024-01-10", "1", "o404", ""],
            ["r15", "c2", "2024-02-10", "1", "o1", ""],
            ["r16", "c1", "2024-01-01", "1", "o1", ""],
            ["r1", "c1", "2024-01-11", "4", "o1", "sent twice"],
            ["r17", "c1", "2024-01-10", "1e15", "", ""],
        ],
    ),
    "products": (["product_id", "product_name", "category"], []),
    "reviews": (
        ["customer_id", "product_id", "reviewed_at", "rating", "review_text"],
        [
            ["c1", "p1", "2024-01-20", "4", LONG_REVIEW],
            ["c1", "p2", "2024-01-21", "7", "too many stars"],
            ["c2", "p2", "2024-01-21", "five", "words, not digits"],
            ["c999", "p2", "2024-01-21", "3", "who am i"],
        ],
    ),
}

EXPECTED_REJECTIONS = {
    "stg_customers_rejected": {
        "null_customer_id": 1,
        "duplicate_customer_id": 1,
        "unparseable_signed_up_at": 1,
        "future_signed_up_at": 1,
        "out_of_range_signed_up_at": 1,
    },
    "stg_orders_rejected": {
        "null_order_id": 1,
        "null_customer_id": 1,
        "unparseable_ordered_at": 1,
        "null_ordered_at": 1,
        "out_of_range_ordered_at": 2,
        "future_ordered_at": 1,
        "unparseable_order_total": 1,
        "non_finite_order_total": 2,
        "negative_order_total": 1,
        "invalid_status": 1,
        "unknown_customer": 1,
        "duplicate_order_id": 1,
    },
    "stg_order_items_rejected": {
        "invalid_quantity": 2,
        "negative_unit_price": 1,
        "unknown_order": 1,
        "unparseable_quantity": 1,
    },
    "stg_refunds_rejected": {
        "null_refund_id": 1,
        "null_customer_id": 1,
        "unparseable_refunded_at": 1,
        "null_refunded_at": 1,
        "future_refunded_at": 1,
        "out_of_range_refunded_at": 1,
        "unparseable_amount": 1,
        "null_amount": 1,
        "non_finite_amount": 1,
        "negative_amount": 1,
        "implausible_amount": 1,
        "unknown_customer": 1,
        "unknown_order": 1,
        "order_customer_mismatch": 1,
        "refund_before_order": 1,
        "duplicate_refund_id": 1,
    },
    "stg_products_rejected": {},
    "stg_events_rejected": {},
    "stg_reviews_rejected": {
        "rating_out_of_range": 1,
        "unparseable_rating": 1,
        "unknown_customer": 1,
    },
}


def write_raw(folder: Path, tables: dict[str, tuple[list[str], list[list[str]]]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (header, rows) in tables.items():
        with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)
    return folder


@pytest.fixture(scope="module")
def dirty(tmp_path_factory):
    work = tmp_path_factory.mktemp("dirty")
    run = run_dbt(work, write_raw(work / "raw", RAW), extra_vars={"training_cutoffs": []})
    assert run.returncode == 0, run.output[-5000:]
    return run


@pytest.mark.parametrize("model", sorted(EXPECTED_REJECTIONS))
def test_each_bad_row_is_quarantined_with_its_reason(dirty, model):
    reasons = Counter(reason for (reason,) in dirty.query(f"select rejection_reason from {model}"))
    assert reasons == Counter(EXPECTED_REJECTIONS[model])


def test_clean_rows_survive_and_nothing_is_lost(dirty):
    assert dirty.query("select order_id, status, net_revenue from stg_orders order by 1") == [
        ("o1", "completed", 10.0),
        ("o14", "completed", 0.0),
        ("o17", "completed", 7.0),
        ("o2", "returned", 0.0),
        ("o3", "cancelled", 0.0),
    ]
    for name, (_, rows) in RAW.items():
        # Repeated product lines are merged into one staged row: count the raw lines.
        counted = "sum(raw_lines)" if name == "order_items" else "count(*)"
        clean = dirty.scalar(f"select coalesce({counted}, 0) from stg_{name}")
        rejected = dirty.scalar(f"select count(*) from stg_{name}_rejected")
        assert clean + rejected == len(rows), name
    assert dirty.query("select country, acquisition_channel from stg_customers order by 1") == [
        ("de", "email"),
        ("fr", "organic"),
        ("unknown", "unknown"),
    ]


def test_quarantine_keeps_the_raw_text(dirty):
    assert dirty.query(
        "select order_id, ordered_at, order_total from stg_orders_rejected "
        "where rejection_reason in ('unparseable_ordered_at', 'unparseable_order_total') "
        "order by 1"
    ) == [("o5", "not a date", "1"), ("o8", "2024-01-06", "abc")]


def test_long_non_ascii_review_becomes_short_pii_free_text(dirty, minilm_tokenizer):
    (text,) = dirty.query("select behaviour_text from customer_features where customer_id = 'c1'")[
        0
    ]
    assert "rated four stars: tres bien mail me or call." in text
    assert "@" not in text and "555" not in text and "example" not in text
    assert text.isascii()
    assert token_counts(minilm_tokenizer, [text])[0] <= 64


def test_customers_with_only_returns_or_cancellations_are_featured(dirty):
    assert dirty.query(
        "select customer_id, frequency, orders, monetary_total, lifecycle_stage "
        "from customer_features order by 1"
    ) == [
        ("c1", 1.0, 2.0, 10.0, "new"),
        ("c2", 0.0, 1.0, 0.0, "new"),
        ("c3", 1.0, 1.0, 0.0, "new"),
        ("c4", 1.0, 1.0, 7.0, "new"),
    ]


def test_missing_required_table_is_a_clear_error(tmp_path):
    raw = write_raw(tmp_path / "raw", {"customers": RAW["customers"]})
    run = run_dbt(tmp_path, raw)
    assert run.returncode != 0
    assert "Required raw table 'orders' not found" in run.output


def test_missing_required_column_is_a_clear_error(tmp_path):
    header, rows = RAW["orders"]
    raw = write_raw(tmp_path / "raw", {"orders": (header[:-1], [row[:-1] for row in rows])})
    run = run_dbt(tmp_path, raw)
    assert run.returncode != 0
    assert "lacks required column(s): status" in run.output


def test_training_cutoff_without_complete_labels_fails_the_build(tmp_path):
    raw = write_raw(tmp_path / "raw", {"orders": RAW["orders"]})
    run = run_dbt(tmp_path, raw, extra_vars={"training_cutoffs": ["2024-01-15"]})
    assert run.returncode != 0
    assert "has_complete_labels" in run.output


def test_repeated_product_lines_in_an_order_are_summed_not_rejected(dirty):
    assert dirty.query(
        "select order_id, product_id, quantity, unit_price, raw_lines from stg_order_items"
    ) == [("o1", "p1", 2, 10.0, 2)]


def test_refunds_combine_with_status_and_are_seen_only_once_issued(dirty):
    """r1 refunds part of completed o1; r2 refunds o2, already returned (no money twice); r3
    has no order. At as_of_date (2024-02-04) r2 is not issued yet."""
    assert dirty.query(
        "select refund_id, customer_id, refunded_at, refund_effect, effective_amount "
        "from stg_refunds order by 1"
    ) == [
        ("r1", "c1", dt.datetime(2024, 1, 10), "applied", 4.0),
        ("r2", "c1", dt.datetime(2024, 2, 5), "order_already_returned", 0.0),
        ("r3", "c1", dt.datetime(2024, 1, 12), "unlinked", 2.5),
    ]
    assert dirty.query(
        "select customer_id, monetary_total, refunds, refunded_amount, net_monetary_total "
        "from customer_rfm inner join cutoffs using (cutoff_date) "
        "where is_scoring_cutoff and customer_id = 'c1'"
    ) == [("c1", 10.0, 2, 6.5, 3.5)]


def test_empty_orders_file_fails_the_build_with_the_fix(tmp_path):
    header, _ = RAW["orders"]
    run = run_dbt(tmp_path, write_raw(tmp_path / "raw", {"orders": (header, [])}))
    assert run.returncode != 0
    assert "stg_orders is empty" in run.output
    assert "stg_orders_rejected" in run.output


def test_every_order_rejected_fails_the_build_with_the_fix(tmp_path):
    header, rows = RAW["orders"]
    rejected = [row for row in rows if row[0] in ("o5", "o6", "o8", "o11", "o12")]
    run = run_dbt(tmp_path, write_raw(tmp_path / "raw", {"orders": (header, rejected)}))
    assert run.returncode != 0
    assert "stg_orders is empty" in run.output


def test_as_of_date_before_every_order_fails_the_build(tmp_path):
    raw = write_raw(tmp_path / "raw", {"orders": RAW["orders"]})
    run = run_dbt(tmp_path, raw, extra_vars={"as_of_date": "2020-01-01", "training_cutoffs": []})
    assert run.returncode != 0
    assert "customer_rfm has no customer at as_of_date" in run.output


def test_selecting_upstream_of_training_examples_builds_on_a_fresh_warehouse(tmp_path):
    """Eager indirect selection must not run a reconcile test before what it reads exists."""
    raw = write_raw(tmp_path / "raw", RAW)
    for target in ("+training_examples", "+customer_features"):
        run = run_dbt(
            tmp_path / target.strip("+"),
            raw,
            extra_vars={"training_cutoffs": []},
            command=("build", "--select", target),
        )
        assert run.returncode == 0, run.output[-3000:]
        assert "reconciles_with_raw" in run.output


def _write_bytes(path: Path, lines: list[str], endings: list[str]) -> None:
    path.write_bytes(
        "".join(line + end for line, end in zip(lines, endings, strict=True)).encode("utf-8")
    )


def test_mixed_line_endings_padded_timestamps_and_a_huge_token(tmp_path):
    """An optional CSV with LF and CRLF lines builds; padded timestamps are trimmed like ids;
    a review made of one 1 MB token is stored cut to 10,000 characters, flagged."""
    raw = write_raw(tmp_path / "raw", {"orders": RAW["orders"], "customers": RAW["customers"]})
    _write_bytes(
        raw / "reviews.csv",
        [
            "customer_id,product_id,reviewed_at,rating,review_text",
            "c1,p1,2024-01-20,4,fine",
            "c2,p1,  2024-01-21 10:00:00 ,5,crlf line",
            "c3,p2,2024-01-22,3," + "x" * 1_000_000,
        ],
        ["\r\n", "\n", "\r\n", "\n"],
    )
    run = run_dbt(tmp_path, raw, command=("build", "--select", "staging"))
    assert run.returncode == 0, run.output[-3000:]
    assert run.scalar("select count(*) from stg_reviews_rejected") == 0
    assert run.query(
        "select customer_id, reviewed_at, left(review_text, 9), length(review_text), "
        "is_review_text_cut from stg_reviews order by 1"
    ) == [
        ("c1", dt.datetime(2024, 1, 20), "fine", 4, False),
        ("c2", dt.datetime(2024, 1, 21, 10), "crlf line", 9, False),
        ("c3", dt.datetime(2024, 1, 22), "xxxxxxxxx", 10_000, True),
    ]


def test_unreadable_csv_is_an_error_naming_the_file(tmp_path):
    raw = write_raw(tmp_path / "raw", {"orders": RAW["orders"]})
    (raw / "reviews.csv").write_text(
        "customer_id,product_id,reviewed_at,rating,review_text\nc1,p1\nc1,p1,2024-01-01,4,a,b,c\n"
    )
    run = run_dbt(tmp_path, raw, command=("build", "--select", "staging"))
    assert run.returncode != 0
    assert "reviews.csv" in run.output


def test_parquet_refunds_without_optional_columns(tmp_path):
    """Typed Parquet columns are read as such, and the optional refund columns order_id and
    reason may be absent from the file: they read as null."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    raw = tmp_path / "raw"
    raw.mkdir()
    pq.write_table(
        pa.table(
            {
                "order_id": ["o1", "o2"],
                "customer_id": ["c1", "c2"],
                "ordered_at": pa.array([dt.datetime(2024, 1, 5), dt.datetime(2024, 1, 6)]),
                "order_total": [10.0, 20.0],
                "status": ["completed", "completed"],
            }
        ),
        raw / "orders.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "refund_id": ["r1"],
                "customer_id": ["c2"],
                "refunded_at": pa.array([dt.datetime(2024, 1, 7)]),
                "amount": [5.5],
            }
        ),
        raw / "refunds.parquet",
    )
    run = run_dbt(tmp_path, raw, raw_format="parquet", command=("build", "--select", "staging"))
    assert run.returncode == 0, run.output[-3000:]
    assert run.query(
        "select refund_id, order_id, reason, refund_effect, effective_amount from stg_refunds"
    ) == [("r1", None, None, "unlinked", 5.5)]
