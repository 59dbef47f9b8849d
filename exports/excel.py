"""Excel export: a Summary sheet plus one typed sheet per widget, with native charts for chart widgets."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from components.formats import CURRENCY_SYMBOLS
from exports.columns import Column, chunks, columns_of, normalise
from exports.output import Output, atomic_output
from exports.result import Deadline, ExportLimits, ReportResult, Truncation
from exports.xlsx import Chart, Series, Workbook, safe_sheet_name, serial_days

if TYPE_CHECKING:  # engine types only: renderers run without importing the engine
    from engine.generate import WidgetResult

CHUNK_ROWS = 5000
CHART_TYPES = ("line", "area", "bar", "stacked_bar")
# Widths in Excel character units for the kinds whose text width is known from the format.
FIXED_WIDTHS = {"date": 12, "datetime": 20, "percent": 10, "boolean": 8}
MIN_WIDTH, MAX_WIDTH = 8, 60


def currency_format(currency: str) -> str:
    """An Excel number format showing the report currency: "$"#,##0.00 or "CHF "#,##0.00."""
    symbol = CURRENCY_SYMBOLS.get(currency, currency + " ")
    return f'"{symbol}"#,##0.00;-"{symbol}"#,##0.00'


def render_excel(
    result: ReportResult,
    out: Output,
    *,
    limits: ExportLimits | None = None,
    deadline: Deadline | None = None,
) -> None:
    """Write `result` as an .xlsx workbook to `out`, atomically."""
    limits = limits or ExportLimits()
    deadline = deadline or Deadline(limits.timeout_seconds)
    with atomic_output(out) as fh:
        tables = [
            w
            for w in result.widgets
            if w.widget.type != "metric_card" and not w.error and w.frame is not None
        ]
        # Sheet names are decided first so the summary can link to them.
        names = _sheet_names(tables)
        with Workbook(fh, currency_format=currency_format(result.currency)) as book:
            _summary(book, result, limits, names)
            for widget in tables:
                deadline.check("Excel export")
                _widget_sheet(book, result, widget, names[widget.widget.id], limits, deadline)


def _sheet_names(tables: list[WidgetResult]) -> dict[str, str]:
    taken = {"summary"}
    return {w.widget.id: safe_sheet_name(w.widget.title, taken) for w in tables}


def _summary(
    book: Workbook, result: ReportResult, limits: ExportLimits, names: dict[str, str]
) -> None:
    local = result.generated_local.replace(tzinfo=None)
    window = result.widgets[0].window if result.widgets else None
    facts: list[tuple[str, object, str]] = [("Period", result.period_label, "default")]
    if window:
        facts += [("Start", window.start, "date"), ("End", window.end, "date")]
    facts += [
        (f"Generated at ({result.timezone})", local, "datetime"),
        ("Time zone", f"{result.timezone} (UTC{result.generated_local:%z})", "default"),
        ("Currency", result.currency, "default"),
        (
            "Filters",
            "; ".join(f"{k} = {v}" for k, v in result.filters.items()) or "none",
            "default",
        ),
        ("Row limit per table", limits.max_rows, "integer"),
    ]
    extent = (1 + len(facts) + 2 + len(result.widgets), 7)  # title, facts, blank, header, widgets
    sheet = book.sheet("Summary", [30, 22, 18, 18, 14, 12, 60], extent=extent)
    sheet.row([result.title], "title")
    for label, value, style in facts:
        sheet.row([label, value], ["label", style])
    sheet.row([])
    sheet.row(["Widget", "Type", "Value", "Previous", "Change", "Rows", "Note"], "header")
    truncations = {t.widget_id: t for t in result.truncations(limits.max_rows)}
    for w in result.widgets:
        fmt = w.widget.options.get("format", "number")
        whole = all(v is None or float(v).is_integer() for v in (w.value, w.previous))
        value_style = {"money": "money", "percent": "percent"}.get(
            fmt, "integer" if whole else "number"
        )
        note = _note(w, truncations.get(w.widget.id), names)
        rows = (
            None
            if w.widget.type == "metric_card" or w.frame is None
            else max(w.row_count, len(w.frame))
        )
        styles = [
            "default",
            "default",
            value_style,
            value_style,
            "percent",
            "integer",
            "note" if w.error or w.widget.id in truncations else "default",
        ]
        if w.widget.type == "metric_card":
            r = sheet.row(
                [w.widget.title, "metric card", w.value, w.previous, w.change, rows, note], styles
            )
        else:
            r = sheet.row([w.widget.title, w.widget.type, None, None, None, rows, note], styles)
        if w.widget.id in names:
            sheet.link(f"A{r}", names[w.widget.id], w.widget.title)
    sheet.close()


def _note(w: WidgetResult, truncation: Truncation | None, names: dict[str, str]) -> str:
    if w.error:
        return f"Error: {w.error}"
    if truncation:
        return truncation.note()
    if w.widget.id in names:
        return f"Data on sheet '{names[w.widget.id]}'"
    if w.widget.type != "metric_card":
        return "No data for this period."
    return ""


def _widget_sheet(
    book: Workbook,
    result: ReportResult,
    widget: WidgetResult,
    name: str,
    limits: ExportLimits,
    deadline: Deadline,
) -> None:
    frame, truncation = result.table(widget, limits.max_rows)
    assert frame is not None
    columns = columns_of(frame, widget.widget)
    frame = normalise(frame, columns, result.timezone)
    widths = [_width(frame[c.name], c) for c in columns]
    side = len(columns) + 1  # one empty column between the data and the note / chart
    extent = (1 + len(frame), len(columns) + (2 if truncation else 0))
    sheet = book.sheet(
        name, [*widths, 3, 40] if truncation else widths, freeze_header=True, extent=extent
    )
    header: list[object] = [c.label for c in columns]
    styles = ["header"] * len(columns)
    if truncation:
        # Beside the header, not below the rows: the table stays pure data for readers and pivots.
        header += [None, truncation.note()]
        styles += ["default", "note"]
    sheet.row(header, styles)
    for chunk in chunks(frame, CHUNK_ROWS):
        deadline.check("Excel export")
        sheet.columns([_typed(chunk[c.name], c) for c in columns])
    last = sheet.next_row - 1
    if columns:
        sheet.autofilter(1, last, len(columns))
    chart = _chart(widget, columns, last, side, truncation is not None, book)
    if chart:
        sheet.chart(chart)
    sheet.close()


def _typed(series: pd.Series, column: Column) -> tuple[str, np.ndarray | list]:
    kind = column.kind
    if kind in ("date", "datetime"):
        return kind, serial_days(series)
    if kind in ("money", "percent", "integer", "number"):
        return kind, series.to_numpy(dtype="float64", na_value=np.nan)
    if kind == "boolean":
        return kind, [None if pd.isna(v) else bool(v) for v in series.tolist()]
    return "text", series.to_numpy(dtype="object")


def _width(series: pd.Series, column: Column) -> float:
    if column.kind in FIXED_WIDTHS:
        longest = FIXED_WIDTHS[column.kind]
    elif column.kind in ("money", "integer", "number"):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        biggest = (
            float(np.nanmax(np.abs(values))) if len(values) and not np.isnan(values).all() else 0.0
        )
        decimals = 0 if column.kind == "integer" else 3
        longest = len(f"{biggest:,.0f}") + decimals + (2 if column.kind == "money" else 1)
    else:
        sample = series.dropna()
        longest = int(sample.astype(str).str.len().max()) if len(sample) else 0
    return float(min(MAX_WIDTH, max(MIN_WIDTH, len(column.label) + 2, longest + 2)))


def _chart(
    widget: WidgetResult,
    columns: list[Column],
    last: int,
    side: int,
    truncated: bool,
    book: Workbook,
) -> Chart | None:
    kind = widget.widget.type
    if kind not in CHART_TYPES or last < 2:
        return None
    from components.theme import PALETTE  # plotly is imported only when a chart is drawn

    by_name = {c.name: i for i, c in enumerate(columns)}
    x = widget.widget.options.get("x", "date")
    ys = [y for y in widget.widget.options.get("y", ["value"]) if y in by_name]
    if x not in by_name or not ys:
        return None
    x_kind = columns[by_name[x]].kind
    fmt = widget.widget.options.get("format", "number")
    value_format = {
        "money": book.formats["money"].split(";")[0].replace(".00", ""),
        "percent": "0%",
    }.get(fmt, "#,##0")
    return Chart(
        kind=kind,
        title=widget.widget.title,
        category_col=by_name[x],
        series=[
            Series(by_name[y], by_name[y], PALETTE[i % len(PALETTE)].lstrip("#").upper())
            for i, y in enumerate(ys)
        ],
        first_row=2,
        last_row=last,
        category_format=book.formats.get(x_kind) if x_kind in ("date", "datetime") else None,
        value_format=value_format,
        anchor_col=side,
        anchor_row=2 if truncated else 1,
    )
