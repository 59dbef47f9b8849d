"""CSV and JSON carry values in their column's unit: money in cents, rates to 4 decimals, counts
as integers (issue 14: never 15842.861845410203)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd

from engine.generate import WidgetResult
from exports import render
from exports.columns import columns_of, rounded
from tests.exports.factories import WINDOW, report, widget


def by_plan() -> WidgetResult:
    """A table declared `format: money` with an explicit rate column, a count that arrived as
    floats and an id: the dashboard shows money, percent, numbers and the id unformatted."""
    frame = pd.DataFrame(
        {
            "plan_id": [7.0, 8.0],
            "plan": ["Pro", "Basic"],
            "revenue": [15842.861845410203, 175362.475],
            "share": [0.123456789, 0.87654321],
            "users": [12.0, 3.0],
            "avg_sessions": [2.123456789, 1 / 3],
        }
    )
    spec = widget(
        "by-plan",
        "table",
        "By plan",
        format="money",
        formats={"share": "percent", "users": "number", "avg_sessions": "number"},
    )
    return WidgetResult(widget=spec, window=WINDOW, frame=frame, row_count=2)


def test_kinds_follow_the_widget_formats_as_the_dashboard_table():
    result = by_plan()
    kinds = {c.name: c.kind for c in columns_of(result.frame, result.widget)}
    assert kinds == {
        "plan_id": "number",  # an id is never money, whatever the table's default format
        "plan": "text",
        "revenue": "money",
        "share": "percent",
        "users": "number",
        "avg_sessions": "number",
    }


def test_csv_writes_cents_four_decimal_rates_and_whole_counts(tmp_path):
    path = tmp_path / "t.csv"
    render(report(by_plan()), "csv", path)
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["plan_id", "plan", "revenue", "share", "users", "avg_sessions"]
    assert rows[1] == ["7", "Pro", "15842.86", "0.1235", "12", "2.123457"]
    assert rows[2] == ["8", "Basic", "175362.48", "0.8765", "3", "0.333333"]


def test_json_writes_the_same_rounded_values(tmp_path):
    path = tmp_path / "t.json"
    render(report(by_plan()), "json", path)
    table = json.loads(path.read_text("utf-8"))["widgets"][0]
    assert [c["type"] for c in table["columns"]] == [
        "number",
        "text",
        "money",
        "percent",
        "number",
        "number",
    ]
    assert table["rows"] == [
        [7, "Pro", 15842.86, 0.1235, 12, 2.123457],
        [8, "Basic", 175362.48, 0.8765, 3, 0.333333],
    ]
    assert "15842.8618" not in path.read_text("utf-8")


def test_cards_are_rounded_by_their_format(tmp_path):
    spec = widget("mrr", "metric_card", "MRR", value="mrr", format="money")
    card = WidgetResult(
        widget=spec, window=WINDOW, value=15842.861845410203, previous=1e4, change=0.584286184
    )
    path = tmp_path / "c.json"
    render(report(card), "json", path)
    doc = json.loads(path.read_text("utf-8"))["widgets"][0]
    assert (doc["value"], doc["previous"], doc["change"]) == (15842.86, 10000.0, 0.5843)
    path = tmp_path / "c.csv"
    render(report(card), "csv", path)
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[1][3:6] == ["15842.86", "10000.00", "0.5843"]


def test_rounding_is_half_away_from_zero_and_keeps_missing_values():
    values = np.array([175362.475, -0.005, 2.675, np.nan, np.inf, 0.125])
    got = rounded(values, "money")
    assert got[:3].tolist() == [175362.48, -0.01, 2.68]
    assert np.isnan(got[3]) and np.isinf(got[4])
    assert rounded(np.array([0.00004999, 0.00005]), "percent").tolist() == [0.0, 0.0001]
