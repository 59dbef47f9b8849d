"""The one place a dcc.Graph is made: every chart gets the same toolbar, with no upload to Plotly Cloud."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from dash import dcc

# plotly.js draws a "Share chart..." button (sendChartToCloud) unless showSendToCloud is false;
# it posts the chart's data to an outside service. The older names are removed too, so a
# plotly.js that still knows them offers no upload either.
CLOUD_BUTTONS = ["sendChartToCloud", "sendDataToCloud", "editInChartStudio"]

GRAPH_CONFIG: dict[str, Any] = {
    "displaylogo": False,
    "responsive": True,
    "showSendToCloud": False,
    "showEditInChartStudio": False,
    "showLink": False,
    "plotlyServerURL": "",
    "modeBarButtonsToRemove": ["lasso2d", "select2d", *CLOUD_BUTTONS],
}

# Sparklines: no toolbar at all, no hover.
STATIC_CONFIG: dict[str, Any] = {**GRAPH_CONFIG, "staticPlot": True, "displayModeBar": False}


def graph(figure: go.Figure | None = None, *, static: bool = False, **props: Any) -> dcc.Graph:
    """A dcc.Graph with the app's toolbar config (`static` for a chart without one)."""
    config = STATIC_CONFIG if static else GRAPH_CONFIG
    if figure is not None:
        props["figure"] = figure
    return dcc.Graph(config=dict(config), **props)
