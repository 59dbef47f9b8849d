"""This period against the previous one: a few headline measures side by side (comparison tables)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, Literal

import pandas as pd
from pydantic import Field

from analytics.catalog import metric, run_metric
from analytics.filters import ACCOUNT_FILTERS
from analytics.params import PeriodParams
from datasources.base import Fetcher

Measure = Callable[[Fetcher, dict[str, Any]], float | None]


def _last(name: str, column: str) -> Measure:
    """A stock at the end of the window (MRR, paying customers)."""

    def measure(source: Fetcher, base: dict[str, Any]) -> float | None:
        frame = run_metric(name, source, {**base, "start": base["end"]})
        return _value(frame[column].iloc[-1]) if len(frame) else None

    return measure


def _whole(name: str, column: str, scale: float = 1.0, **extra: Any) -> Measure:
    """A flow computed once over the whole window (a churn rate, net new MRR, mean DAU)."""

    def measure(source: Fetcher, base: dict[str, Any]) -> float | None:
        frame = run_metric(name, source, {**base, **extra})
        value = _value(frame[column].iloc[-1]) if len(frame) else None
        return None if value is None else value * scale

    return measure


def _total(name: str, column: str, **extra: Any) -> Measure:
    """A count summed over the window's days (sessions, signups)."""

    def measure(source: Fetcher, base: dict[str, Any]) -> float | None:
        return float(run_metric(name, source, {**base, **extra})[column].sum())

    return measure


# label -> how to compute it over one window; percentages in percent (the table has one format).
MEASURES: dict[str, dict[str, Measure]] = {
    "product": {
        "Average DAU": _whole("dau_mau_summary", "avg_dau"),
        "Average MAU (rolling 30 days)": _whole("dau_mau_summary", "avg_mau"),
        "Stickiness DAU / MAU (%)": _whole("dau_mau_summary", "ratio", 100.0),
        "Sessions": _total("session_metrics", "sessions"),
        "Signups completed": _total("trends", "value", event="signup_completed", math="total"),
    },
    "kpi": {
        "MRR at the end": _last("mrr", "mrr"),
        "Paying customers at the end": _last("paying_customers", "value"),
        "Net new MRR": _whole("net_new_mrr", "value", interval="period"),
        "Customer churn rate (%)": _whole("customer_churn_rate", "value", 100.0, interval="period"),
        "Average DAU": _whole("dau_mau_summary", "avg_dau"),
    },
}


class ComparisonParams(PeriodParams):
    """A window and which set of measures to compare with the window just before it."""

    measures: Literal["product", "kpi"] = Field(
        "kpi",
        description="product: actives, stickiness, sessions, signups; kpi: MRR, customers, churn",
    )


@metric(
    "period_comparison",
    params=ComparisonParams,
    columns=("measure", "current", "previous", "change"),
    definition="Headline measures over the window and over the same number of days just before it, with the relative change",
    group="kpi",
    # user_type reaches the product measures (run_metric drops it for the revenue ones).
    filters=(*ACCOUNT_FILTERS, "user_type"),
)
def period_comparison(source: Fetcher, params: ComparisonParams) -> pd.DataFrame:
    """Each measure of the set over [start, end] and over the previous window of equal length.

    Every value is the catalog metric's own (same definitions as the widgets showing them).

    Args:
        source: where the warehouse lives.
        params: start, end, measures, timezone, filters (account filters).

    Returns:
        Columns measure (label), current, previous, change ((current - previous) / |previous|;
        None when previous is 0 or missing).
    """
    days = (params.end - params.start).days + 1
    before_end = params.start - timedelta(days=1)
    windows = ((params.start, params.end), (before_end - timedelta(days=days - 1), before_end))
    rows = []
    for label, measure in MEASURES[params.measures].items():
        current, previous = (measure(source, _base(params, a, b)) for a, b in windows)
        change = None if current is None or not previous else (current - previous) / abs(previous)
        rows.append({"measure": label, "current": current, "previous": previous, "change": change})
    return pd.DataFrame(rows, columns=["measure", "current", "previous", "change"])


def _base(params: ComparisonParams, start: date, end: date) -> dict[str, Any]:
    return {"start": start, "end": end, "timezone": params.timezone, "filters": params.filters}


def _value(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


__all__ = ["period_comparison"]
