"""End to end: the export menus of the revenue overview in a real browser.

Export -> Excel downloads an .xlsx that openpyxl opens; a widget's own menu exports that widget; a
truncated export (an app served with REPORT_MAX_ROWS=5) says so with its row counts.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import openpyxl
import pytest

from engine.periods import resolve
from tests.e2e.conftest import ARTIFACTS, serve_app, sign_in
from tests.loaded_days import loaded_days_at

pytestmark = pytest.mark.e2e
DASHBOARD = "/dashboards/revenue_overview"


def open_dashboard(page, base: str, period: str = "30d") -> None:
    sign_in(page, base, "admin", next_path=f"{DASHBOARD}?period={period}")
    page.wait_for_url(f"**{DASHBOARD}*")
    page.wait_for_selector("[data-testid=metric-value]", timeout=30_000)


def export_from(page, scope: str, label: str):
    menu = page.locator(f"[data-export-scope='{scope}']")
    menu.locator(".dropdown-toggle").click()
    with page.expect_download(timeout=60_000) as info:
        menu.locator(".dropdown-menu .dropdown-item").get_by_text(label, exact=True).click()
    return info.value, menu


def test_export_excel_from_the_dashboard_menu(served_app, page, tmp_path, demo_warehouse):
    open_dashboard(page, served_app)
    download, menu = export_from(page, "dashboard", "Excel")
    assert download.suggested_filename.startswith("revenue-overview_")
    assert download.suggested_filename.endswith(".xlsx")
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames[0] == "Summary" and len(book.sheetnames) == 3
    summary = [c for row in book["Summary"].iter_rows(values_only=True) for c in row if c]
    assert "Revenue overview" in summary
    chart_sheet = book[book.sheetnames[1]]
    header = next(chart_sheet.iter_rows(values_only=True))
    days = loaded_days_at(demo_warehouse, resolve("30d", "UTC"))  # series end with the data
    assert header[0] == "Date" and chart_sheet.max_row == 1 + days  # a header and the days
    status = menu.locator(".export-status")
    status.get_by_text("Excel ready").wait_for(timeout=10_000)
    assert status.locator("a.export-download-link").get_attribute("href").endswith("/download")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "export-menu-dashboard.png"))
    assert not page.console_errors


def test_a_widget_menu_exports_only_that_widget(served_app, page, tmp_path):
    open_dashboard(page, served_app, "7d")
    download, _ = export_from(page, "widget-revenue-by-processor", "CSV")
    assert download.suggested_filename.startswith("revenue-overview_revenue-by-processor_")
    path = tmp_path / "w.csv"
    download.save_as(path)
    rows = list(csv.reader(io.StringIO(path.read_text())))
    assert rows[0][0] == "processor" and len(rows) > 1
    assert not page.console_errors


@pytest.fixture(scope="module")
def small_app(tmp_path_factory, demo_warehouse) -> Iterator[str]:
    """The app served with REPORT_MAX_ROWS=5, so the daily revenue (30 rows) is truncated."""
    with serve_app(
        tmp_path_factory.mktemp("small-max-rows"), demo_warehouse, REPORT_MAX_ROWS="5"
    ) as base:
        yield base


def test_a_truncated_export_says_so_in_the_ui(small_app, page, tmp_path, demo_warehouse):
    open_dashboard(page, small_app)
    download, menu = export_from(page, "widget-daily-revenue", "JSON")
    path = tmp_path / "d.json"
    download.save_as(path)
    assert '"truncated": true' in path.read_text().replace('"truncated":true', '"truncated": true')
    note = menu.locator(".export-truncated")
    note.wait_for(timeout=10_000)
    text = note.inner_text()
    days = loaded_days_at(demo_warehouse, resolve("30d", "UTC"))
    assert "Truncated" in text and f"truncated at 5 of {days} rows" in text
    assert "5 rows" in menu.locator(".export-status").inner_text()
    page.screenshot(path=str(ARTIFACTS / "export-menu-truncated.png"))
