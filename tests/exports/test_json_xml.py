"""JSON and XML exports parse with the standard readers and carry the documented schema and the data."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd

from engine.generate import WidgetResult
from exports import ExportLimits, render
from tests.exports.factories import WINDOW, customers_table, report, widget


def test_json_has_the_report_header_and_every_widget(tmp_path):
    path = tmp_path / "r.json"
    render(report(), "json", path)
    doc = json.loads(path.read_text("utf-8"))
    assert doc["schema"] == "nexpo.report/1"
    assert doc["title"] == "Revenue overview"
    assert doc["period"] == {
        "label": "Nov 1, 2026 – Nov 30, 2026",
        "start": "2026-11-01",
        "end": "2026-11-30",
    }
    assert doc["generated_at"] == "2026-11-30T14:05:00+01:00" and doc["timezone"] == "Europe/Berlin"
    assert doc["filters"] == {"plan": "pro", "country": "DE"} and doc["truncated"] is False
    by_id = {w["id"]: w for w in doc["widgets"]}
    assert [w["id"] for w in doc["widgets"]] == [
        "mrr",
        "churn",
        "customers",
        "daily-revenue",
        "revenue-by-processor",
        "top-customers",
    ]
    assert by_id["mrr"]["value"] == 12345.67 and by_id["mrr"]["previous"] == 11000.0
    bar = by_id["revenue-by-processor"]
    assert bar["columns"] == [
        {"name": "processor", "label": "Processor", "type": "text"},
        {"name": "revenue", "label": "Revenue", "type": "money"},
    ]
    assert bar["rows"] == [["stripe", 5000.5], ["paypal", 3000.25], ["adyen", 1200.0]]
    table = by_id["top-customers"]
    assert table["row_count"] == table["rows_included"] == 250 and len(table["rows"]) == 250
    assert table["rows"][0] == ["cus_0001", "2026-01-01", "basic", 10.0, 1]
    assert [c["type"] for c in table["columns"]] == ["text", "date", "text", "money", "integer"]


def test_json_marks_truncation_and_missing_values_as_null(tmp_path):
    frame = pd.DataFrame({"date": pd.to_datetime(["2026-11-01", None]), "revenue": [np.nan, 2.5]})
    gappy = WidgetResult(
        widget=widget("gaps", "line", "Gaps", x="date", y=["revenue"], format="money"),
        window=WINDOW,
        frame=frame,
        row_count=2,
    )
    path = tmp_path / "r.json"
    render(report(gappy, customers_table()), "json", path, limits=ExportLimits(max_rows=10))
    doc = json.loads(path.read_text("utf-8"))
    assert doc["truncated"] is True
    gaps, table = doc["widgets"]
    assert gaps["rows"] == [["2026-11-01", None], [None, 2.5]]
    assert (
        table["truncated"] is True
        and table["row_count"] == 250
        and table["rows_included"] == 10
        and len(table["rows"]) == 10
    )
    assert table["truncation_note"] == "Truncated at 10 of 250 rows (REPORT_MAX_ROWS)."


def test_xml_parses_and_matches_the_data(tmp_path):
    path = tmp_path / "r.xml"
    render(report(), "xml", path, limits=ExportLimits(max_rows=200))
    root = ET.parse(path).getroot()
    assert (
        root.tag == "report"
        and root.get("schema") == "nexpo.report/1"
        and root.get("truncated") == "true"
    )
    assert (
        root.get("generated-at") == "2026-11-30T14:05:00+01:00"
        and root.get("timezone") == "Europe/Berlin"
    )
    assert root.findtext("title") == "Revenue overview"
    assert {f.get("name"): f.text for f in root.iter("filter")} == {"plan": "pro", "country": "DE"}
    widgets = {w.get("id"): w for w in root.iter("widget")}
    assert widgets["mrr"].find("card").get("value") == "12345.67"
    bar = widgets["revenue-by-processor"].find("table")
    assert [c.get("type") for c in bar.iter("column")] == ["text", "money"]
    assert [[v.text for v in r] for r in bar.iter("r")] == [
        ["stripe", "5000.5"],
        ["paypal", "3000.25"],
        ["adyen", "1200.0"],
    ]
    table = widgets["top-customers"].find("table")
    assert table.get("row-count") == "250" and table.get("rows-included") == "200"
    assert table.find("truncation").text == "Truncated at 200 of 250 rows (REPORT_MAX_ROWS)."
    rows = table.findall("r")
    assert len(rows) == 200 and [v.text for v in rows[-1]] == [
        "cus_0200",
        "2026-07-19",
        "pro",
        str(10 + 199 * 1.25),
        str(1 + 199 % 17),
    ]


def test_xml_escapes_markup_and_drops_characters_xml_cannot_hold(tmp_path):
    frame = pd.DataFrame({"name": ["<b>&co</b>", "bell\x07"], "n": [1, 2]})
    w = WidgetResult(
        widget=widget("names", "table", 'Names "&" <more>'), window=WINDOW, frame=frame, row_count=2
    )
    path = tmp_path / "r.xml"
    render(report(w), "xml", path)
    root = ET.parse(path).getroot()
    assert root.find(".//widget").get("title") == 'Names "&" <more>'
    assert [r[0].text for r in root.iter("r")] == ["<b>&co</b>", "bell"]


def test_time_zone_aware_times_are_written_in_the_report_zone_and_decimals_as_numbers(tmp_path):
    from decimal import Decimal

    frame = pd.DataFrame(
        {
            "at": pd.to_datetime(["2026-11-30T13:05:00Z", "2026-07-01T00:30:00Z"], utc=True),
            "amount": [Decimal("12.50"), Decimal("0.10")],
        }
    )
    spec = widget("payments", "table", "Payments", y=["amount"], format="money")
    path = tmp_path / "r.json"
    render(report(WidgetResult(widget=spec, window=WINDOW, frame=frame, row_count=2)), "json", path)
    table = json.loads(path.read_text("utf-8"))["widgets"][0]
    assert [c["type"] for c in table["columns"]] == ["datetime", "money"]
    # Europe/Berlin: UTC+1 in November, UTC+2 in July.
    assert table["rows"] == [["2026-11-30T14:05:00", 12.5], ["2026-07-01T02:30:00", 0.1]]
