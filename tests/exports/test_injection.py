"""OWASP CSV injection: a text cell that starts like a formula is exported with a leading quote, in
CSV and XLSX alike; numbers (negative ones too) stay numbers."""

from __future__ import annotations

import csv
from datetime import date

import openpyxl
import pandas as pd

from engine.generate import WidgetResult
from exports import render
from exports.columns import neutralise
from tests.exports.factories import WINDOW, report, widget

EVIL = ['=HYPERLINK("http://evil.example")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "plain"]


def _table() -> WidgetResult:
    frame = pd.DataFrame(
        {
            "customer_id": EVIL,
            "signup_date": [date(2026, 11, 1)] * len(EVIL),
            "mrr": [-5.5, 1.0, -2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    spec = widget("top-customers", "table", "=cmd|' /C calc'!A0", format="money")
    return WidgetResult(widget=spec, window=WINDOW, frame=frame, row_count=len(EVIL))


def test_neutralise_prefixes_only_formula_starts():
    assert [neutralise(v) for v in EVIL] == ["'" + v for v in EVIL[:-1]] + ["plain"]
    assert neutralise("") == "" and neutralise("a=b") == "a=b"


def test_csv_text_cells_are_neutralised_and_numbers_stay_numbers(tmp_path):
    path = tmp_path / "t.csv"
    render(report(_table()), "csv", path)
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert [r[0] for r in rows[1:]] == ["'" + v for v in EVIL[:-1]] + ["plain"]
    assert [r[2] for r in rows[1:]] == ["-5.50", "1.00", "-2.00", "3.00", "4.00", "5.00", "6.00"]


def test_xlsx_text_cells_are_neutralised_and_numbers_stay_numbers(tmp_path):
    path = tmp_path / "t.xlsx"
    render(report(_table()), "excel", path)
    ws = openpyxl.load_workbook(path).worksheets[-1]
    rows = list(ws.iter_rows(values_only=True))[1:]
    # XML reads a CR back as LF; what matters is the quote in front.
    assert [r[0].replace("\n", "\r") for r in rows] == ["'" + v for v in EVIL[:-1]] + ["plain"]
    assert rows[0][2] == -5.5 and isinstance(rows[0][2], float)
    assert all(cell.data_type != "f" for row in ws.iter_rows() for cell in row)
