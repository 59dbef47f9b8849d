"""Exports: one renderer per format over a ReportResult, a format enum, content types and file names.

    render(result, "excel", path, limits=ExportLimits.from_settings(settings))

Every renderer writes atomically (exports.output), honours `limits.max_rows` (saying so in the file
when it cuts a table) and stops with ExportTimeoutError past `limits.timeout_seconds`.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

from exports.output import Output
from exports.result import Deadline, ExportError, ExportLimits, ExportTimeoutError, ReportResult

__all__ = [
    "ExportError",
    "ExportFormat",
    "ExportLimits",
    "ExportTimeoutError",
    "ReportResult",
    "content_type",
    "file_name",
    "render",
]


class ExportFormat(StrEnum):
    """The formats of EXPORT_FORMATS / API_EXPORT_FORMATS (settings.py), by their API names."""

    PDF = "pdf"
    EXCEL = "excel"
    CSV = "csv"
    JSON = "json"
    XML = "xml"
    PNG = "png"
    SVG = "svg"
    JPG = "jpg"

    @classmethod
    def parse(cls, value: str) -> ExportFormat:
        value = value.strip().lower()
        value = {"xlsx": "excel", "jpeg": "jpg"}.get(value, value)
        try:
            return cls(value)
        except ValueError:
            raise ExportError(
                f"unknown export format {value!r}",
                f"Unknown export format {value!r}; choose one of {', '.join(f.value for f in cls)}.",
            ) from None

    @property
    def is_image(self) -> bool:
        return self in (ExportFormat.PNG, ExportFormat.SVG, ExportFormat.JPG)


CONTENT_TYPES = {
    ExportFormat.PDF: "application/pdf",
    ExportFormat.EXCEL: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.JSON: "application/json",
    ExportFormat.XML: "application/xml; charset=utf-8",
    ExportFormat.PNG: "image/png",
    ExportFormat.SVG: "image/svg+xml",
    ExportFormat.JPG: "image/jpeg",
}
EXTENSIONS = {ExportFormat.EXCEL: "xlsx"}


def content_type(fmt: str | ExportFormat) -> str:
    return CONTENT_TYPES[ExportFormat.parse(fmt)]


def file_name(result: ReportResult, fmt: str | ExportFormat, widget_id: str | None = None) -> str:
    """'revenue-overview_2026-11-01_2026-11-30.xlsx': ASCII, safe in a Content-Disposition header."""
    fmt = ExportFormat.parse(fmt)
    window = result.widgets[0].window if result.widgets else None
    parts = [_slug(result.key or result.title)]
    if widget_id:
        parts.append(_slug(widget_id))
    if window:
        parts += [window.start.isoformat(), window.end.isoformat()]
    else:
        parts.append(result.generated_at.strftime("%Y-%m-%d"))
    return "_".join(parts) + "." + EXTENSIONS.get(fmt, fmt.value)


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]+", "-", ascii_text).strip("-").lower()[:60] or "report"


def render(
    result: ReportResult,
    fmt: str | ExportFormat,
    out: Output,
    *,
    limits: ExportLimits | None = None,
    widget_id: str | None = None,
) -> None:
    """Render `result` (or only `widget_id`) as `fmt` to `out` (a path or a binary stream).

    Raises ExportError (bad format, nothing to draw) or ExportTimeoutError; `out` is untouched then.
    """
    fmt = ExportFormat.parse(fmt)
    limits = limits or ExportLimits()
    deadline = Deadline(limits.timeout_seconds)
    if widget_id is not None and not fmt.is_image:
        result = result.only(widget_id)
    if fmt.is_image:
        from exports.images import render_image

        render_image(result, out, fmt.value, widget_id=widget_id, limits=limits, deadline=deadline)
        return
    renderer = _renderer(fmt)
    renderer(result, out, limits=limits, deadline=deadline)


def _renderer(fmt: ExportFormat):  # noqa: ANN202  (a renderer function)
    # Imported on use: the PDF and image renderers pull in Playwright and kaleido.
    if fmt is ExportFormat.CSV:
        from exports.csv import render_csv as fn
    elif fmt is ExportFormat.JSON:
        from exports.json import render_json as fn
    elif fmt is ExportFormat.XML:
        from exports.xml import render_xml as fn
    elif fmt is ExportFormat.EXCEL:
        from exports.excel import render_excel as fn
    else:
        from exports.pdf import render_pdf as fn
    return fn
