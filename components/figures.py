"""Figure builders: a DataFrame in, a go.Figure out; the same figure for screen, PNG and PDF."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

import components.theme  # noqa: F401  (registers the template)
from components.theme import PALETTE

TICK_FORMATS = {"money": "$,.0f", "percent": ".0%", "number": ",.0f"}
HOVER_FORMATS = {"money": "$,.2f", "percent": ".1%", "number": ",.0f"}
GAUGE_TICKS = {"money": "$.2~s", "percent": ".0%", "number": ".2~s"}
ACRONYMS = {"dau", "mau", "mrr", "arr", "arpa", "ltv", "clv", "kpi", "nrr", "grr"}


def _label(column: str) -> str:
    column = re.sub(r"_ma(\d+)$", r" (\1-point avg)", column).replace("(7-point", "(7-day")
    words = column.replace("_", " ").capitalize().split(" ")
    return " ".join(w.upper() if w.lower() in ACRONYMS else w for w in words)


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
        smooth = re.search(r"_ma\d+$", y) is not None
        target = y.lower() == "goal"  # a goal line is drawn dashed, as a reference
        fig.add_trace(
            go.Scatter(
                x=frame[x],
                y=frame[y],
                name=_label(y),
                mode="lines",
                line={
                    "width": 3 if smooth else 2 if target else 1.5,
                    "color": PALETTE[i % len(PALETTE)],
                    "dash": "dash" if target else "solid",
                },
                opacity=1 if smooth or target or len(ys) == 1 else 0.55,
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
        # "relative" stacks negatives below zero (churn under new MRR), positives as "stack" does.
        barmode="relative" if stacked else "group",
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


def moving_average_figure(
    frame: pd.DataFrame, x: str, ys: Sequence[str], window: int, **kwargs: object
) -> go.Figure:
    """`line_figure` with a trailing `window`-point moving average drawn bold over each series."""
    frame = frame.sort_values(x)
    smoothed = frame.assign(
        **{f"{y}_ma{window}": frame[y].rolling(window, min_periods=1).mean() for y in ys}
    )
    columns = [c for y in ys for c in (y, f"{y}_ma{window}")]
    return line_figure(smoothed, x, columns, **kwargs)  # type: ignore[arg-type]


def funnel_figure(
    frame: pd.DataFrame,
    label: str = "event",
    value: str = "count",
    *,
    step: str | None = "step",
    group: str | None = None,
) -> go.Figure:
    """A conversion funnel: one bar per step, with its count and its share of the first step.

    With `group` (a breakdown column), one funnel per value of it, side by side in one chart.
    """
    ordered = frame.sort_values(step) if step and step in frame else frame
    groups = list(ordered.groupby(group, sort=False)) if group else [(None, ordered)]
    fig = go.Figure()
    for i, (name, rows) in enumerate(groups):
        labels = [
            f"{n}. {_label(str(e))}" if step else _label(str(e))
            for n, e in zip(
                rows[step] if step else range(1, len(rows) + 1), rows[label], strict=True
            )
        ]
        fig.add_trace(
            go.Funnel(
                y=labels,
                x=rows[value],
                name=str(name) if name is not None else "Funnel",
                textinfo="value+percent initial",
                textposition="auto",
                marker={"color": PALETTE[i % len(PALETTE)]},
                connector={"line": {"color": "#d1d5db", "width": 1}},
                hovertemplate="%{y}<br>%{x:,} persons<br>%{percentInitial:.1%} of step 1"
                "<br>%{percentPrevious:.1%} of the previous step<extra></extra>",
            )
        )
    fig.update_layout(
        height=320,
        showlegend=group is not None,
        margin={"l": 140, "r": 16, "t": 8, "b": 24},
        funnelmode="group",
    )
    return fig


def cohort_heatmap_figure(
    frame: pd.DataFrame,
    cohort: str = "cohort",
    period: str = "period",
    value: str = "count",
    *,
    relative: bool = True,
    value_format: str = "percent",
    period_label: str = "Period",
) -> go.Figure:
    """Cohorts (rows) × periods since the start (columns), from long-format rows.

    `relative=True` divides each row by its period-0 value (retention counts become shares of the
    cohort); otherwise the values are drawn as they are (cohort_mrr_retention's ratio already is).
    """
    # sum(min_count=1): a period with no value (not over yet) stays blank, not 0%.
    matrix = frame.groupby([cohort, period])[value].sum(min_count=1).unstack(period)
    matrix = matrix.sort_index().sort_index(axis=1)
    sizes = matrix[matrix.columns[0]] if len(matrix.columns) else pd.Series(dtype=float)
    if relative and len(matrix.columns):
        matrix = matrix.div(sizes.where(sizes != 0), axis=0)
        value_format = "percent"
    rows = [_cohort_label(c) for c in matrix.index]
    if relative:
        rows = [f"{r} · {int(n):,}" for r, n in zip(rows, sizes, strict=True)]
    z = [[None if pd.isna(v) else float(v) for v in row] for row in matrix.to_numpy(dtype=float)]
    text = [["" if v is None else _cell(v, value_format) for v in row] for row in z]
    percent = value_format == "percent"
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[str(p) for p in matrix.columns],
            y=rows,
            text=text,
            texttemplate="%{text}",
            textfont={"size": 11},
            colorscale=[[0, "#eef2ff"], [0.5, "#818cf8"], [1, PALETTE[0]]],
            zmin=0 if percent else None,
            zmax=1 if percent and relative else None,
            xgap=2,
            ygap=2,
            showscale=False,
            hovertemplate=f"%{{y}}<br>{period_label} %{{x}}: %{{text}}<extra></extra>",
        )
    )
    fig.update_layout(
        height=max(220, 34 * len(rows) + 70),
        xaxis={
            "title": {"text": period_label},
            "side": "top",
            "type": "category",
            "showgrid": False,
        },
        yaxis={"autorange": "reversed", "type": "category", "showgrid": False},
        margin={"l": 120, "r": 8, "t": 48, "b": 8},
    )
    return fig


def _cohort_label(value: object) -> str:
    try:
        stamp = pd.Timestamp(value)  # a date, or an ISO date string
    except (ValueError, TypeError):
        return str(value)
    if pd.isna(stamp):
        return str(value)
    return f"{stamp:%b %Y}" if stamp.day == 1 else f"{stamp:%b %-d, %Y}"


def _cell(value: float, value_format: str) -> str:
    if value_format == "percent":
        return f"{value * 100:.0f}%" if abs(value) >= 0.1 else f"{value * 100:.1f}%"
    if value_format == "money":
        return f"${value:,.0f}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def gauge_figure(
    frame: pd.DataFrame,
    value: str = "value",
    goal: str = "goal",
    *,
    order_by: str | None = "period_start",
    value_format: str = "number",
    currency_symbol: str = "$",
    lower_is_better: bool = False,
    max_value: float | None = None,
) -> go.Figure:
    """The latest row's value against its goal: a gauge with the goal as a marker line, and the
    difference to the goal as a relative delta (green when on the right side of it).

    When the latest row has no value yet (a month whose first days decided nothing), the latest
    row with one is drawn and the title names its period: never an empty gauge while an earlier
    period has a value."""
    rows = frame.sort_values(order_by) if order_by and order_by in frame else frame
    valued = rows[rows[value].notna()]
    row = valued.iloc[-1] if len(valued) else rows.iloc[-1]
    earlier = len(valued) > 0 and row.name != rows.index[-1] and order_by in rows
    current = float(row[value]) if pd.notna(row[value]) else None
    target = None if goal not in rows or pd.isna(row[goal]) else float(row[goal])
    # The axis ends at `max_value` (a ratio's 100%) or a quarter above the value and the goal.
    top = max_value or max(current or 0.0, target or 0.0) * 1.25 or 1.0
    number = {
        "money": {"prefix": currency_symbol, "valueformat": ",.0f"},
        "percent": {"valueformat": ".1%"},
    }.get(value_format, {"valueformat": ",.0f"})
    good, bad = {"color": "#059669"}, {"color": "#dc2626"}
    # The number sits inside the arc: long ones ("$11,113,920") get a smaller font, not clipped.
    shown = len(_goal_text(current, value_format, currency_symbol))
    size = 28 if shown <= 8 else max(14, round(28 * 8 / shown))
    title = [f"goal {_goal_text(target, value_format, currency_symbol)}"] if target else []
    if earlier:
        title.append(f"{pd.Timestamp(row[order_by]):%B %Y}: latest with a value")
    indicator = go.Indicator(
        mode="gauge+number+delta" if target else "gauge+number",
        value=current,
        number={**number, "font": {"size": size}},
        delta={
            "reference": target,
            "relative": True,
            "valueformat": ".1%",
            "font": {"size": 14},
            "increasing": bad if lower_is_better else good,
            "decreasing": good if lower_is_better else bad,
        }
        if target
        else None,
        gauge={
            "axis": {"range": [0, top], "tickformat": GAUGE_TICKS[value_format], "nticks": 5},
            "bar": {"color": PALETTE[0], "thickness": 0.6},
            "bgcolor": "#eef0f4",
            "borderwidth": 0,
            "threshold": {
                "line": {"color": "#111827", "width": 3},
                "thickness": 0.9,
                "value": target,
            }
            if target
            else None,
        },
        title={"text": " · ".join(title), "font": {"size": 12}} if title else None,
        domain={"x": [0, 1], "y": [0, 1]},
    )
    fig = go.Figure(indicator)
    # Side margins leave room for the end tick labels ("$15M") beside the arc.
    fig.update_layout(height=220, margin={"l": 44, "r": 44, "t": 40, "b": 8})
    return fig


def _goal_text(value: float | None, value_format: str, symbol: str) -> str:
    if value is None:
        return "—"
    if value_format == "percent":
        return f"{value * 100:.1f}%"
    if value_format == "money":
        return f"{symbol}{value:,.0f}"
    return f"{value:,.0f}"


def pie_figure(
    frame: pd.DataFrame,
    names: str,
    values: str,
    *,
    value_format: str = "number",
    donut: bool = True,
) -> go.Figure:
    """Shares of a whole: one slice per row of `names`, largest first; a donut by default."""
    fig = go.Figure(
        go.Pie(
            labels=frame[names].astype(str),
            values=frame[values],
            hole=0.55 if donut else 0,
            sort=True,
            direction="clockwise",
            texttemplate="%{percent:.1%}",
            marker={"colors": PALETTE, "line": {"color": "#ffffff", "width": 2}},
            hovertemplate=f"%{{label}}: %{{value:{HOVER_FORMATS[value_format]}}}"
            " (%{percent})<extra></extra>",
        )
    )
    fig.update_layout(height=320, margin={"l": 8, "r": 8, "t": 8, "b": 8}, legend={"y": -0.05})
    return fig
