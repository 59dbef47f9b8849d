"""PNG, SVG and JPG of a widget's figure through one warm kaleido server per process, one call at a time.

kaleido's sync server is a singleton whose request and reply queues are shared by every caller:
two threads calling it at once can receive each other's images (STACK_NOTES.md). Every call here
holds `_render_lock`, so concurrent exports (Dash callbacks run in threads) each get their own file.
The server is started lazily by the first image and kept for the life of the process.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import TYPE_CHECKING

import kaleido
import plotly.graph_objects as go
import plotly.io as pio

from exports.figures import has_figure, widget_figure
from exports.output import Output, atomic_output
from exports.result import Deadline, ExportError, ExportLimits, ExportTimeoutError, ReportResult

if TYPE_CHECKING:
    from engine.generate import WidgetResult

IMAGE_FORMATS = ("png", "svg", "jpg")
DEFAULT_SIZE = (960, 480)
DEFAULT_SCALE = {"png": 2.0, "jpg": 2.0, "svg": 1.0}
KALEIDO_TIMEOUT_SECONDS = 60

_render_lock = threading.Lock()
_start_lock = threading.Lock()
_server_started = False


def start_image_server() -> None:
    """Start the process's kaleido server if it is not running (idempotent; ~2 s the first time)."""
    global _server_started
    with _start_lock:
        if _server_started:
            return
        # With a server running, per-call headers are ignored and every call would warn about them.
        pio.defaults.headers = None
        # MathJax would load from a CDN (no internet here); pio.defaults.mathjax is ignored by the server.
        kaleido.start_sync_server(
            mathjax=False, timeout=KALEIDO_TIMEOUT_SECONDS, silence_warnings=True
        )
        _server_started = True


def stop_image_server() -> None:
    global _server_started
    with _start_lock, _render_lock:
        if _server_started:
            kaleido.stop_sync_server(silence_warnings=True)
            _server_started = False


def figure_bytes(
    fig: go.Figure,
    fmt: str,
    *,
    width: int,
    height: int,
    scale: float,
    deadline: Deadline | None = None,
) -> bytes:
    """Render `fig` through the shared server under the lock; waits at most the deadline for its turn."""
    if fmt not in IMAGE_FORMATS:
        raise ValueError(
            f"unknown image format {fmt!r}; expected one of {', '.join(IMAGE_FORMATS)}"
        )
    start_image_server()
    wait = max(0.0, deadline.remaining()) if deadline else -1
    if not _render_lock.acquire(timeout=wait):
        raise ExportTimeoutError(deadline.seconds if deadline else 0, "image export")
    try:
        return pio.to_image(
            fig,
            format="jpeg" if fmt == "jpg" else fmt,
            width=width,
            height=height,
            scale=scale,
            validate=False,
        )
    finally:
        _render_lock.release()


def pick_widget(result: ReportResult, widget_id: str | None) -> WidgetResult:
    """The widget an image shows: the one asked for, the only one, or the report's first chart."""
    if widget_id is not None:
        return result.only(widget_id).widgets[0]
    if len(result.widgets) == 1:
        return result.widgets[0]
    for w in result.widgets:
        if has_figure(w):
            return w
    raise ExportError(
        "the report has no chart to draw", "This report has no chart to export as an image."
    )


def render_image(
    result: ReportResult,
    out: Output,
    fmt: str,
    *,
    widget_id: str | None = None,
    width: int | None = None,
    height: int | None = None,
    scale: float | None = None,
    limits: ExportLimits | None = None,
    deadline: Deadline | None = None,
) -> None:
    """Write one widget's figure (with its title, on white) as `fmt` (png|svg|jpg) to `out`, atomically."""
    limits = limits or ExportLimits()
    deadline = deadline or Deadline(limits.timeout_seconds)
    widget = pick_widget(result, widget_id)
    if widget.error:
        raise ExportError(
            f"widget {widget.widget.id} failed: {widget.error}",
            f"This widget could not be computed: {widget.error}",
        )
    frame, truncation = result.table(widget, limits.max_rows)
    if frame is not None and truncation is not None:
        widget = dataclasses.replace(widget, frame=frame)
    try:
        fig = widget_figure(widget, result.currency, title=True)
    except ValueError as exc:
        fig = _screen_figure(widget, result.currency)
        if fig is None:
            raise ExportError(str(exc), "This widget has no chart to export as an image.") from exc
    # A file stands alone: an opaque background (JPG has no transparency) and the truncation said on it.
    fig.update_layout(paper_bgcolor="white", plot_bgcolor="white")
    if truncation:
        fig.add_annotation(text=truncation.note(), xref="paper", yref="paper", x=1, y=1.02, xanchor="right", yanchor="bottom",
                           showarrow=False, font={"size": 11, "color": "#b45309"})  # fmt: skip
    default_w, default_h = (
        (fig.layout.width or DEFAULT_SIZE[0], fig.layout.height or DEFAULT_SIZE[1])
        if widget.widget.type == "metric_card"
        else DEFAULT_SIZE
    )
    data = figure_bytes(
        fig,
        fmt,
        width=width or default_w,
        height=height or default_h,
        scale=scale or DEFAULT_SCALE[fmt],
        deadline=deadline,
    )
    with atomic_output(out) as fh:
        fh.write(data)


def _screen_figure(widget: WidgetResult, currency: str) -> go.Figure | None:
    """The other charts (pie, funnel, heatmap, gauge) as the dashboard draws them, titled."""
    if widget.error or widget.frame is None or widget.frame.empty:
        return None
    if widget.widget.type in ("metric_card", "table"):
        return None
    from components.widgets import widget_figure as screen_figure  # Dash is imported on demand

    fig = screen_figure(widget.widget, widget.frame, currency)
    if fig is not None:
        fig.update_layout(
            title={"text": widget.widget.title, "x": 0.01, "xanchor": "left", "font": {"size": 16}},
            margin_t=56,
        )
    return fig


def render_png(result: ReportResult, out: Output, **kwargs) -> None:
    render_image(result, out, "png", **kwargs)


def render_svg(result: ReportResult, out: Output, **kwargs) -> None:
    render_image(result, out, "svg", **kwargs)


def render_jpg(result: ReportResult, out: Output, **kwargs) -> None:
    render_image(result, out, "jpg", **kwargs)
