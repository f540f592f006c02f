"""The invoice-line converter (``python -m shopdata invoices``) on a handmade export, exactly,
and the README's own-data walkthrough end to end on it (convert -> dbt feature build)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import PROJECT_DIR, run_dbt

from shopdata.invoices import (
    REPORT_FILE,
    SKIPPED_FILE,
    ConversionError,
    convert_file,
    convert_rows,
    detect_date_formats,
)

FIXTURE = Path(__file__).parent / "fixtures" / "online_retail_sample.csv"
OWN_DATA_HORIZON_DAYS = 90


def read(out: Path, table: str) -> list[dict]:
    return pq.read_table(out / f"{table}.parquet").to_pylist()


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("invoices") / "raw"
    convert_file(FIXTURE, out)
    return out


def test_orders_one_per_sales_invoice_with_positive_line_totals(converted):
    orders = {row["order_id"]: row for row in read(converted, "orders")}
    assert len(orders) == 29
    assert round(sum(row["order_total"] for row in orders.values()), 2) == 1083.31
    assert {row["status"] for row in orders.values()} == {"completed"}
    # Three lines, the same product twice: 6 * 2.55 + 12 * 1.69 + 2 * 2.55.
    assert orders["500005"]["order_total"] == 40.68
    assert orders["500005"]["ordered_at"] == datetime(2010, 2, 8, 10, 0)
    # Credit notes are not orders; the invoice they correct keeps its full total.
    assert not any(order_id.startswith("C") for order_id in orders)
    assert orders["500010"]["order_total"] == 39.84
    # Spreadsheet-style ids lose their ".0"; invoices without a customer are kept (null id).
    assert orders["500013"]["customer_id"] == "90005"
    assert {k for k, row in orders.items() if row["customer_id"] is None} == {"500030", "500045"}


def test_order_items_keep_repeated_product_lines(converted):
    items = read(converted, "order_items")
    assert len(items) == 47
    lines = [(r["product_id"], r["quantity"]) for r in items if r["order_id"] == "500005"]
    assert sorted(lines) == [("84879", 12), ("85123A", 2), ("85123A", 6)]
    assert all(r["quantity"] > 0 and r["unit_price"] >= 0 for r in items)


def test_refunds_are_credit_notes_with_positive_amounts(converted):
    columns = ("refund_id", "customer_id", "refunded_at", "amount", "order_id", "reason")
    refunds = [tuple(row[c] for c in columns) for row in read(converted, "refunds")]
    assert refunds == [
        # A negative line outside a C invoice (stock adjustment, no customer, price 0).
        ("500050", None, datetime(2011, 2, 15, 9, 0), 0.0, None, "credit_note"),
        ("C500011", "90002", datetime(2010, 4, 2, 9, 0), 39.84, None, "credit_note"),  # full
        ("C500017", "90003", datetime(2010, 6, 1, 9, 30), 12.75, None, "credit_note"),  # partial
        ("C500034", "90005", datetime(2010, 10, 11, 10, 0), 5.0, None, "credit_note"),
        ("C500046", None, datetime(2010, 12, 22, 12, 0), 3.36, None, "credit_note"),
    ]


def test_products_named_by_most_frequent_description_without_categories(converted):
    products = {row["product_id"]: row for row in read(converted, "products")}
    assert sorted(products) == [
        "20725", "21212", "21232", "22423", "22720", "47566", "84879", "85123A", "D", "POST",
    ]  # fmt: skip
    assert products["21232"]["product_name"] == "STRAWBERRY CERAMIC TRINKET BOX"  # 4 of 5 lines
    assert products["22423"]["product_name"] == "REGENCY CAKESTAND 3 TIER"  # not "damaged"
    assert {row["category"] for row in products.values()} == {None}


def test_customers_carry_country_only(converted):
    customers = {row["customer_id"]: row for row in read(converted, "customers")}
    assert {cid: row["country"] for cid, row in customers.items()} == {
        "90001": "United Kingdom",
        "90002": "France",
        "90003": "Germany",
        "90004": "United Kingdom",
        "90005": "United Kingdom",
        "90006": "EIRE",
    }
    assert {row["signed_up_at"] for row in customers.values()} == {None}
    assert {row["acquisition_channel"] for row in customers.values()} == {None}


def test_unconvertible_lines_are_written_with_a_reason_and_counted(converted):
    with (converted / SKIPPED_FILE).open() as handle:
        skipped = list(csv.DictReader(handle))
    assert [(r["line_number"], r["reason"], r["Invoice"]) for r in skipped] == [
        ("55", "negative_price", "A500052")
    ]
    counts = json.loads((converted / REPORT_FILE).read_text())["counts"]
    assert counts["sale_lines"] + counts["credit_lines"] + len(skipped) == 54
    assert counts["lines_without_customer"] == 5
    assert counts["orders_without_customer"] == 2
    assert counts["refunds_without_customer"] == 2


def test_column_names_match_ignoring_case_spaces_and_underscores():
    header = [
        "InvoiceNo", "stock_code", "DESCRIPTION", "Quantity", "Invoice Date", "UnitPrice",
        "CustomerID", "country",
    ]  # fmt: skip
    rows = [["1", "A", "Thing", "2", "2010-01-01 10:00:00", "1.5", "7.0", "France"]]
    converted = convert_rows(header, rows)
    assert converted.tables["orders"].to_pylist() == [
        {
            "order_id": "1",
            "customer_id": "7",
            "ordered_at": datetime(2010, 1, 1, 10, 0),
            "order_total": 3.0,
            "status": "completed",
        }
    ]


def test_missing_column_is_named():
    with pytest.raises(ConversionError, match=r"no 'price' column.*unitprice"):
        convert_rows(["Invoice", "StockCode", "Quantity", "InvoiceDate", "Customer ID"], [])


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["2010-12-01 08:26:00"], "%Y-%m-%d %H:%M:%S"),
        (["01/12/2010 08:26", "13/12/2010 09:00"], "%d/%m/%Y %H:%M"),
        (["12/01/2010 08:26", "12/13/2010 09:00"], "%m/%d/%Y %H:%M"),
    ],
)
def test_date_order_is_detected(values, expected):
    assert expected in detect_date_formats(values)


def test_ambiguous_dates_ask_for_a_format():
    with pytest.raises(ConversionError, match="--date-format"):
        detect_date_formats(["01/02/2010 10:00", "03/04/2010 11:00"])


def test_unparseable_date_keeps_the_order_with_a_null_time():
    header = ["Invoice", "StockCode", "Quantity", "InvoiceDate", "Price", "Customer ID"]
    converted = convert_rows(header, [["1", "A", "1", "yesterday", "2", "7"]])
    assert converted.tables["orders"].column("ordered_at").to_pylist() == [None]
    assert converted.counts["lines_with_unparseable_date"] == 1


def test_folder_with_another_datasets_tables_is_refused(tmp_path):
    (tmp_path / "reviews.parquet").write_bytes(b"")
    with pytest.raises(ConversionError, match=r"reviews\.parquet"):
        convert_file(FIXTURE, tmp_path)
    assert not (tmp_path / "orders.parquet").exists()


def test_spreadsheet_and_empty_exports_are_refused(tmp_path):
    with pytest.raises(ConversionError, match="save it as CSV"):
        (tmp_path / "export.xlsx").write_bytes(b"PK")
        convert_file(tmp_path / "export.xlsx", tmp_path / "out")
    header_only = tmp_path / "header.csv"
    header_only.write_text(FIXTURE.read_text().splitlines()[0] + "\n")
    with pytest.raises(ConversionError, match="no sales invoice line"):
        convert_file(header_only, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_readme_own_data_walkthrough_on_an_invoice_export(tmp_path):
    """README "Using your own data": convert with the CLI, build the features with dbt."""
    raw = tmp_path / "raw"
    cli = subprocess.run(
        [sys.executable, "-m", "shopdata", "invoices", "--source", str(FIXTURE), "--out", str(raw)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert cli.returncode == 0, cli.stderr
    assert "orders_without_customer" in cli.stderr

    run = run_dbt(
        tmp_path,
        raw,
        raw_format="parquet",
        extra_vars={
            "horizon_days": OWN_DATA_HORIZON_DAYS,
            "churn_horizon_days": OWN_DATA_HORIZON_DAYS,
        },
    )
    assert run.returncode == 0, run.output[-5000:]
    # The invoices without a customer are quarantined with a reason, never silently lost.
    assert run.query(
        "select order_id, rejection_reason from stg_orders_rejected order by order_id"
    ) == [("500030", "null_customer_id"), ("500045", "null_customer_id")]
    assert run.scalar("select count(*) from stg_orders") == 27
    assert run.scalar("select count(distinct customer_id) from stg_orders") == 6
    # Every raw line is accounted for: the repeated product line is summed, not rejected.
    assert (
        run.scalar(
            "select (select sum(raw_lines) from stg_order_items) + (select count(*) from "
            "stg_order_items_rejected)"
        )
        == 47
    )
    assert run.query("select distinct rejection_reason from stg_order_items_rejected") == [
        ("unknown_order",)
    ]
    assert (
        run.scalar(
            "select quantity from stg_order_items "
            "where order_id = '500005' and product_id = '85123A'"
        )
        == 8
    )
    # Credit notes become point-in-time refunds; those without a customer are quarantined.
    assert run.query(
        "select refund_id, customer_id, round(amount, 2) from stg_refunds order by refund_id"
    ) == [("C500011", "90002", 39.84), ("C500017", "90003", 12.75), ("C500034", "90005", 5.0)]
    assert run.query(
        "select refund_id, rejection_reason from stg_refunds_rejected order by refund_id"
    ) == [("500050", "null_customer_id"), ("C500046", "null_customer_id")]
    # No categories in the export: every product is 'uncategorised', and it still builds.
    assert run.scalar("select count(distinct category) from stg_products") == 1
    examples = run.scalar("select count(*) from training_examples")
    assert examples > 0
    assert run.scalar("select count(*) from customer_features") == 6


def test_wrong_encoding_names_the_option(tmp_path):
    export = tmp_path / "latin1.csv"
    export.write_bytes(FIXTURE.read_bytes().replace(b"EIRE", "\u00c9IRE".encode("latin-1")))
    with pytest.raises(ConversionError, match="--encoding"):
        convert_file(export, tmp_path / "out")
    convert_file(export, tmp_path / "out", encoding="latin-1")
    countries = {row["country"] for row in read(tmp_path / "out", "customers")}
    assert "\u00c9IRE" in countries


@pytest.mark.parametrize("command", ["cdnow", "synthetic", "completejourney", "invoices"])
def test_every_subcommand_has_its_own_help(command, capsys):
    from shopdata.__main__ import main

    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    assert f"python -m shopdata {command}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("quantity", "price", "reason"),
    [
        ("nan", "1", "unparseable_quantity"),
        ("inf", "1", "unparseable_quantity"),
        ("two", "1", "unparseable_quantity"),
        ("1.5", "1", "fractional_quantity"),
        ("0", "1", "zero_quantity"),
        ("1", "nan", "non_finite_price"),
        ("1", "1,5", "unparseable_price"),
        ("1", "-3", "negative_price"),
    ],
)
def test_unconvertible_line_reasons(quantity, price, reason):
    header = ["Invoice", "StockCode", "Quantity", "InvoiceDate", "Price", "Customer ID"]
    good = ["1", "A", "1", "2010-01-01 10:00:00", "2", "7"]
    bad = ["2", "A", quantity, "2010-01-01 10:00:00", price, "7"]
    converted = convert_rows(header, [good, bad])
    assert [(line_no, why) for line_no, why, _ in converted.skipped] == [(3, reason)]
    assert converted.counts[f"skipped_{reason}"] == 1
    assert converted.tables["orders"].num_rows == 1


def test_invoice_whose_lines_name_two_customers_is_counted():
    header = ["Invoice", "StockCode", "Quantity", "InvoiceDate", "Price", "Customer ID"]
    rows = [["1", "A", "1", "2010-01-01", "2", "8"], ["1", "B", "1", "2010-01-01", "2", "7"]]
    converted = convert_rows(header, rows)
    assert converted.tables["orders"].column("customer_id").to_pylist() == ["7"]
    assert converted.counts["documents_with_several_customers"] == 1


def test_mixed_line_endings_convert_like_the_fixture(tmp_path):
    lines = FIXTURE.read_text().splitlines()
    mixed = "".join(line + ("\r\n" if i % 2 else "\n") for i, line in enumerate(lines))
    export = tmp_path / "mixed.csv"
    export.write_bytes(mixed.encode())
    counts = convert_file(export, tmp_path / "out").counts
    assert (counts["orders"], counts["order_items"], counts["refunds"]) == (29, 47, 5)


def write_invoice_export(path: Path, customers: int = 120, seed: int = 0) -> None:
    """A seeded Online-Retail-shaped export big enough to train on: 18 months of invoices with
    repeated product lines, credit notes (C-prefixed, partial, unlinked) and invoices without
    a customer id."""
    import random

    rng = random.Random(seed)
    products = [(f"P{i:03d}", f"Product {name}") for i, name in enumerate(
        ["Lantern", "Teapot", "Candle", "Mug", "Blanket", "Vase", "Clock", "Cushion"]
    )]  # fmt: skip
    header = ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price",
              "Customer ID", "Country"]  # fmt: skip
    rows, invoice = [], 600000
    for c in range(customers):
        customer = str(20000 + c) if c % 15 else ""  # every 15th invoice stream has no id
        day, rate = rng.randint(0, 300), rng.uniform(0.01, 0.08)
        while day < 540:
            invoice += 1
            when = datetime(2023, 1, 1).toordinal() + day
            stamp = datetime.fromordinal(when).strftime("%Y-%m-%d 10:00:00")
            for code, name in rng.sample(products, rng.randint(1, 3)):
                rows.append([str(invoice), code, name, str(rng.randint(1, 4)), stamp,
                             f"{rng.uniform(2, 30):.2f}", customer, "United Kingdom"])  # fmt: skip
            if rng.random() < 0.1:  # the same product again on another line
                rows.append([*rows[-1][:3], "1", *rows[-1][4:]])
            if customer and rng.random() < 0.08:  # a partial credit note a few days later
                credit = datetime.fromordinal(when + 3).strftime("%Y-%m-%d 12:00:00")
                rows.append([f"C{invoice}", rows[-1][1], rows[-1][2], "-1", credit,
                             rows[-1][5], customer, "United Kingdom"])  # fmt: skip
            day += max(1, int(rng.expovariate(rate)))
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def test_own_data_walkthrough_trains_and_scores_an_invoice_export(tmp_path, tiny_bert):
    """README "Using your own data", every step: convert the export, build the features,
    train on that warehouse (its own horizons), score every customer in SQL + build the marts."""
    from training.config import TrainConfig
    from training.train import main as train

    export = tmp_path / "export.csv"
    write_invoice_export(export)
    raw = tmp_path / "raw"
    convert_file(export, raw)
    horizons = {"horizon_days": OWN_DATA_HORIZON_DAYS, "churn_horizon_days": OWN_DATA_HORIZON_DAYS}
    features = run_dbt(tmp_path / "build", raw, raw_format="parquet", extra_vars=horizons)
    assert features.returncode == 0, features.output[-5000:]
    assert features.scalar("select count(*) from stg_refunds") > 0
    assert (
        features.scalar(
            "select count(*) from stg_orders_rejected where rejection_reason = 'null_customer_id'"
        )
        > 0
    )
    artifacts = tmp_path / "artifacts"
    train(
        TrainConfig(
            database=features.db_path,
            output_dir=artifacts,
            base_model=str(tiny_bert),
            mode="head",
            epochs=2,
            grid="none",
            baselines=False,
            progress=False,
        )
    )
    scored = run_dbt(
        tmp_path / "build", raw, raw_format="parquet", extra_vars=horizons, model_path=artifacts
    )
    assert scored.returncode == 0, scored.output[-5000:]
    customers = scored.scalar("select count(*) from customer_features")
    assert customers > 100
    assert (
        scored.scalar(
            "select count(*) from customer_scores where isfinite(predicted_clv) "
            "and churn_probability between 0 and 1"
        )
        == customers
    )
    assert scored.scalar("select count(*) from customer_segments") == customers
