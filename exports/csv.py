"""CSV export: streamed in chunks, one table per widget (or just the selected widget's table).

Layout (see exports/SCHEMAS.md): a one-widget export is a plain table (header row, then rows).
A whole-report export starts with `# key: value` metadata lines, then a `# Summary` table of the
metric cards, then per widget a `# Widget: <title>` line, its table, and a blank line. A truncated
table is followed by a `# Truncated at N of M rows ...` record. A one-field record starting with
`#` is a comment (quoted like any CSV field when it holds a comma).
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, TextIO

import numpy as np
import pandas as pd

from exports.columns import (
    chunks,
    columns_of,
    neutralise,
    normalise,
    number_value,
    rounded,
    wire_values,
)
from exports.output import Output, atomic_output
from exports.result import Deadline, ExportLimits, ReportResult

if TYPE_CHECKING:  # engine types only: renderers run without importing the engine
    from engine.generate import WidgetResult

CHUNK_ROWS = 20_000
_NEEDS_QUOTES = r'[,"\r\n]'


def render_csv(
    result: ReportResult,
    out: Output,
    *,
    limits: ExportLimits | None = None,
    deadline: Deadline | None = None,
) -> None:
    """Write `result` as CSV (UTF-8, comma, CRLF row ends as RFC 4180) to `out`, atomically."""
    limits = limits or ExportLimits()
    deadline = deadline or Deadline(limits.timeout_seconds)
    with atomic_output(out) as fh:
        text = io.TextIOWrapper(fh, encoding="utf-8", newline="", write_through=False)
        try:
            if len(result.widgets) == 1:
                _single(text, result, result.widgets[0], limits, deadline)
            else:
                _report(text, result, limits, deadline)
            text.flush()
        finally:
            text.detach()


def _single(
    text: TextIO,
    result: ReportResult,
    widget: WidgetResult,
    limits: ExportLimits,
    deadline: Deadline,
) -> None:
    writer = csv.writer(text)
    if widget.error:
        _comment(text, f"Error: {widget.error}")
    elif widget.widget.type == "metric_card":
        _cards(writer, [widget])
    else:
        _table(text, writer, result, widget, limits, deadline)


def _report(text: TextIO, result: ReportResult, limits: ExportLimits, deadline: Deadline) -> None:
    writer = csv.writer(text)
    _comment(text, f"Report: {result.title}")
    _comment(text, f"Period: {result.period_label}")
    if result.filters:
        _comment(text, "Filters: " + "; ".join(f"{k}={v}" for k, v in result.filters.items()))
    _comment(text, f"Generated: {result.generated_label()}")
    _comment(text, f"Currency: {result.currency}")
    text.write("\r\n")
    cards = [w for w in result.widgets if w.widget.type == "metric_card"]
    if cards:
        _comment(text, "Summary")
        _cards(writer, cards)
        text.write("\r\n")
    for widget in result.widgets:
        if widget.widget.type == "metric_card":
            continue
        _comment(text, f"Widget: {widget.widget.title} ({widget.widget.id})")
        if widget.error:
            _comment(text, f"Error: {widget.error}")
        else:
            _table(text, writer, result, widget, limits, deadline)
        text.write("\r\n")


def _cards(writer: csv.writer, cards: list[WidgetResult]) -> None:
    writer.writerow(["widget", "title", "format", "value", "previous", "change", "error"])
    for w in cards:
        writer.writerow(
            [
                neutralise(w.widget.id),
                neutralise(w.widget.title),
                fmt := w.widget.options.get("format", "number"),
                _plain(number_value(w.value, fmt), fmt),
                _plain(number_value(w.previous, fmt), fmt),
                _plain(number_value(w.change, "percent"), "percent"),
                neutralise(w.error or ""),
            ]
        )


def _table(
    text: TextIO,
    writer: csv.writer,
    result: ReportResult,
    widget: WidgetResult,
    limits: ExportLimits,
    deadline: Deadline,
) -> None:
    frame, truncation = result.table(widget, limits.max_rows)
    if frame is None:
        _comment(text, "No data for this period.")
        return
    columns = columns_of(frame, widget.widget)
    frame = normalise(frame, columns, result.timezone)
    writer.writerow([neutralise(c.name) for c in columns])
    for chunk in chunks(frame, CHUNK_ROWS):
        deadline.check("CSV export")
        fields = [_fields(chunk[c.name], c.kind) for c in columns]
        if fields and fields[0]:
            # Joined in C (str.join over the row tuples): ~30% faster than csv.writer.writerows.
            text.write("\r\n".join(map(",".join, zip(*fields, strict=True))) + "\r\n")
    if truncation:
        _comment(text, truncation.note())


def _fields(series: pd.Series, kind: str) -> list[str]:
    """A column as CSV fields, quoted as the csv module would (only when needed), '' for missing."""
    if kind == "text":
        # Quote each distinct value once (found vectorised), then map the codes.
        codes, uniques = pd.factorize(series.astype("object"), use_na_sentinel=True)
        texts = pd.Series(uniques, dtype="object").astype(str).map(neutralise)
        needs = texts.str.contains(_NEEDS_QUOTES, regex=True).to_numpy(dtype=bool)
        quoted = [
            _quote(t) if n else t for t, n in zip(texts.tolist(), needs.tolist(), strict=True)
        ]
        quoted.append("")  # code -1: missing
        return [quoted[c] for c in codes.tolist()]
    if kind in ("money", "percent", "number"):
        # Rounded to the column's unit (money to cents, always two decimals; rates to 4; other
        # numbers to 6, whole ones without ".0"); map() over a plain list keeps it fast.
        array = rounded(series.to_numpy(dtype="float64", na_value=np.nan), kind)
        finite = np.isfinite(array)
        if kind == "money":
            out = list(map("{:.2f}".format, array.tolist()))
        elif kind == "number":
            out = list(map(str, wire_values(series, kind)))
        else:
            out = list(map(repr, array.tolist()))
        for i in np.flatnonzero(~finite).tolist():
            out[i] = ""
        return out
    if kind == "integer" and not series.isna().any():
        return list(map(str, series.to_numpy().tolist()))
    values = wire_values(series, kind)
    if kind == "boolean" or kind == "integer":
        return ["" if v is None else str(v) for v in values]
    return ["" if v is None else v for v in values]


def _plain(value: float | int | None, kind: str) -> str:
    if value is None:
        return ""
    return f"{value:.2f}" if kind == "money" else str(value)


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _comment(text: TextIO, line: str) -> None:
    # A one-field record, quoted by the csv module when it holds a comma: every line stays valid CSV.
    csv.writer(text).writerow(["# " + " ".join(line.split())])
