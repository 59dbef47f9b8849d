"""The single input of every export renderer: a generated report plus the limits it is rendered under."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pandas as pd

if TYPE_CHECKING:  # engine types only: renderers run without importing the engine
    from engine.generate import WidgetResult


class ExportError(Exception):
    """An export could not be produced; `user_message` is safe to show."""

    user_message = "The export could not be produced. The error was logged."

    def __init__(self, message: str, user_message: str | None = None) -> None:
        super().__init__(message)
        if user_message:
            self.user_message = user_message


class ExportTimeoutError(ExportError):
    """The render ran past REPORT_TIMEOUT_SECONDS and was stopped."""

    def __init__(self, seconds: float, what: str = "export") -> None:
        super().__init__(
            f"{what} exceeded the {seconds:g} s time limit",
            f"The export took longer than the {seconds:g} s limit (REPORT_TIMEOUT_SECONDS) and was stopped. "
            "Choose a shorter period or fewer widgets.",
        )
        self.seconds = seconds


@dataclass(frozen=True)
class ExportLimits:
    """What the caller allows: REPORT_MAX_ROWS rows per table and REPORT_TIMEOUT_SECONDS per render."""

    max_rows: int = 100_000
    timeout_seconds: float = 300.0
    pdf_generator_url: str = ""  # PDF_GENERATOR_URL: print PDFs there (exports/pdf_service.py)

    @classmethod
    def from_settings(cls, settings: Any) -> ExportLimits:
        return cls(
            max_rows=settings.report_max_rows,
            timeout_seconds=float(settings.report_timeout_seconds),
            pdf_generator_url=settings.pdf_generator_url,
        )


class Deadline:
    """Cooperative timeout: renderers call `check()` between chunks of work."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.ends - time.monotonic()

    def check(self, what: str = "export") -> None:
        if time.monotonic() > self.ends:
            raise ExportTimeoutError(self.seconds, what)


@dataclass(frozen=True)
class Truncation:
    """A table cut at `kept` rows of `total`."""

    widget_id: str
    title: str
    kept: int
    total: int

    def note(self) -> str:
        return f"Truncated at {self.kept:,} of {self.total:,} rows (REPORT_MAX_ROWS)."


@dataclass
class ReportResult:
    """A generated report as every renderer sees it: header facts plus one WidgetResult per widget."""

    title: str
    period_label: str
    generated_at: datetime
    timezone: str
    currency: str
    widgets: list[WidgetResult]
    filters: dict[str, Any] = field(default_factory=dict)
    key: str = "report"

    def __post_init__(self) -> None:
        if self.generated_at.tzinfo is None or self.generated_at.utcoffset() is None:
            raise ValueError("ReportResult.generated_at must be timezone-aware")

    def only(self, widget_id: str) -> ReportResult:
        """The same report narrowed to one widget (a widget's own export menu)."""
        chosen = [w for w in self.widgets if w.widget.id == widget_id]
        if not chosen:
            raise KeyError(widget_id)
        return dataclasses.replace(self, widgets=chosen)

    @property
    def generated_local(self) -> datetime:
        """generated_at in the report's time zone (the zone every date in the report is cut in)."""
        return self.generated_at.astimezone(ZoneInfo(self.timezone))

    def generated_label(self) -> str:
        """'2026-11-27 14:05 CET (Europe/Berlin)': the time a reader can trust, with its zone."""
        local = self.generated_local
        return f"{local:%Y-%m-%d %H:%M} {local.tzname()} ({self.timezone})"

    def table(
        self, widget: WidgetResult, max_rows: int
    ) -> tuple[pd.DataFrame | None, Truncation | None]:
        """The rows to export for `widget` under `max_rows`, and the truncation to report, if any."""
        frame = widget.frame
        if frame is None:
            return None, None
        total = max(widget.row_count, len(frame))
        kept = min(len(frame), max_rows)
        if kept < total:
            if kept < len(frame):
                frame = frame.iloc[:kept]
            return frame, Truncation(widget.widget.id, widget.widget.title, kept, total)
        return frame, None

    def truncations(self, max_rows: int) -> list[Truncation]:
        return [t for w in self.widgets if (t := self.table(w, max_rows)[1]) is not None]
