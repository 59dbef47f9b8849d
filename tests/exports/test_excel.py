"""The .xlsx re-read with openpyxl equals the data: typed cells, formats, frozen header, charts."""

from __future__ import annotations

import shutil
import subprocess
import warnings
from datetime import datetime

import openpyxl
import pytest

import exports.excel as excel_export
from exports import ExportLimits, ExportTimeoutError, render
from exports.excel import render_excel
from exports.result import Deadline
from tests.exports.factories import customers_table, processor_bar, report, revenue_line

MONEY = '"$"#,##0.00;-"$"#,##0.00'


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    path = tmp_path_factory.mktemp("xlsx") / "report.xlsx"
    render(report(), "excel", path)
    with warnings.catch_warnings():
        warnings.simplefilter(
            "error"
        )  # openpyxl warns when it cannot read a part (a chart, a drawing)
        return openpyxl.load_workbook(path)


def test_one_sheet_per_data_widget_after_a_summary(book):
    assert book.sheetnames == ["Summary", "Daily revenue", "Revenue by processor", "Top customers"]


def test_read_only_readers_see_every_row_through_the_sheet_dimension(tmp_path):
    path = tmp_path / "t.xlsx"
    render(report(), "excel", path, limits=ExportLimits(max_rows=100))  # one table truncated
    fast = openpyxl.load_workbook(path, read_only=True)
    try:
        top = fast["Top customers"]
        # The header, 100 of 250 rows, and the truncation note beside the header (blank + note).
        assert (top.max_row, top.max_column) == (101, 5 + 2)
        assert len(list(top.iter_rows(values_only=True))) == 101
        assert fast["Daily revenue"].max_row == 1 + len(revenue_line().frame)
        summary = list(fast["Summary"].iter_rows(values_only=True))
        assert fast["Summary"].max_row == len(summary) and summary[-1][0] == "Top customers"
    finally:
        fast.close()


def test_a_sheet_longer_than_its_declared_dimension_is_refused(tmp_path):
    from exports.xlsx import Workbook

    with (
        open(tmp_path / "x.xlsx", "wb") as fh,
        pytest.raises(ValueError, match="more than its declared dimension"),
        Workbook(fh) as book,
    ):
        sheet = book.sheet("Data", [10], extent=(1, 1))
        sheet.row(["a"])
        sheet.row(["b"])
        sheet.close()


def test_table_cells_are_typed_and_equal_the_frame(book):
    ws = book["Top customers"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("Customer ID", "Signup date", "Plan", "MRR", "Seats")
    assert len(rows) == 251
    frame = customers_table().frame
    for i in (0, 1, 124, 249):
        cid, signup, plan, mrr, seats = rows[i + 1]
        assert (cid, plan, seats) == (frame.customer_id[i], frame.plan[i], frame.seats[i])
        assert isinstance(signup, datetime) and signup.date() == frame.signup_date[i]
        assert isinstance(mrr, float) and mrr == frame.mrr[i]
    assert ws["B2"].is_date and ws["B2"].number_format == "yyyy-mm-dd"
    assert ws["D2"].data_type == "n" and ws["D2"].number_format == MONEY
    assert ws["E2"].number_format == "#,##0"


def test_header_is_frozen_bold_filtered_and_columns_fit(book):
    ws = book["Top customers"]
    assert ws.freeze_panes == "A2"
    assert ws["A1"].font.b and ws.auto_filter.ref == "A1:E251"
    widths = {k: d.width for k, d in ws.column_dimensions.items()}
    assert (
        widths["A"] >= len("cus_0001")
        and widths["B"] >= len("2026-01-01")
        and widths["D"] >= len("$321.25")
    )
    assert all(w <= 60 for w in widths.values())


def test_chart_widgets_get_a_native_chart_over_their_cells(book):
    line = book["Daily revenue"]
    assert len(line._charts) == 1
    chart = line._charts[0]
    assert chart.tagname == "lineChart"
    assert [s.val.numRef.f for s in chart.series] == [
        "'Daily revenue'!$B$2:$B$31",
        "'Daily revenue'!$C$2:$C$31",
    ]
    assert chart.series[0].cat.numRef.f == "'Daily revenue'!$A$2:$A$31"
    bar = book["Revenue by processor"]._charts[0]
    assert (
        bar.tagname == "barChart"
        and bar.series[0].cat.strRef.f == "'Revenue by processor'!$A$2:$A$4"
    )
    assert book["Top customers"]._charts == []
    assert book["Daily revenue"]["A2"].value == datetime(2026, 11, 1)
    assert book["Daily revenue"]["B31"].value == 1000 + 10.5 * 29


def test_summary_has_the_header_facts_and_card_values_typed(book):
    ws = book["Summary"]
    cells = {row[0].value: row for row in ws.iter_rows() if row[0].value}
    assert ws["A1"].value == "Revenue overview"
    assert cells["Period"][1].value == "Nov 1, 2026 – Nov 30, 2026"
    generated = cells["Generated at (Europe/Berlin)"][1]
    assert generated.value == datetime(2026, 11, 30, 14, 5) and generated.is_date
    assert cells["Filters"][1].value == "plan = pro; country = DE"
    mrr = cells["MRR"]
    assert mrr[2].value == 12345.67 and mrr[2].number_format == MONEY and mrr[3].value == 11000.0
    assert mrr[4].number_format == "0.00%" and mrr[4].value == pytest.approx(0.1223336)
    churn = cells["Customer churn rate"]
    assert churn[2].value == 0.0425 and churn[2].number_format == "0.00%"
    assert (
        cells["Paying customers"][2].value == 321
        and cells["Paying customers"][2].number_format == "#,##0"
    )
    table = cells["Top customers"]
    assert table[5].value == 250 and table[6].value == "Data on sheet 'Top customers'"
    assert table[0].hyperlink.location == "'Top customers'!A1"


def test_truncated_sheet_says_so_beside_the_header_and_in_the_summary(tmp_path):
    path = tmp_path / "t.xlsx"
    render(report(customers_table()), "excel", path, limits=ExportLimits(max_rows=100))
    wb = openpyxl.load_workbook(path)
    ws = wb["Top customers"]
    assert ws.max_row == 101 and ws["A101"].value == "cus_0100"
    assert ws["G1"].value == "Truncated at 100 of 250 rows (REPORT_MAX_ROWS)."
    assert ws.auto_filter.ref == "A1:E101"
    summary = [r for r in wb["Summary"].iter_rows(values_only=True) if r[0] == "Top customers"][0]
    assert summary[6] == "Truncated at 100 of 250 rows (REPORT_MAX_ROWS)."


def test_sheet_names_are_made_valid_and_unique(tmp_path):
    a, b = processor_bar(), revenue_line()
    a.widget = a.widget.model_copy(
        update={"title": "Revenue: by/processor? [all] and a very long tail of words"}
    )
    b.widget = b.widget.model_copy(
        update={"title": "Revenue: by/processor? [all] and a very long tail of words"}
    )
    path = tmp_path / "n.xlsx"
    render(report(a, b), "excel", path)
    names = openpyxl.load_workbook(path).sheetnames
    assert names[1] == "Revenue  by processor   all  an" and names[2].endswith(" (2)")
    assert all(len(n) <= 31 for n in names)


def test_a_timeout_mid_workbook_raises_and_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(excel_export, "CHUNK_ROWS", 50)
    checks = []
    real_check = Deadline.check

    def expire_on_third_chunk(self, what="export"):
        checks.append(what)
        if len(checks) >= 4:
            self.ends = 0
        return real_check(self, what)

    monkeypatch.setattr(Deadline, "check", expire_on_third_chunk)
    target = tmp_path / "t.xlsx"
    with pytest.raises(ExportTimeoutError) as err:
        render_excel(report(customers_table()), target, limits=ExportLimits(timeout_seconds=30))
    assert "REPORT_TIMEOUT_SECONDS" in err.value.user_message
    assert list(tmp_path.iterdir()) == []


def test_a_failed_export_keeps_the_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "t.xlsx"
    target.write_bytes(b"previous export")
    monkeypatch.setattr(excel_export, "_typed", lambda *a: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        render_excel(report(customers_table()), target)
    assert target.read_bytes() == b"previous export" and len(list(tmp_path.iterdir())) == 1


@pytest.mark.skipif(
    shutil.which("soffice") is None,
    reason="LibreOffice is not installed (apt-get install -y libreoffice-calc-nogui)",
)
def test_libreoffice_opens_the_workbook_and_draws_its_charts(tmp_path):
    path = tmp_path / "report.xlsx"
    render(report(), "excel", path)
    subprocess.run(
        ["soffice", "--headless", "--norestore", f"-env:UserInstallation=file://{tmp_path}/profile", "--convert-to", "pdf", "--outdir", str(tmp_path), str(path)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    text = subprocess.run(
        ["pdftotext", "-layout", str(tmp_path / "report.pdf"), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "$12,345.67" in text and "2026-11-30 14:05:00" in text
    assert "Daily revenue" in text.split("Revenue (7-day avg)", 1)[1], (
        "the line chart's title is drawn beside the table"
    )
    assert "$1,304.50" in text and "cus_0250" in text
