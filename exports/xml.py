"""XML export (schema `nexpo.report/1`, see exports/SCHEMAS.md), streamed with a SAX generator."""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import XMLGenerator

from exports.columns import chunks, columns_of, normalise, wire_values
from exports.json import report_header
from exports.output import Output, atomic_output
from exports.result import Deadline, ExportLimits, ReportResult

if TYPE_CHECKING:  # engine types only: renderers run without importing the engine
    from engine.generate import WidgetResult

CHUNK_ROWS = 20_000
# Characters XML 1.0 cannot carry at all: dropped rather than failing the whole export.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def render_xml(
    result: ReportResult,
    out: Output,
    *,
    limits: ExportLimits | None = None,
    deadline: Deadline | None = None,
) -> None:
    """Write `result` as a UTF-8 XML document to `out`, atomically."""
    limits = limits or ExportLimits()
    deadline = deadline or Deadline(limits.timeout_seconds)
    with atomic_output(out) as fh:
        text = io.TextIOWrapper(fh, encoding="utf-8", newline="\n")
        try:
            _Writer(text).report(result, limits, deadline)
            text.flush()
        finally:
            text.detach()


class _Writer:
    def __init__(self, text: io.TextIOWrapper) -> None:
        self.text = text
        self.sax = XMLGenerator(text, encoding="utf-8", short_empty_elements=True)

    def start(self, tag: str, /, **attrs: Any) -> None:
        self.sax.startElement(
            tag, {k.replace("_", "-"): _clean(v) for k, v in attrs.items() if v is not None}
        )

    def end(self, tag: str) -> None:
        self.sax.endElement(tag)

    def leaf(self, tag: str, content: Any = None, /, **attrs: Any) -> None:
        self.start(tag, **attrs)
        if content is not None:
            self.sax.characters(_clean(content))
        self.end(tag)

    def report(self, result: ReportResult, limits: ExportLimits, deadline: Deadline) -> None:
        head = report_header(result, limits)
        self.sax.startDocument()
        self.start("report", schema=head["schema"], key=head["key"], generated_at=head["generated_at"], timezone=head["timezone"],
                   currency=head["currency"], max_rows=head["max_rows"], truncated=_bool(head["truncated"]))  # fmt: skip
        self.leaf("title", result.title)
        self.leaf(
            "period", result.period_label, start=head["period"]["start"], end=head["period"]["end"]
        )
        self.start("filters")
        for name, value in result.filters.items():
            self.leaf("filter", value, name=name)
        self.end("filters")
        self.start("widgets")
        for widget in result.widgets:
            self.widget(result, widget, limits, deadline)
        self.end("widgets")
        self.end("report")
        self.sax.endDocument()

    def widget(
        self, result: ReportResult, widget: WidgetResult, limits: ExportLimits, deadline: Deadline
    ) -> None:
        spec = widget.widget
        self.start(
            "widget",
            id=spec.id,
            type=spec.type,
            title=spec.title,
            metric=spec.metric,
            format=spec.options.get("format", "number"),
        )
        if widget.error:
            self.leaf("error", widget.error)
        if spec.type == "metric_card":
            self.leaf(
                "card",
                value=_num(widget.value),
                previous=_num(widget.previous),
                change=_num(widget.change),
            )
        frame, truncation = (None, None) if widget.error else result.table(widget, limits.max_rows)
        if frame is not None:
            columns = columns_of(frame, spec)
            frame = normalise(frame, columns, result.timezone)
            self.start("table", row_count=truncation.total if truncation else len(frame), rows_included=len(frame),
                       truncated=_bool(truncation is not None))  # fmt: skip
            if truncation:
                self.leaf(
                    "truncation", truncation.note(), kept=truncation.kept, total=truncation.total
                )
            self.start("columns")
            for c in columns:
                self.leaf("column", name=c.name, label=c.label, type=c.kind)
            self.end("columns")
            for chunk in chunks(frame, CHUNK_ROWS):
                deadline.check("XML export")
                self._rows(zip(*(wire_values(chunk[c.name], c.kind) for c in columns), strict=True))
            self.end("table")
        self.end("widget")

    def _rows(self, rows: Any) -> None:
        # Written as text directly (the SAX calls per cell are 5x slower); values escaped like SAX does.
        write = self.text.write
        parts = []
        for row in rows:
            parts.append("<r>")
            for v in row:
                parts.append("<v/>" if v is None else f"<v>{_esc(v)}</v>")
            parts.append("</r>")
        write("".join(parts))


def _esc(value: Any) -> str:
    if isinstance(value, bool):
        return _bool(value)
    if isinstance(value, int | float):
        return repr(value)
    return _clean(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clean(value: Any) -> str:
    if isinstance(value, bool):
        return _bool(value)
    return _ILLEGAL.sub("", str(value))


def _num(value: float | None) -> str | None:
    return None if value is None or value != value else repr(float(value))


def _bool(value: bool) -> str:
    return "true" if value else "false"
