"""Every chart is made by components.graphs.graph: no toolbar offers an upload to Plotly Cloud."""

import ast
from datetime import date
from pathlib import Path

import pandas as pd
from dash import dcc

from components.widgets import widget_body
from engine.generate import WidgetResult
from engine.periods import Window
from engine.spec import WidgetSpec
from settings import PROJECT_ROOT
from tests.components.test_widgets import _find

SOURCE_DIRS = ["components", "pages", "layouts", "exports", "api", "security", "engine"]


def _graph_calls(path: Path) -> list[int]:
    """Line numbers of `dcc.Graph(...)` / `Graph(...)` calls in a module."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "Graph":
                lines.append(node.lineno)
    return lines


def test_no_module_but_graphs_makes_a_dcc_graph():
    offenders = {
        str(path.relative_to(PROJECT_ROOT)): lines
        for folder in SOURCE_DIRS
        for path in (PROJECT_ROOT / folder).rglob("*.py")
        if path.name != "graphs.py" and (lines := _graph_calls(path))
    }
    assert offenders == {}


def test_a_chart_widget_and_a_sparkline_have_no_share_button():
    widget = WidgetSpec(id="w", type="line", title="W", metric="mrr")
    frame = pd.DataFrame({"date": [1, 2], "value": [1, 2]})
    result = WidgetResult(
        widget=widget, window=Window(date(2026, 11, 1), date(2026, 11, 30)), frame=frame
    )
    chart = _find(widget_body(result), dcc.Graph)
    assert chart.config["showSendToCloud"] is False
    assert "sendChartToCloud" in chart.config["modeBarButtonsToRemove"]
    assert chart.config["displaylogo"] is False

    card = WidgetResult(
        widget=WidgetSpec(id="c", type="metric_card", title="C", metric="mrr"),
        window=Window(date(2026, 11, 1), date(2026, 11, 30)),
        frame=pd.DataFrame({"value": [5.0]}),
        sparkline=pd.DataFrame({"date": [1, 2, 3], "value": [1.0, 2.0, 3.0]}),
    )
    spark = _find(widget_body(card), dcc.Graph)
    assert spark is not None
    assert spark.config["staticPlot"] is True
    assert spark.config["showSendToCloud"] is False
