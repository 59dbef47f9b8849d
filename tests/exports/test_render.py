"""render() dispatches by format; content types and file names; the report header is in its zone."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from exports import ExportError, ExportFormat, content_type, file_name, render
from exports.result import ReportResult
from tests.exports.factories import customers_table, processor_bar, report


def test_formats_match_the_settings_list_and_accept_common_aliases():
    from settings import EXPORT_FORMATS

    assert tuple(f.value for f in ExportFormat) == EXPORT_FORMATS
    assert (
        ExportFormat.parse("XLSX") is ExportFormat.EXCEL
        and ExportFormat.parse("jpeg") is ExportFormat.JPG
    )
    with pytest.raises(ExportError) as err:
        ExportFormat.parse("docx")
    assert "pdf, excel, csv" in err.value.user_message


def test_content_types_and_file_names():
    r = report()
    assert (
        content_type("excel") == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert content_type("pdf") == "application/pdf" and content_type("svg") == "image/svg+xml"
    assert file_name(r, "excel") == "revenue-overview_2026-11-01_2026-11-30.xlsx"
    assert (
        file_name(r, "png", widget_id="daily-revenue")
        == "revenue-overview_daily-revenue_2026-11-01_2026-11-30.png"
    )
    r.key = "Umsätze / Q4 «draft»"
    assert file_name(r, "csv").startswith("umsatze-q4-draft_")


def test_render_to_a_binary_stream_writes_only_the_finished_file():
    out = io.BytesIO()
    render(report(processor_bar()), "json", out)
    assert out.getvalue().startswith(b'{"schema":"nexpo.report/1"')


def test_render_of_one_widget_narrows_the_report(tmp_path):
    path = tmp_path / "one.csv"
    render(report(), "csv", path, widget_id="revenue-by-processor")
    assert path.read_text().splitlines()[:2] == ["processor,revenue", "stripe,5000.50"]
    with pytest.raises(KeyError):
        render(report(), "csv", tmp_path / "x.csv", widget_id="nope")


def test_generated_at_is_shown_in_the_report_time_zone():
    r = report(customers_table(3))
    r.generated_at = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert r.generated_label() == "2026-07-01 14:00 CEST (Europe/Berlin)"


def test_a_report_needs_an_aware_generation_time():
    with pytest.raises(ValueError, match="timezone-aware"):
        ReportResult(
            title="t",
            period_label="p",
            generated_at=datetime(2026, 1, 1),
            timezone="UTC",
            currency="USD",
            widgets=[],
        )
