"""Widget views: a WidgetResult drawn as a card, a chart, or its own error message."""

from __future__ import annotations

import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html
from dash.development.base_component import Component

from components import figures, tables
from components.formats import CURRENCY_SYMBOLS, change_text, format_value
from components.graphs import graph
from engine.generate import WidgetResult
from engine.spec import WidgetSpec


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
        body = metric_card_body(result, fmt, currency)
        body.children.extend(_notes(result, []))
        return body
    frame = result.frame
    if frame is None or frame.empty:
        return html.Div(
            "No data for this period.", className="text-secondary small py-4 text-center"
        )
    content = widget_content(result, currency)
    notes = []
    if result.truncated_at:
        notes.append(f"Truncated at {result.truncated_at:,} of {result.row_count:,} rows.")
    return html.Div([content, *_notes(result, notes)])


def widget_content(result: WidgetResult, currency: str = "USD") -> Component:
    """The chart or table of a widget with rows, chosen by `widget.type` and its options."""
    widget, frame, options = result.widget, result.frame, result.widget.options
    if widget.type == "table":
        return tables.comparison_table(
            frame,
            columns=options.get("columns"),
            formats=options.get("formats"),
            default_format=options.get("format", "number"),
            currency=currency,
            labels=options.get("labels"),
            grid_id={"type": "widget-grid", "widget": widget.id},
        )
    fig = widget_figure(widget, frame, currency)
    if fig is None:
        return html.Div(
            f"Widget type {widget.type} is not available yet.", className="text-secondary small"
        )
    return graph(fig, className="widget-graph")


def widget_figure(
    widget: WidgetSpec, frame: pd.DataFrame, currency: str = "USD"
) -> go.Figure | None:
    """The figure of a chart widget (None for cards and tables); shared by screen and exports."""
    options = widget.options
    fmt = options.get("format", "number")
    x, ys = options.get("x", "date"), options.get("y", ["value"])
    ys = [ys] if isinstance(ys, str) else ys
    if options.get("labels") and widget.type in ("line", "area", "bar", "stacked_bar"):
        # Series names come from column names: rename the columns the widget relabels.
        labels = {k: v for k, v in options["labels"].items() if k != x}
        frame = frame.rename(columns=labels)
        ys = [labels.get(y, y) for y in ys]
    if widget.type in ("line", "area"):
        if options.get("moving_average"):
            return figures.moving_average_figure(
                frame,
                x,
                ys,
                int(options["moving_average"]),
                value_format=fmt,
                area=widget.type == "area",
            )
        return figures.line_figure(frame, x, ys, value_format=fmt, area=widget.type == "area")
    if widget.type in ("bar", "stacked_bar"):
        return figures.bar_figure(
            frame, x, ys, value_format=fmt, stacked=widget.type == "stacked_bar"
        )
    if widget.type == "funnel":
        return figures.funnel_figure(
            frame,
            options.get("label", "event"),
            options.get("value", "count"),
            step=options.get("step", "step"),
            group=options.get("group"),
        )
    if widget.type == "cohort_heatmap":
        return figures.cohort_heatmap_figure(
            frame,
            options.get("cohort", "cohort"),
            options.get("period", "period"),
            options.get("value", "count"),
            relative=bool(options.get("relative", True)),
            value_format=options.get("format", "percent"),
            period_label=options.get("period_label", "Period"),
        )
    if widget.type == "gauge":
        return figures.gauge_figure(
            frame,
            options.get("value", "value"),
            options.get("goal", "goal"),
            order_by=options.get("x", "period_start"),
            value_format=fmt,
            currency_symbol=CURRENCY_SYMBOLS.get(currency, currency + " "),
            lower_is_better=bool(options.get("lower_is_better")),
            max_value=float(options["max"]) if options.get("max") is not None else None,
        )
    if widget.type == "pie":
        return figures.pie_figure(
            frame,
            options.get("names", x),
            options.get("value", ys[0]),
            value_format=fmt,
            donut=bool(options.get("donut", True)),
        )
    return None


def _notes(result: WidgetResult, notes: list[str]) -> list[html.Div]:
    """Small print under a widget: truncation, an ignored filter, a widened window."""
    ignored = result.meta.get("filters_ignored")
    if ignored:
        names = ", ".join(n.replace("_", " ") for n in ignored)
        notes.append(
            result.meta.get("filters_note") or f"Filters not applied to this widget: {names}."
        )
    if result.widget.options.get("window_days"):
        notes.append(f"Shows {result.window.label()}.")
    return [
        html.Div(
            note,
            className="widget-note small text-secondary",
            **(
                {"data-testid": "filters-ignored"}
                if note.startswith(("Filters", "Not applied"))
                else {}
            ),
        )
        for note in notes
    ]


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
    if result.meta.get("period_label"):
        # Which period a "this month" card shows ("month to date, Dec 1–3").
        children.append(
            html.Div(
                result.meta["period_label"],
                className="metric-period small text-secondary",
                **{"data-testid": "metric-period"},
            )
        )
    if result.sparkline is not None and len(result.sparkline) > 1:
        x, y = result.sparkline.columns[:2]
        children.append(
            graph(figures.sparkline_figure(result.sparkline, x, y), static=True, className="mt-2")
        )
    return html.Div(children)


def widget_card(
    widget_id: str,
    title: str,
    body: html.Div | dcc.Loading,
    *,
    card: bool = False,
    menu: html.Div | None = None,
) -> dbc.Card:
    # `menu`: the widget's export menu (components/export_menu.py), right of the title.
    header = [html.Span(title, className="widget-title"), menu] if menu is not None else title
    return dbc.Card(
        [
            dbc.CardHeader(
                header,
                className=("metric-label " if card else "")
                + ("d-flex align-items-start" if menu is not None else "")
                or None,
            ),
            dbc.CardBody(body),
        ],
        className="widget-card shadow-sm " + ("metric-card" if card else ""),
        id={"type": "widget-card", "widget": widget_id},
    )
