"""CSV exports parse back to the data, stream in chunks and say when they are truncated."""

from __future__ import annotations

import csv

import pytest

import exports.csv as csv_export
from exports import ExportLimits, render
from exports.csv import render_csv
from tests.exports.factories import customers_table, report, revenue_line


def read(path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_one_widget_csv_is_a_plain_table_equal_to_the_frame(tmp_path):
    path = tmp_path / "t.csv"
    render_csv(report(customers_table()), path)
    rows = read(path)
    assert rows[0] == ["customer_id", "signup_date", "plan", "mrr", "seats"]
    assert len(rows) == 1 + 250
    assert rows[1] == ["cus_0001", "2026-01-01", "basic", "10.00", "1"]  # money in cents
    assert rows[250] == [
        "cus_0250",
        "2026-09-07",
        "basic",
        f"{10 + 249 * 1.25:.2f}",
        str(1 + 249 % 17),
    ]


def test_report_csv_has_metadata_a_card_summary_and_a_section_per_widget(tmp_path):
    path = tmp_path / "r.csv"
    render(report(), "csv", path)
    rows = read(path)
    comments = [r[0] for r in rows if r and r[0].startswith("#")]
    assert "# Report: Revenue overview" in comments
    assert "# Generated: 2026-11-30 14:05 CET (Europe/Berlin)" in comments
    assert "# Filters: plan=pro; country=DE" in comments
    summary = rows.index(["# Summary"])
    assert rows[summary + 1][:4] == ["widget", "title", "format", "value"]
    assert rows[summary + 2][:5] == ["mrr", "MRR", "money", "12345.67", "11000.00"]
    line = rows.index(["# Widget: Daily revenue (daily-revenue)"])
    assert rows[line + 1] == ["date", "revenue", "revenue_ma7"]
    assert rows[line + 2] == ["2026-11-01", "1000.00", "1000.00"]
    assert rows[line + 31] == ["2026-11-30", f"{1000 + 10.5 * 29:.2f}", rows[line + 31][2]]
    assert ["# Widget: Top customers (top-customers)"] in rows


def test_truncated_csv_ends_with_the_row_count_note(tmp_path):
    path = tmp_path / "t.csv"
    render(report(customers_table()), "csv", path, limits=ExportLimits(max_rows=100))
    rows = read(path)
    assert len(rows) == 1 + 100 + 1
    assert rows[100][0] == "cus_0100"
    assert rows[-1] == ["# Truncated at 100 of 250 rows (REPORT_MAX_ROWS)."]


def test_rows_already_cut_by_the_engine_are_reported_with_the_engine_total(tmp_path):
    path = tmp_path / "t.csv"
    render(report(customers_table(250, row_count=1000)), "csv", path)
    assert read(path)[-1] == ["# Truncated at 250 of 1,000 rows (REPORT_MAX_ROWS)."]


def test_csv_is_written_chunk_by_chunk(tmp_path, monkeypatch):
    writes: list[int] = []
    monkeypatch.setattr(csv_export, "CHUNK_ROWS", 40)
    real = csv_export._fields
    monkeypatch.setattr(csv_export, "_fields", lambda s, k: writes.append(len(s)) or real(s, k))
    render_csv(report(customers_table()), tmp_path / "t.csv")
    assert max(writes) == 40 and sum(writes) == 250 * 5


def test_a_crash_mid_csv_leaves_no_file_and_no_part_file(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_export, "CHUNK_ROWS", 10)
    real, calls = csv_export._fields, []

    def fails_on_the_second_chunk(series, kind):
        calls.append(kind)
        if len(calls) > 3:  # three columns per chunk: the first chunk is already written
            raise RuntimeError("disk on fire")
        return real(series, kind)

    monkeypatch.setattr(csv_export, "_fields", fails_on_the_second_chunk)
    with pytest.raises(RuntimeError, match="disk on fire"):
        render_csv(report(revenue_line()), tmp_path / "t.csv")
    assert list(tmp_path.iterdir()) == []


def test_text_with_commas_quotes_and_newlines_round_trips(tmp_path):
    import pandas as pd

    from engine.generate import WidgetResult
    from tests.exports.factories import WINDOW, widget

    names = ["Acme, Inc.", 'The "best" shop', "two\nlines", "", None, "plain"]
    frame = pd.DataFrame({"name": names, "ok": [True, False, True, None, True, False]})
    w = WidgetResult(
        widget=widget("names", "table", "Names"), window=WINDOW, frame=frame, row_count=6
    )
    render_csv(report(w), tmp_path / "n.csv")
    rows = read(tmp_path / "n.csv")
    assert [r[0] for r in rows[1:]] == [
        "Acme, Inc.",
        'The "best" shop',
        "two\nlines",
        "",
        "",
        "plain",
    ]
    assert [r[1] for r in rows[1:]] == ["True", "False", "True", "", "True", "False"]
