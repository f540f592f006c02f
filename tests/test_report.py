"""The analyst report: built from a scored warehouse, opened in a real headless Chromium."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import duckdb
import pytest

from report.__main__ import main as report_main

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHARTS = (
    "chart-segments",
    "chart-gain",
    "chart-calibration",
    "chart-reliability",
    "chart-spend-tiers",
    "chart-cohorts",
    "chart-distributions",
)
# A chart is drawn when its screenshot has many colours (a blank or broken image has 1-2).
MIN_CHART_COLOURS = 16


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail(
            "no chromium on PATH: the report's browser test needs Debian's chromium "
            "(`make test` installs it: apt-get install chromium)"
        )
    return path


@pytest.fixture(scope="module")
def report_file(scored_warehouse, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("report") / "report.html"
    assert report_main(["--database", str(scored_warehouse), "--output", str(output)]) == 0
    return output


def mart(database: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_the_report_is_self_contained(report_file):
    html = report_file.read_text()
    assert "<script" not in html
    for reference in ('src="http', "src='http", 'href="http', "url(http", "@import"):
        assert reference not in html
    assert html.count('src="data:image/png;base64,') == len(CHARTS)


def test_the_report_renders_in_chromium_with_numbers_from_the_marts(report_file, scored_warehouse):
    from PIL import Image
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("requestfailed", lambda request: errors.append(f"failed: {request.url}"))
            page.goto(report_file.as_uri(), wait_until="load")
            for chart_id in CHARTS:
                chart = page.locator(f"#{chart_id}")
                assert chart.evaluate("img => img.complete && img.naturalWidth > 0"), chart_id
                shot = Image.open(io.BytesIO(chart.screenshot())).convert("RGB")
                colours = shot.getcolors(maxcolors=1 << 16)
                assert colours is None or len(colours) >= MIN_CHART_COLOURS, chart_id
            segments = page.locator("#segment-summary tbody tr").evaluate_all(
                "rows => rows.map(r => [r.cells[0].innerText, r.cells[2].innerText])"
            )
            calibration = page.locator("#calibration tbody tr").evaluate_all(
                "rows => rows.map(r => [r.cells[0].innerText, r.cells[2].innerText])"
            )
            customers = page.locator("#overview .card b").first.inner_text()
            at_risk = page.locator("#at-risk tbody tr").count()
            reasons = page.locator('#at-risk td[data-column="reasons"]').all_inner_texts()
            page_customers = page.locator(
                '#at-risk td[data-column="customer_id"]'
            ).all_inner_texts()
        finally:
            browser.close()
    assert errors == []
    expected = mart(scored_warehouse, "select segment, customers from segment_summary")
    assert sorted(segments) == sorted([name, f"{n:,}"] for name, n in expected)
    expected = mart(scored_warehouse, "select decile, mean_predicted_clv from clv_calibration")
    assert sorted(calibration) == sorted([str(d), f"{v:,.2f}"] for d, v in expected)
    scored = mart(scored_warehouse, "select count(*) from customer_segments")[0][0]
    assert customers == f"{scored:,}"
    high_risk = mart(
        scored_warehouse, "select count(*) from customer_segments where churn_risk_band = 'high'"
    )[0][0]
    assert at_risk == min(high_risk, 20)
    # Each customer's churn reasons, as customer_score_reasons words them.
    expected = dict(
        mart(
            scored_warehouse,
            """select customer_id, string_agg(phrase, '; ' order by reason_rank)
            from customer_score_reasons where reason_for = 'churn' and reason_rank <= 3
            group by customer_id""",
        )
    )
    assert reasons == [expected.get(customer, "") for customer in page_customers]


def test_the_report_refuses_a_warehouse_without_scores(small_warehouse, tmp_path, caplog):
    output = tmp_path / "report.html"
    assert report_main(["--database", str(small_warehouse.db_path), "--output", str(output)]) == 1
    assert "make demo" in caplog.text and "customer_segments" in caplog.text
    assert not output.exists()
    assert report_main(["--database", str(tmp_path / "missing.duckdb")]) == 1
    assert "no warehouse file" in caplog.text


def test_the_report_refuses_an_empty_scored_warehouse(scored_warehouse, tmp_path, caplog):
    empty = tmp_path / "empty.duckdb"
    shutil.copy(scored_warehouse, empty)
    with duckdb.connect(str(empty)) as con:
        con.execute("delete from customer_segments")
    assert report_main(["--database", str(empty), "--output", str(tmp_path / "r.html")]) == 1
    assert "customer_segments is empty" in caplog.text


def test_check_says_whether_the_warehouse_is_scored(scored_warehouse, small_warehouse, caplog):
    """`make metrics` runs `python -m report --check` first (mf would create an empty file)."""
    assert report_main(["--check", "--database", str(scored_warehouse)]) == 0
    assert report_main(["--check", "--database", str(small_warehouse.db_path)]) == 1
    assert "make demo" in caplog.text and "customer_segments" in caplog.text
