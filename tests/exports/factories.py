"""Hand-made report results: the numbers every export test reads back."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

from engine.generate import WidgetResult
from engine.periods import Window
from engine.spec import WidgetSpec
from exports.result import ReportResult

WINDOW = Window(date(2026, 11, 1), date(2026, 11, 30))
GENERATED = datetime(2026, 11, 30, 14, 5, tzinfo=ZoneInfo("Europe/Berlin"))
TABLE_ROWS = 250


def widget(id: str, type: str, title: str, **options: object) -> WidgetSpec:
    return WidgetSpec(id=id, type=type, title=title, metric=id.replace("-", "_"), options=options)


def mrr_card() -> WidgetResult:
    spec = widget("mrr", "metric_card", "MRR", value="mrr", format="money")
    return WidgetResult(
        widget=spec,
        window=WINDOW,
        value=12345.67,
        previous=11000.0,
        change=(12345.67 - 11000.0) / 11000.0,
    )


def churn_card() -> WidgetResult:
    spec = widget(
        "churn",
        "metric_card",
        "Customer churn rate",
        value="value",
        format="percent",
        lower_is_better=True,
    )
    return WidgetResult(widget=spec, window=WINDOW, value=0.0425, previous=0.05, change=-0.15)


def customers_card() -> WidgetResult:
    spec = widget("customers", "metric_card", "Paying customers", value="value", format="number")
    return WidgetResult(widget=spec, window=WINDOW, value=321.0, previous=300.0, change=0.07)


def revenue_line() -> WidgetResult:
    days = pd.date_range("2026-11-01", periods=30, freq="D")
    revenue = [1000.0 + 10.5 * i for i in range(30)]
    frame = pd.DataFrame(
        {
            "date": days,
            "revenue": revenue,
            "revenue_ma7": pd.Series(revenue).rolling(7, min_periods=1).mean(),
        }
    )
    spec = widget(
        "daily-revenue",
        "line",
        "Daily revenue",
        x="date",
        y=["revenue", "revenue_ma7"],
        format="money",
    )
    return WidgetResult(widget=spec, window=WINDOW, frame=frame, row_count=len(frame))


def processor_bar() -> WidgetResult:
    frame = pd.DataFrame(
        {"processor": ["stripe", "paypal", "adyen"], "revenue": [5000.5, 3000.25, 1200.0]}
    )
    spec = widget(
        "revenue-by-processor",
        "bar",
        "Revenue by processor",
        x="processor",
        y=["revenue"],
        format="money",
    )
    return WidgetResult(widget=spec, window=WINDOW, frame=frame, row_count=len(frame))


def customers_table(rows: int = TABLE_ROWS, *, row_count: int | None = None) -> WidgetResult:
    frame = pd.DataFrame(
        {
            "customer_id": [f"cus_{i:04d}" for i in range(1, rows + 1)],
            "signup_date": [date(2026, 1, 1) + timedelta(days=i % 300) for i in range(rows)],
            "plan": ["pro" if i % 3 else "basic" for i in range(rows)],
            "mrr": [round(10 + i * 1.25, 2) for i in range(rows)],
            "seats": [1 + i % 17 for i in range(rows)],
        }
    )
    spec = widget("top-customers", "table", "Top customers", y=["mrr"], format="money")
    return WidgetResult(widget=spec, window=WINDOW, frame=frame, row_count=row_count or rows)


def report(*widgets: WidgetResult) -> ReportResult:
    chosen = list(widgets) or [
        mrr_card(),
        churn_card(),
        customers_card(),
        revenue_line(),
        processor_bar(),
        customers_table(),
    ]
    return ReportResult(
        title="Revenue overview",
        period_label=WINDOW.label(),
        generated_at=GENERATED,
        timezone="Europe/Berlin",
        currency="USD",
        widgets=chosen,
        filters={"plan": "pro", "country": "DE"},
        key="revenue-overview",
    )
