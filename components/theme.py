"""The one Plotly theme of the service, registered as the default template."""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

PALETTE = ["#4f46e5", "#0ea5e9", "#10b981", "#f59e0b", "#ef4444", "#8b5cf6", "#14b8a6", "#64748b"]
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"

_NEXPO = go.layout.Template(
    layout=go.Layout(
        font={"family": FONT, "size": 12, "color": "#1f2937"},
        colorway=PALETTE,
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        margin={"l": 48, "r": 16, "t": 16, "b": 40},
        xaxis={"gridcolor": "#eef0f4", "linecolor": "#d1d5db", "zeroline": False},
        yaxis={"gridcolor": "#eef0f4", "linecolor": "#d1d5db", "zeroline": False},
        legend={"orientation": "h", "y": -0.18, "x": 0},
        hoverlabel={"font": {"family": FONT}},
    )
)
# Merged once: a "plotly_white+nexpo" default would be merged again by every go.Figure (~50-110 ms
# a figure, most of a widget request's time; bench/README.md "Dashboards").
pio.templates["nexpo"] = pio.templates.merge_templates(pio.templates["plotly_white"], _NEXPO)
pio.templates.default = "nexpo"
