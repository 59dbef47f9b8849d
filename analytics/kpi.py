"""KPIs against goals: a metric's value per month beside the goal in `kpi_goals` and the month before.

Each KPI is one of the catalog's metrics taken at monthly resolution, so a KPI can never disagree
with the dashboard widget of the same metric:

- mrr: MRR at the end of the month (cut at `end`) — `mrr` with interval month;
- churn_rate: customer churn rate of the month — `customer_churn_rate`;
- trial_conversion: of the trials decided in the month (cut at `end`), the share converted —
  `trial_conversion` method period (a cohort of this month's trials is still in trial early in
  the month, so its value would be empty until the month is half over);
- dau: mean daily active persons over the month's days in range — `dau_mau` (any event);
- new_customers: non-test customers created in the month.

Goals live in `kpi_goals(kpi, period_start, period_end, goal, department)`; company-wide goals have
department NULL; the mrr goal is stored in minor units like every amount in the warehouse.
attainment = value / goal; on_track means value >= goal, or value <= goal for churn_rate where lower
is better. change is against the previous month's value (null when that is null or 0).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

import pandas as pd
from pydantic import Field

from analytics import _revenue_sql as rs
from analytics.catalog import metric, run_metric
from analytics.filters import current_filter, customer_condition
from analytics.params import PeriodParams
from datasources.base import Fetcher, Query

KPI = Literal["mrr", "new_customers", "churn_rate", "trial_conversion", "dau"]
LOWER_IS_BETTER = {"churn_rate"}


class KpiParams(PeriodParams):
    kpi: KPI = Field(description="Which KPI: mrr, new_customers, churn_rate, trial_conversion, dau")
    department: str | None = Field(
        None, description="Goals of this department (empty = company-wide)"
    )


def monthly_values(source: Fetcher, kpi: str, params: PeriodParams) -> pd.DataFrame:
    """The KPI's value per calendar month touching [start, end] (columns period_start, value).

    Args:
        source: where the warehouse lives.
        kpi: one of KPI.
        params: range and time zone.

    Returns:
        One row per month, value null where the metric is undefined.
    """
    base = {
        "start": params.start,
        "end": params.end,
        "timezone": params.timezone,
        "filters": params.filters,
    }
    if kpi == "mrr":
        frame = run_metric("mrr", source, {**base, "interval": "month"})
        frame = frame.rename(columns={"mrr": "value"})
        frame["period_start"] = (
            pd.to_datetime(frame["date"]).dt.to_period("M").dt.start_time.dt.date
        )
    elif kpi == "churn_rate":
        frame = run_metric("customer_churn_rate", source, {**base, "interval": "month"})
    elif kpi == "trial_conversion":
        frame = run_metric(
            "trial_conversion", source, {**base, "interval": "month", "method": "period"}
        )
    elif kpi == "dau":
        daily = run_metric("dau_mau", source, base)
        daily["period_start"] = (
            pd.to_datetime(daily["date"]).dt.to_period("M").dt.start_time.dt.date
        )
        frame = (
            daily.groupby("period_start", as_index=False)["dau"]
            .mean()
            .rename(columns={"dau": "value"})
        )
    else:
        frame = _new_customers(source, params)
    frame = frame[["period_start", "value"]].copy()
    frame["period_start"] = pd.to_datetime(frame["period_start"]).dt.date
    return frame


class NewCustomersParams(PeriodParams):
    interval: rs.Unit = Field(
        "day", description="day, week, month, or period (the whole range as one row)"
    )


@metric(
    "new_customers",
    params=NewCustomersParams,
    columns=("period_start", "value"),
    definition="Non-test customers created per period (days before start are not counted)",
    group="revenue",
)
def new_customers(source: Fetcher, params: NewCustomersParams) -> pd.DataFrame:
    """Customers created per day, week, month or over the whole range (the KPI's new_customers).

    Args:
        source: where the warehouse lives.
        params: start, end, interval, time zone, filters.

    Returns:
        Columns period_start, value: one row per period touching [start, end].
    """
    return _new_customers(source, params, params.interval)


def _new_customers(source: Fetcher, params: PeriodParams, unit: rs.Unit = "month") -> pd.DataFrame:
    items = rs.periods(params.start, params.end, unit)
    sql = f"""
WITH {rs.periods_cte(items)},
created AS (
    SELECT CAST(created_at AT TIME ZONE :tz AS DATE) AS d FROM customers
    WHERE NOT COALESCE(is_test, FALSE) AND {customer_condition(current_filter(), "id")}
)
SELECT p.period_start, COUNT(c.d) AS value
FROM periods AS p
LEFT JOIN created AS c ON c.d BETWEEN p.period_start AND p.d1 AND c.d >= {rs.lit(params.start)}
GROUP BY p.period_start
ORDER BY p.period_start"""
    frame = source.fetch(Query(sql, {"tz": params.timezone}))
    frame["value"] = frame["value"].astype(float)
    return frame


def _goals(source: Fetcher, params: KpiParams) -> pd.DataFrame:
    sql = """
SELECT period_start, goal FROM kpi_goals
WHERE kpi = :kpi AND period_start BETWEEN :first AND :last
  AND (department = :department OR (department IS NULL AND :department IS NULL))"""
    first = params.start.replace(day=1)
    frame = source.fetch(
        Query(
            sql,
            {
                "kpi": params.kpi,
                "first": first,
                "last": params.end,
                "department": params.department,
            },
        )
    )
    frame["period_start"] = pd.to_datetime(frame["period_start"]).dt.date
    frame["goal"] = frame["goal"].astype(float) / (100 if params.kpi == "mrr" else 1)
    return frame


@metric(
    "kpi_progress",
    params=KpiParams,
    columns=(
        "period_start",
        "kpi",
        "value",
        "goal",
        "attainment",
        "on_track",
        "previous",
        "change",
    ),
    definition="A KPI per month against its goal (kpi_goals) and against the previous month",
    group="kpi",
)
def kpi_progress(source: Fetcher, params: KpiParams) -> pd.DataFrame:
    """Monthly KPI value, goal, attainment and change against the previous month.

    Args:
        source: where the warehouse lives.
        params: kpi, range, department of the goal, time zone.

    Returns:
        One row per month touching [start, end].
    """
    month_before = (params.start.replace(day=1) - timedelta(days=1)).replace(day=1)
    extended = PeriodParams(
        start=month_before, end=params.end, timezone=params.timezone, filters=params.filters
    )
    values = monthly_values(source, params.kpi, extended).sort_values("period_start")
    values["previous"] = values["value"].shift(1)
    values = values[values["period_start"] >= params.start.replace(day=1)]
    frame = values.merge(_goals(source, params), on="period_start", how="left")
    frame["kpi"] = params.kpi
    value, goal, previous = (
        frame["value"].astype(float),
        frame["goal"].astype(float),
        frame["previous"].astype(float),
    )
    frame["attainment"] = rs.ratio(value, goal)
    lower = params.kpi in LOWER_IS_BETTER
    on_track = (value <= goal) if lower else (value >= goal)
    frame["on_track"] = on_track.where(value.notna() & goal.notna(), None)
    frame["change"] = rs.ratio(value - previous, previous.abs())
    return frame.reset_index(drop=True)
