"""The figure of a widget for image and PDF exports, built by the same components.figures as the screen."""

from __future__ import annotations

from typing import TYPE_CHECKING

import plotly.graph_objects as go

from components import figures
from components.formats import CURRENCY_SYMBOLS, change_text
from components.theme import FONT, PALETTE

if TYPE_CHECKING:
    from engine.generate import WidgetResult

CHART_TYPES = ("line", "area", "bar", "stacked_bar")


def has_figure(result: WidgetResult) -> bool:
    """Whether the widget draws as a chart (else PDFs show it as a card or a table)."""
    frame = result.frame
    return (
        not result.error
        and result.widget.type in CHART_TYPES
        and frame is not None
        and not frame.empty
    )


def widget_figure(result: WidgetResult, currency: str = "USD", *, title: bool = False) -> go.Figure:
    """The widget's figure exactly as on screen; `title=True` adds the widget title (standalone images).

    Metric cards become an indicator (value and change against the previous period).
    Raises ValueError for a widget without a figure (an error, no rows, or a table).
    """
    widget = result.widget
    fmt = widget.options.get("format", "number")
    if widget.type == "metric_card" and not result.error:
        fig = _card_figure(result, fmt, currency)
    elif has_figure(result):
        x, ys = widget.options.get("x", "date"), widget.options.get("y", ["value"])
        if widget.type in ("line", "area"):
            fig = figures.line_figure(
                result.frame, x, ys, value_format=fmt, area=widget.type == "area"
            )
        else:
            fig = figures.bar_figure(
                result.frame, x, ys, value_format=fmt, stacked=widget.type == "stacked_bar"
            )
    else:
        raise ValueError(f"widget {widget.id!r} ({widget.type}) has no figure to export")
    if title:
        fig.update_layout(
            title={"text": widget.title, "x": 0.01, "xanchor": "left", "font": {"size": 16}},
            margin_t=56,
        )
    return fig


def _card_figure(result: WidgetResult, fmt: str, currency: str) -> go.Figure:
    symbol = CURRENCY_SYMBOLS.get(currency, currency + " ")
    number = {
        "money": {"prefix": symbol, "valueformat": ",.2f"},
        "percent": {"valueformat": ".1%"},
    }.get(fmt, {"valueformat": ",.0f"})
    fig = go.Figure(
        go.Indicator(
            mode="number",
            value=result.value,
            number={**number, "font": {"size": 44, "color": PALETTE[0]}},
            title={"text": change_text(result.change), "font": {"size": 13}},
        )
    )
    fig.update_layout(
        height=200, width=420, font={"family": FONT}, margin={"l": 16, "r": 16, "t": 72, "b": 16}
    )
    return fig
