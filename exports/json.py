"""JSON export (schema `nexpo.report/1`, see exports/SCHEMAS.md), streamed row chunk by row chunk."""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any, TextIO

from exports.columns import chunks, columns_of, normalise, number_value, wire_values
from exports.output import Output, atomic_output
from exports.result import Deadline, ExportLimits, ReportResult

if TYPE_CHECKING:  # engine types only: renderers run without importing the engine
    from engine.generate import WidgetResult

SCHEMA = "nexpo.report/1"
CHUNK_ROWS = 20_000


def render_json(
    result: ReportResult,
    out: Output,
    *,
    limits: ExportLimits | None = None,
    deadline: Deadline | None = None,
) -> None:
    """Write `result` as one UTF-8 JSON document to `out`, atomically."""
    limits = limits or ExportLimits()
    deadline = deadline or Deadline(limits.timeout_seconds)
    with atomic_output(out) as fh:
        text = io.TextIOWrapper(fh, encoding="utf-8", newline="\n")
        try:
            header = report_header(result, limits)
            text.write(_dumps(header)[:-1])  # the header object, left open for "widgets"
            text.write(',"widgets":[')
            for i, widget in enumerate(result.widgets):
                text.write(("," if i else "") + "\n")
                _widget(text, result, widget, limits, deadline)
            text.write("\n]}\n")
            text.flush()
        finally:
            text.detach()


def report_header(result: ReportResult, limits: ExportLimits) -> dict[str, Any]:
    """The report-level fields shared by the JSON and XML schemas."""
    window = result.widgets[0].window if result.widgets else None
    return {
        "schema": SCHEMA,
        "key": result.key,
        "title": result.title,
        "period": {
            "label": result.period_label,
            "start": window.start.isoformat() if window else None,
            "end": window.end.isoformat() if window else None,
        },
        "filters": result.filters,
        "generated_at": result.generated_local.isoformat(),
        "timezone": result.timezone,
        "currency": result.currency,
        "max_rows": limits.max_rows,
        "truncated": bool(result.truncations(limits.max_rows)),
    }


def _widget(
    text: TextIO,
    result: ReportResult,
    widget: WidgetResult,
    limits: ExportLimits,
    deadline: Deadline,
) -> None:
    spec = widget.widget
    head: dict[str, Any] = {
        "id": spec.id,
        "type": spec.type,
        "title": spec.title,
        "metric": spec.metric,
        "format": spec.options.get("format", "number"),
        "error": widget.error,
    }
    if spec.type == "metric_card":
        fmt = head["format"]
        head.update(
            value=number_value(widget.value, fmt),
            previous=number_value(widget.previous, fmt),
            change=number_value(widget.change, "percent"),
        )
    frame, truncation = (None, None) if widget.error else result.table(widget, limits.max_rows)
    if frame is None:
        head.update(
            columns=[], rows=[], row_count=0, rows_included=0, truncated=False, truncation_note=None
        )
        text.write(_dumps(head))
        return
    columns = columns_of(frame, spec)
    frame = normalise(frame, columns, result.timezone)
    head.update(
        row_count=truncation.total if truncation else len(frame),
        rows_included=len(frame),
        truncated=truncation is not None,
        truncation_note=truncation.note() if truncation else None,
        columns=[{"name": c.name, "label": c.label, "type": c.kind} for c in columns],
    )
    text.write(_dumps(head)[:-1] + ',"rows":[')
    first = True
    for chunk in chunks(frame, CHUNK_ROWS):
        deadline.check("JSON export")
        rows = list(zip(*(wire_values(chunk[c.name], c.kind) for c in columns), strict=True))
        if rows:
            text.write(("" if first else ",") + _dumps(rows)[1:-1])
            first = False
    text.write("]}")


def _dumps(value: Any) -> str:
    return json.dumps(
        value, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=str
    )
