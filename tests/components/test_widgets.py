"""widget_body: each widget type drawn by its builder, errors and notes shown in the widget."""

from datetime import date

import dash_ag_grid as dag
import pandas as pd
from dash import dcc

from components.widgets import widget_body
from engine.generate import WidgetResult
from engine.periods import Window
from engine.spec import WidgetSpec

WINDOW = Window(date(2026, 11, 1), date(2026, 11, 30))


def _result(type_: str, frame: pd.DataFrame | None = None, **options) -> WidgetResult:
    widget = WidgetSpec(id="w", type=type_, title="W", metric="mrr", options=options)
    return WidgetResult(widget=widget, window=WINDOW, frame=frame)


def _find(component, kind):
    if isinstance(component, kind):
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str):
            found = _find(child, kind)
            if found is not None:
                return found
    return None


def test_each_chart_type_is_dispatched_to_its_builder():
    cases = {
        "line": (pd.DataFrame({"date": [1, 2], "value": [1, 2]}), {}, "scatter"),
        "stacked_bar": (pd.DataFrame({"date": [1], "a": [1], "b": [2]}), {"y": ["a", "b"]}, "bar"),
        "funnel": (
            pd.DataFrame({"step": [1, 2], "event": ["a", "b"], "count": [4, 2]}),
            {},
            "funnel",
        ),
        "cohort_heatmap": (
            pd.DataFrame({"cohort": ["2026-11-02"] * 2, "period": [0, 1], "count": [4, 2]}),
            {},
            "heatmap",
        ),
        "gauge": (
            pd.DataFrame({"period_start": [1], "value": [3.0], "goal": [4.0]}),
            {},
            "indicator",
        ),
        "pie": (
            pd.DataFrame({"p": ["x", "y"], "revenue": [1, 2]}),
            {"names": "p", "value": "revenue"},
            "pie",
        ),
    }
    for type_, (frame, options, trace_type) in cases.items():
        graph = _find(widget_body(_result(type_, frame, **options)), dcc.Graph)
        assert graph is not None, type_
        assert graph.figure.data[0].type == trace_type, type_


def test_labels_rename_series():
    frame = pd.DataFrame({"date": [1, 2], "value": [1, 2]})
    graph = _find(widget_body(_result("line", frame, labels={"value": "DAU"})), dcc.Graph)
    assert graph.figure.data[0].name == "DAU"


def test_table_widget_is_a_grid():
    frame = pd.DataFrame({"plan": ["Pro"], "revenue": [5.0]})
    grid = _find(widget_body(_result("table", frame, format="money")), dag.AgGrid)
    assert grid.rowData == [{"plan": "Pro", "revenue": 5.0}]
    assert grid.id == {"type": "widget-grid", "widget": "w"}


def test_error_is_shown_in_the_widget():
    result = _result("line")
    result.error = "The warehouse is not reachable."
    body = widget_body(result)
    assert body.className == "widget-error" and "The warehouse is not reachable." in body.children


def test_ignored_filters_are_noted_not_silently_dropped():
    result = _result("line", pd.DataFrame({"date": [1, 2], "value": [1, 2]}))
    result.meta["filters_ignored"] = ["plan"]
    chart, *notes = widget_body(result).children
    assert isinstance(chart, dcc.Graph)
    assert [n.children for n in notes] == ["Filters not applied to this widget: plan."]


def test_an_ignored_revenue_type_says_why():
    result = _result("line", pd.DataFrame({"date": [1, 2], "value": [1, 2]}))
    result.meta["filters_ignored"] = ["revenue_type"]
    result.meta["filters_note"] = "Not applied here — revenue type: MRR is recurring."
    _, *notes = widget_body(result).children
    assert [n.children for n in notes] == ["Not applied here — revenue type: MRR is recurring."]
    assert notes[0].to_plotly_json()["props"]["data-testid"] == "filters-ignored"


def test_a_this_month_card_names_the_period_it_shows():
    result = _result("metric_card", format="percent")
    result.value, result.meta["period_label"] = 0.5, "month to date, Dec 1–3"
    body = widget_body(result)
    period = [
        c
        for c in body.children
        if getattr(c, "className", "") == "metric-period small text-secondary"
    ]
    assert [c.children for c in period] == ["month to date, Dec 1–3"]
