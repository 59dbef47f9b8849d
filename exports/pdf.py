"""PDF export: an HTML report (Jinja) with inline SVG charts, printed by a warm headless Chromium.

The HTML carries the title, period, filters, generation time with its zone, the cards as values,
the charts as vector SVG and the tables with a header row repeated on every page (a row is never
cut across pages). Chromium's footer template numbers the pages.
"""

from __future__ import annotations

import dataclasses
import html as html_lib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from components import formats
from components.theme import FONT
from exports import pdf_service
from exports.chromium import figure_json, printer
from exports.columns import Column, columns_of, normalise, wire_values
from exports.figures import has_figure, widget_figure
from exports.output import Output, atomic_output
from exports.result import Deadline, ExportLimits, ReportResult, Truncation

if TYPE_CHECKING:
    from engine.generate import WidgetResult

TEMPLATES = Path(__file__).parent / "templates"
# A PDF is for reading: past this many rows a table says so and points to Excel/CSV for the rest.
PDF_MAX_ROWS = 5_000
CHART_WIDTH = 700  # CSS px: the A4 content width (210 mm - 2 x 12 mm margins) at 96 dpi is ~703 px
NUMERIC = ("money", "percent", "integer", "number")

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["j2", "html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass
class _Block:
    title: str
    kind: str  # chart | table | empty | error
    error: str | None = None
    svg: Markup | None = None
    columns: list[dict[str, str]] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    note: str | None = None


def render_pdf(
    result: ReportResult,
    out: Output,
    *,
    limits: ExportLimits | None = None,
    deadline: Deadline | None = None,
) -> None:
    """Write `result` as a PDF report to `out`, atomically: printed by the PDF service when
    `limits.pdf_generator_url` (PDF_GENERATOR_URL) is set, else by the in-process Chromium (which
    starts on the first call)."""
    limits = limits or ExportLimits()
    deadline = deadline or Deadline(limits.timeout_seconds)
    charts = [w for w in result.widgets if w.widget.type != "metric_card" and has_figure(w)]
    figures = []
    for w in charts:
        frame, _ = result.table(w, limits.max_rows)
        fig = widget_figure(_with_frame(w, frame), result.currency)
        figures.append((figure_json(fig), CHART_WIDTH, int(fig.layout.height or 320)))
    deadline.check("PDF export")
    if limits.pdf_generator_url:
        data = _service_pdf(result, charts, figures, limits, deadline)
        with atomic_output(out) as fh:
            fh.write(data)
        return
    chrome = printer()
    svgs = dict(
        zip(
            [w.widget.id for w in charts],
            chrome.svgs(figures, timeout=deadline.remaining()),
            strict=True,
        )
    )
    deadline.check("PDF export")
    page = report_html(result, svgs, limits)
    data = chrome.pdf(page, footer_html=footer_html(result), timeout=deadline.remaining())
    with atomic_output(out) as fh:
        fh.write(data)


def _service_pdf(
    result: ReportResult,
    charts: list[WidgetResult],
    figures: list[tuple[str, int, int]],
    limits: ExportLimits,
    deadline: Deadline,
) -> bytes:
    """The PDF printed by PDF_GENERATOR_URL; its browser draws the charts with plotly.js."""
    slots = {
        w.widget.id: pdf_service.chart_placeholder(i, width, height)
        for i, (w, (_, width, height)) in enumerate(zip(charts, figures, strict=True))
    }
    page = report_html(result, slots, limits)
    if figures:
        script = pdf_service.chart_script(figures)
        page = page.replace("</body>", script + "</body>", 1)
    return pdf_service.convert_html(
        limits.pdf_generator_url,
        page,
        footer_html=footer_html(result),
        timeout=deadline.remaining(),
        assets=pdf_service.plotly_assets() if figures else None,
        wait_for=pdf_service.READY if figures else None,
    )


def report_html(result: ReportResult, svgs: dict[str, str], limits: ExportLimits) -> str:
    """The report as one static HTML page (no scripts, no external resources)."""
    max_rows = min(limits.max_rows, PDF_MAX_ROWS)
    cards, blocks = [], []
    for w in result.widgets:
        if w.widget.type == "metric_card":
            cards.append(_card(w, result.currency))
        else:
            blocks.append(_block(result, w, svgs, max_rows))
    truncations = [t for t in result.truncations(limits.max_rows) if t.widget_id in svgs]
    return _env.get_template("report.html.j2").render(
        result=result, cards=cards, blocks=blocks, truncations=truncations, font=FONT
    )


def footer_html(result: ReportResult) -> str:
    """Chromium's footer template: report title and time on the left, 'Page N of M' on the right."""
    left = html_lib.escape(
        f"{result.title} · {result.period_label} · generated {result.generated_label()}"
    )
    return (
        f'<div style="width:100%;font-size:7.5pt;font-family:{html_lib.escape(FONT)};color:#6b7280;padding:0 12mm;'
        'display:flex;justify-content:space-between;">'
        f'<span>{left}</span><span>Page <span class="pageNumber"></span> of <span class="totalPages"></span></span></div>'
    )


def _card(w: WidgetResult, currency: str) -> dict[str, Any]:
    fmt = w.widget.options.get("format", "number")
    lower_is_better = bool(w.widget.options.get("lower_is_better"))
    tone = "flat" if not w.change else ("up" if (w.change > 0) != lower_is_better else "down")
    return {
        "title": w.widget.title,
        "error": w.error,
        "value": formats.format_value(w.value, fmt, currency),
        "change": formats.change_text(w.change),
        "tone": tone,
    }


def _block(result: ReportResult, w: WidgetResult, svgs: dict[str, str], max_rows: int) -> _Block:
    title = w.widget.title
    if w.error:
        return _Block(title, "error", error=w.error)
    if w.widget.id in svgs:
        return _Block(title, "chart", svg=Markup(svgs[w.widget.id]))
    frame, truncation = result.table(w, max_rows)
    if frame is None or frame.empty:
        return _Block(title, "empty")
    columns = columns_of(frame, w.widget)
    frame = normalise(frame, columns, result.timezone)
    cells = [
        [_text(v, c, result.currency) for v in wire_values(frame[c.name], c.kind)] for c in columns
    ]
    return _Block(
        title,
        "table",
        columns=[{"label": c.label, "align": "num" if c.kind in NUMERIC else ""} for c in columns],
        rows=[list(r) for r in zip(*cells, strict=True)],
        note=_table_note(truncation, max_rows),
    )


def _table_note(truncation: Truncation | None, max_rows: int) -> str | None:
    if truncation is None:
        return None
    if truncation.kept == max_rows and max_rows == PDF_MAX_ROWS:
        return f"Showing the first {truncation.kept:,} of {truncation.total:,} rows; export Excel or CSV for all of them."
    return truncation.note()


def _text(value: Any, column: Column, currency: str) -> str:
    if value is None:
        return "—"
    kind = column.kind
    if kind == "money":
        return formats.money(value, currency)
    if kind == "percent":
        return formats.percent(value)
    if kind == "integer":
        return f"{value:,}"
    if kind == "number":
        return formats.number(value)
    if kind == "datetime":
        return value.replace("T", " ")[:16]
    if kind == "boolean":
        return "Yes" if value else "No"
    return str(value)


def _with_frame(w: WidgetResult, frame: Any) -> WidgetResult:
    """The widget with its frame cut to the row limit (the chart draws what the file may show)."""
    return dataclasses.replace(w, frame=frame) if frame is not None and frame is not w.frame else w
