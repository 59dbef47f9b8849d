"""A report's numbers in the seed's "API-Based Report" shape: `{period, metrics, charts}`.

A revenue report (template `revenue_analytics` or the demo's `revenue_overview`) answers the
seed's fields, each from the metric catalog through `engine.generate` (so the role's rows, date
cap and masking apply):

- total_revenue: collected revenue over the window (the sum of `revenue_trend`'s days);
- mrr: MRR at the end of the window's last day (`mrr`); arr = mrr x 12;
- churn_rate: customer (logo) churn rate over the whole window (`customer_churn_rate`), a fraction;
- new_customers: non-test customers created in the window (`new_customers`);
- growth_rate: (mrr - previous_mrr) / previous_mrr x 100, previous_mrr being MRR at the end of the
  equal-length window just before; null when that is 0 or unknown;
- charts: revenue_trend (daily revenue), mrr_growth (daily MRR), customer_acquisition (new
  customers per day).

Any other report answers its own widgets: `metrics` the metric cards' values by widget id,
`charts` the other widgets' rows by widget id. A widget that failed has a null value and its safe
message under `errors`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from engine.generate import Filters, WidgetResult, generate
from engine.periods import Window
from engine.services import Services
from engine.spec import DashboardSpec
from security.policy import ClampMode, Resource
from security.users import Principal

REVENUE_TEMPLATES = frozenset({"revenue_analytics", "revenue_overview"})

REVENUE_SPEC = DashboardSpec.model_validate(
    {
        "key": "api_revenue_report",
        "title": "Revenue report",
        "widgets": [
            {
                "id": "mrr",
                "type": "metric_card",
                "title": "MRR",
                "metric": "mrr",
                "params": {"interval": "day"},
                "options": {"value": "mrr", "x": "date", "mode": "last"},
            },
            {
                "id": "churn_rate",
                "type": "metric_card",
                "title": "Customer churn rate",
                "metric": "customer_churn_rate",
                "options": {"value": "value", "mode": "period"},
            },
            {
                "id": "new_customers",
                "type": "metric_card",
                "title": "New customers",
                "metric": "new_customers",
                "options": {"value": "value", "mode": "period"},
            },
            {"id": "revenue_trend", "type": "line", "title": "Revenue", "metric": "revenue_trend"},
            {
                "id": "mrr_growth",
                "type": "line",
                "title": "MRR",
                "metric": "mrr",
                "params": {"interval": "day"},
            },
            {
                "id": "customer_acquisition",
                "type": "bar",
                "title": "New customers",
                "metric": "new_customers",
                "params": {"interval": "day"},
            },
        ],
    }
)


@dataclass
class ReportData:
    """The generated report: the window actually used, metrics, charts and per-widget errors."""

    window: Window
    metrics: dict[str, float | None]
    charts: dict[str, list[dict[str, Any]]]
    errors: dict[str, str] = field(default_factory=dict)


def report_data(
    template_key: str,
    spec: DashboardSpec,
    window: Window,
    principal: Principal,
    services: Services,
    *,
    resource: Resource,
    filters: Filters | None = None,
    cap: ClampMode = "clamp",
) -> ReportData:
    """Generate the report on `template_key` (whose spec is `spec`) for `window`.

    Raises:
        AccessDenied: the principal may not read it (RangeTooLong with cap="refuse").
    """
    revenue = template_key in REVENUE_TEMPLATES
    results = generate(
        REVENUE_SPEC if revenue else spec,
        window,
        principal,
        services,
        cap=cap,
        resource=resource,
        filters=filters,
    )
    used = results[0].window if results else window
    errors = {r.widget.id: r.error for r in results if r.error}
    if revenue:
        metrics, charts = revenue_payload({r.widget.id: r for r in results})
    else:
        metrics, charts = widgets_payload(results)
    return ReportData(used, metrics, charts, errors)


def revenue_payload(
    by_id: dict[str, WidgetResult],
) -> tuple[dict[str, float | None], dict[str, list[dict[str, Any]]]]:
    """The seed's revenue metrics and charts from the REVENUE_SPEC widgets' results."""
    trend = _frame(by_id["revenue_trend"])
    mrr_card = by_id["mrr"]
    mrr = _number(mrr_card.value)
    growth = mrr_card.change
    metrics = {
        "total_revenue": None if trend is None else float(trend["revenue"].sum()),
        "mrr": mrr,
        "arr": None if mrr is None else mrr * 12,
        "churn_rate": _number(by_id["churn_rate"].value),
        "new_customers": _number(by_id["new_customers"].value),
        "growth_rate": None if growth is None else _number(growth * 100),
    }
    charts = {
        "revenue_trend": _series(trend, "date", "revenue", "revenue"),
        "mrr_growth": _series(_frame(by_id["mrr_growth"]), "date", "mrr", "mrr"),
        "customer_acquisition": _series(
            _frame(by_id["customer_acquisition"]), "period_start", "value", "new_customers"
        ),
    }
    return metrics, charts


def widgets_payload(
    results: list[WidgetResult],
) -> tuple[dict[str, float | None], dict[str, list[dict[str, Any]]]]:
    """Metric cards' values and the other widgets' rows, by widget id."""
    metrics: dict[str, float | None] = {}
    charts: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        if result.widget.type == "metric_card":
            metrics[result.widget.id] = _number(result.value)
        else:
            charts[result.widget.id] = records(result.frame)
    return metrics, charts


def records(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
    """JSON-safe rows: dates as ISO strings, NaN as null."""
    if frame is None:
        return []
    return json.loads(frame.to_json(orient="records", date_format="iso", date_unit="s"))


def _frame(result: WidgetResult) -> pd.DataFrame | None:
    return None if result.error else result.frame


def _series(frame: pd.DataFrame | None, x: str, column: str, name: str) -> list[dict[str, Any]]:
    if frame is None:
        return []
    return [
        {"date": pd.Timestamp(day).date().isoformat(), name: _number(value)}
        for day, value in zip(frame[x], frame[column], strict=True)
    ]


def _number(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None
