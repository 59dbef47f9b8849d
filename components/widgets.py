"""Widget views: a WidgetResult drawn as a card, a chart, or its own error message."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from components import figures
from components.formats import change_text, format_value
from engine.generate import WidgetResult

GRAPH_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["lasso2d", "select2d"],
}


def widget_body(result: WidgetResult, currency: str = "USD") -> html.Div:
    """The inside of a widget card for this result."""
    widget = result.widget
    if result.error:
        return html.Div(
            [html.Strong("Could not load this widget. "), result.error],
            className="widget-error",
            role="alert",
        )
    fmt = widget.options.get("format", "number")
    if widget.type == "metric_card":
        return metric_card_body(result, fmt, currency)
    frame = result.frame
    if frame is None or frame.empty:
        return html.Div(
            "No data for this period.", className="text-secondary small py-4 text-center"
        )
    x, ys = widget.options.get("x", "date"), widget.options.get("y", ["value"])
    if widget.type in ("line", "area"):
        fig = figures.line_figure(frame, x, ys, value_format=fmt, area=widget.type == "area")
    elif widget.type in ("bar", "stacked_bar"):
        fig = figures.bar_figure(
            frame, x, ys, value_format=fmt, stacked=widget.type == "stacked_bar"
        )
    else:
        return html.Div(
            f"Widget type {widget.type} is not available yet.", className="text-secondary small"
        )
    notes = (
        [
            html.Div(
                f"Truncated at {result.truncated_at:,} of {result.row_count:,} rows.",
                className="small text-warning",
            )
        ]
        if result.truncated_at
        else []
    )
    return html.Div([dcc.Graph(figure=fig, config=GRAPH_CONFIG), *notes])


def metric_card_body(result: WidgetResult, fmt: str, currency: str) -> html.Div:
    lower_is_better = bool(result.widget.options.get("lower_is_better"))
    change = result.change
    tone = "flat" if not change else ("up" if (change > 0) != lower_is_better else "down")
    children = [
        html.Div(
            format_value(result.value, fmt, currency),
            className="metric-value",
            **{"data-testid": "metric-value"},
        ),
        html.Div(change_text(change), className=f"metric-change small {tone}"),
    ]
    if result.sparkline is not None and len(result.sparkline) > 1:
        x, y = result.sparkline.columns[:2]
        children.append(
            dcc.Graph(
                figure=figures.sparkline_figure(result.sparkline, x, y),
                config={"staticPlot": True},
                className="mt-2",
            )
        )
    return html.Div(children)


def widget_card(
    widget_id: str, title: str, body: html.Div | dcc.Loading, *, card: bool = False
) -> dbc.Card:
    return dbc.Card(
        [
            dbc.CardHeader(title, className="metric-label" if card else None),
            dbc.CardBody(body),
        ],
        className="widget-card shadow-sm " + ("metric-card" if card else ""),
        id={"type": "widget-card", "widget": widget_id},
    )
