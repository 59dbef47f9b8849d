"""Figure builders: a DataFrame in, a go.Figure out; the same figure for screen, PNG and PDF."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

import components.theme  # noqa: F401  (registers the template)
from components.theme import PALETTE

TICK_FORMATS = {"money": "$,.0f", "percent": ".0%", "number": ",.0f"}
HOVER_FORMATS = {"money": "$,.2f", "percent": ".1%", "number": ",.0f"}


def _label(column: str) -> str:
    return column.replace("_ma7", " (7-day avg)").replace("_", " ").capitalize()


def line_figure(
    frame: pd.DataFrame,
    x: str,
    ys: Sequence[str],
    *,
    value_format: str = "number",
    area: bool = False,
) -> go.Figure:
    """Trend lines; a column ending in `_ma7` is drawn as a bold moving-average line over the raw series."""
    fig = go.Figure()
    for i, y in enumerate(ys):
        smooth = y.endswith("_ma7")
        fig.add_trace(
            go.Scatter(
                x=frame[x],
                y=frame[y],
                name=_label(y),
                mode="lines",
                line={"width": 3 if smooth else 1.5, "color": PALETTE[i % len(PALETTE)]},
                opacity=1 if smooth or len(ys) == 1 else 0.55,
                fill="tozeroy" if area and i == 0 else None,
                hovertemplate=f"%{{y:{HOVER_FORMATS[value_format]}}}<extra>{_label(y)}</extra>",
            )
        )
    fig.update_layout(
        hovermode="x unified", yaxis_tickformat=TICK_FORMATS[value_format], height=320
    )
    return fig


def bar_figure(
    frame: pd.DataFrame,
    x: str,
    ys: Sequence[str],
    *,
    value_format: str = "number",
    stacked: bool = False,
) -> go.Figure:
    fig = go.Figure(
        [
            go.Bar(
                x=frame[x],
                y=frame[y],
                name=_label(y),
                marker_color=PALETTE[i % len(PALETTE)],
                hovertemplate=f"%{{x}}: %{{y:{HOVER_FORMATS[value_format]}}}<extra></extra>",
            )
            for i, y in enumerate(ys)
        ]
    )
    fig.update_layout(
        barmode="stack" if stacked else "group",
        yaxis_tickformat=TICK_FORMATS[value_format],
        height=320,
        showlegend=len(ys) > 1,
    )
    return fig


def sparkline_figure(frame: pd.DataFrame, x: str, y: str) -> go.Figure:
    """A tiny trend line; the y axis hugs the data so a 10 % move is visible."""
    fig = go.Figure(
        go.Scatter(
            x=frame[x],
            y=frame[y],
            mode="lines",
            line={"width": 2, "color": PALETTE[0]},
            hoverinfo="skip",
        )
    )
    fig.update_layout(
        height=48,
        margin={"l": 0, "r": 0, "t": 2, "b": 2},
        xaxis={"visible": False},
        yaxis={"visible": False, "autorange": True, "rangemode": "normal"},
        showlegend=False,
    )
    return fig
