"""A built-in sample report (made-up numbers, no warehouse) rendered through the real renderers."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pandas as pd

from engine.generate import WidgetResult
from engine.periods import Window
from engine.spec import WidgetSpec
from exports import ExportFormat, ExportLimits, ReportResult, content_type, render

SAMPLE_WINDOW = Window(date(2026, 1, 1), date(2026, 1, 14))
SAMPLE_DAYS = 14


@dataclass(frozen=True)
class SampleRender:
    """What rendering the sample produced: the file's bytes and how long it took."""

    format: ExportFormat
    content: bytes
    seconds: float

    @property
    def content_type(self) -> str:
        return content_type(self.format)


def sample_result(generated_at: datetime | None = None) -> ReportResult:
    """A small report: a money card, a daily line (a figure in PDF and images) and a table."""
    days = [SAMPLE_WINDOW.start + timedelta(days=i) for i in range(SAMPLE_DAYS)]
    revenue = [1000.0 + 25.0 * i for i in range(SAMPLE_DAYS)]
    line = pd.DataFrame({"date": pd.to_datetime(days), "revenue": revenue})
    table = pd.DataFrame(
        {
            "plan": ["basic", "pro", "team"],
            "customers": [120, 45, 12],
            "mrr": [1200.0, 2250.0, 1800.0],
        }
    )
    widgets = [
        WidgetResult(
            widget=WidgetSpec(
                id="sample-mrr",
                type="metric_card",
                title="MRR (sample)",
                metric="mrr",
                options={"value": "mrr", "format": "money"},
            ),
            window=SAMPLE_WINDOW,
            value=5250.0,
            previous=5000.0,
            change=0.05,
        ),
        WidgetResult(
            widget=WidgetSpec(
                id="sample-revenue",
                type="line",
                title="Daily revenue (sample)",
                metric="revenue_trend",
                options={"x": "date", "y": ["revenue"], "format": "money"},
            ),
            window=SAMPLE_WINDOW,
            frame=line,
            row_count=len(line),
        ),
        WidgetResult(
            widget=WidgetSpec(
                id="sample-plans",
                type="table",
                title="Customers by plan (sample)",
                metric="revenue_by_plan",
                options={"format": "money"},
            ),
            window=SAMPLE_WINDOW,
            frame=table,
            row_count=len(table),
        ),
    ]
    return ReportResult(
        title="Export test (sample data)",
        period_label=SAMPLE_WINDOW.label(),
        generated_at=generated_at or datetime.now(UTC),
        timezone="UTC",
        currency="USD",
        widgets=widgets,
        key="export-test",
    )


def render_sample(fmt: str | ExportFormat, limits: ExportLimits | None = None) -> SampleRender:
    """Render the sample as `fmt` in memory. Raises ExportError (bad format, renderer failure)."""
    fmt = ExportFormat.parse(fmt) if isinstance(fmt, str) else fmt
    out = io.BytesIO()
    started = time.perf_counter()
    render(sample_result(), fmt, out, limits=limits)
    return SampleRender(fmt, out.getvalue(), time.perf_counter() - started)
