"""Product metrics after PostHog (METRICS.md A.5, A.6): trends, DAU/MAU, stickiness; the rest re-exported.

Conventions beyond METRICS.md (also in each metric's docstring), shared by the product modules:
- Days, weeks (Monday-based, ISO) and months are cut in `params.timezone`; an event belongs to the
  local day of its timestamp (D.7.9).
- "Active" = at least one event named `event` (any event when `event` is empty) by a person;
  events without person_id count only for `trends` math `total`/`sum`.
- Test accounts (users of customers with is_test) are excluded everywhere (D.7.8).
- Rates are fractions; an empty denominator gives None (D.7.10).

Importing this module also registers the other product metrics: funnels (analytics/funnels.py),
retention (analytics/retention.py), lifecycle and engagement segments
(analytics/product_engagement.py), session metrics (analytics/product_sessions.py) and the seed's
engagement report (analytics/engagement_report.py).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

import pandas as pd
from pydantic import Field, model_validator

from analytics import engagement_report as _engagement_report  # noqa: F401  (registers it)
from analytics import funnels as _funnels  # noqa: F401  (registers funnel metrics)
from analytics import retention as _retention  # noqa: F401  (registers retention)
from analytics._product_sql import (
    BucketInterval,
    bucket_of,
    bucket_start,
    check_property,
    day_range,
    day_sql,
    day_within_sql,
    event_condition,
    not_test_account,
    nullable,
    property_key,
    ratio,
    to_number,
)
from analytics.catalog import metric
from analytics.params import AnyEvent, Interval, PeriodParams
from analytics.product_engagement import engagement_segments, lifecycle
from analytics.product_sessions import session_metrics
from datasources.base import Fetcher, Query

TrendsMath = Literal["total", "dau", "weekly_active", "monthly_active", "sum"]
ROLLING_DAYS = {"weekly_active": 7, "monthly_active": 30}


# --------------------------------------------------------------------------- trends


class TrendsParams(PeriodParams):
    """PostHog trends: one event series, one math, one interval."""

    event: str = Field(description="Event name, e.g. app_opened")
    math: TrendsMath = Field(
        "total", description="total | dau | weekly_active | monthly_active | sum"
    )
    math_property: str | None = Field(None, description="Numeric event property summed by math=sum")
    interval: Interval = Field("day", description="day | week | month (rolling maths need day)")

    @model_validator(mode="after")
    def _consistent(self) -> TrendsParams:
        if self.math == "sum":
            if not self.math_property:
                raise ValueError("math=sum needs math_property (a numeric event property)")
            check_property(self.math_property)
        if self.math in ROLLING_DAYS and self.interval != "day":
            raise ValueError(f"math={self.math} is a rolling window per day; use interval=day")
        return self


@metric(
    "trends",
    params=TrendsParams,
    columns=("date", "value"),
    definition="PostHog trends: events (total), unique persons (dau), rolling 7/30-day actives or a property sum per interval",
    group="product",
)
def trends(source: Fetcher, params: TrendsParams) -> pd.DataFrame:
    """One value per interval bucket in [start, end], zero-filled.

    `weekly_active`/`monthly_active` count persons active in local days d-6..d / d-29..d (A.6),
    computed with the running-sum rewrite. For week/month intervals only events inside
    [start, end] count; `date` is the bucket's first day.

    Args:
        source: warehouse holding the D.1 tables.
        params: event, math, math_property, start, end, interval, timezone.

    Returns:
        DataFrame with columns date (datetime.date) and value (float).
    """
    if params.math in ROLLING_DAYS:
        rolled = _rolling_active(source, params, params.event, ROLLING_DAYS[params.math])
        return pd.DataFrame({"date": rolled["date"], "value": rolled["active"].astype(float)})
    interval: BucketInterval = params.interval
    if params.math == "total":
        value, person_filter = "COUNT(*)", ""
    elif params.math == "dau":
        value, person_filter = "COUNT(DISTINCT e.person_id)", "AND e.person_id IS NOT NULL"
    else:
        value = f"COALESCE(SUM({to_number('e.properties ->> :prop', source.dialect)}), 0)"
        person_filter = ""
    sql = f"""
        SELECT {day_sql(source, "e.timestamp", interval, params.timezone, params.start, params.end)} AS b, {value} AS value
        FROM events e
        WHERE e.timestamp >= :t0 AND e.timestamp < :t1 AND e.event = :event {person_filter}
          AND {not_test_account("e.person_id")}
        GROUP BY 1
    """
    bind = {
        "tz": params.timezone,
        "event": params.event,
        **day_range(params.start, params.end, params.timezone),
    }
    if params.math == "sum":
        bind["prop"] = property_key(params.math_property, source.dialect)
    found = source.fetch(Query(sql, bind))
    by_bucket = dict(zip(found["b"].astype(int), found["value"], strict=True))
    buckets = range(bucket_of(params.start, interval), bucket_of(params.end, interval) + 1)
    return pd.DataFrame(
        {
            "date": [bucket_start(b, interval) for b in buckets],
            "value": [float(by_bucket.get(b, 0) or 0) for b in buckets],
        }
    )


def _rolling_active(
    source: Fetcher, params: PeriodParams, event: str | None, window: int
) -> pd.DataFrame:
    """Per local day d in [start, end]: DAU(d) and persons active in days d-window+1..d.

    Running-sum rewrite (STACK_NOTES): each active person-day a contributes +1 at a and -1 at
    min(next active day, a + window), so a person is counted once on every covered day; the
    cumulative sum over a dense day calendar is the rolling distinct count.
    """
    first = params.start - timedelta(days=window - 1)
    sql = f"""
        WITH days AS (
            SELECT DISTINCT e.person_id AS pid, {day_within_sql(source, "e.timestamp", params.timezone, first, params.end)} AS d
            FROM events e
            WHERE e.timestamp >= :t0 AND e.timestamp < :t1 AND e.person_id IS NOT NULL
              {event_condition(event)} AND {not_test_account("e.person_id")}
        ),
        spans AS (
            SELECT d, LEAST(COALESCE(LEAD(d) OVER (PARTITION BY pid ORDER BY d), d + :w), d + :w) AS until
            FROM days
        ),
        deltas AS (
            SELECT day, SUM(delta) AS delta
            FROM (SELECT d AS day, 1 AS delta FROM spans UNION ALL SELECT until AS day, -1 AS delta FROM spans) x
            GROUP BY day
        ),
        dau AS (SELECT d AS day, COUNT(*) AS dau FROM days GROUP BY d),
        calendar AS (SELECT g.day FROM generate_series(CAST(:c0 AS BIGINT), CAST(:c1 AS BIGINT)) AS g(day)),
        rolled AS (
            SELECT c.day, SUM(COALESCE(x.delta, 0)) OVER (ORDER BY c.day ROWS UNBOUNDED PRECEDING) AS active
            FROM calendar c LEFT JOIN deltas x ON x.day = c.day
        )
        SELECT r.day, COALESCE(u.dau, 0) AS dau, r.active
        FROM rolled r LEFT JOIN dau u ON u.day = r.day
        WHERE r.day >= :d0
        ORDER BY r.day
    """
    bind = {
        "tz": params.timezone,
        "w": window,
        "c0": bucket_of(first, "day"),
        "c1": bucket_of(params.end, "day"),
        "d0": bucket_of(params.start, "day"),
        **day_range(first, params.end, params.timezone),
    }
    if event is not None:
        bind["event"] = event
    found = source.fetch(Query(sql, bind))
    return pd.DataFrame(
        {
            "date": [bucket_start(int(d), "day") for d in found["day"]],
            "dau": found["dau"].astype(int).to_numpy(),
            "active": found["active"].astype(int).to_numpy(),
        }
    )


# --------------------------------------------------------------------------- DAU / MAU


class ActivityParams(PeriodParams):
    """A period and the event that makes a person active (empty: any event)."""

    event: AnyEvent = Field(None, description="Event that counts as activity; empty = any event")


@metric(
    "dau_mau",
    params=ActivityParams,
    columns=("date", "dau", "mau", "ratio"),
    definition="Per local day: DAU, rolling 30-day MAU (d-29..d) and the stickiness ratio DAU/MAU",
    group="product",
)
def dau_mau(source: Fetcher, params: ActivityParams) -> pd.DataFrame:
    """DAU(d), MAU(d) = persons active in d-29..d, ratio = DAU/MAU (None when MAU is 0).

    Args:
        source: warehouse holding the D.1 tables.
        params: start, end, event (empty = any event), timezone.

    Returns:
        DataFrame with columns date, dau, mau, ratio; one row per day in [start, end].
    """
    rolled = _rolling_active(source, params, params.event, 30)
    return pd.DataFrame(
        {
            "date": rolled["date"],
            "dau": rolled["dau"],
            "mau": rolled["active"],
            "ratio": nullable(
                [ratio(d, m) for d, m in zip(rolled["dau"], rolled["active"], strict=True)]
            ),
        }
    )


@metric(
    "dau_mau_summary",
    params=ActivityParams,
    columns=("start", "end", "avg_dau", "avg_mau", "ratio"),
    definition="Period summary of DAU/MAU: ratio = mean of the daily DAU/MAU ratios (NEXPO decision, A.6)",
    group="product",
)
def dau_mau_summary(source: Fetcher, params: ActivityParams) -> pd.DataFrame:
    """One row: mean DAU, mean MAU and the mean of daily ratios over days where MAU > 0.

    Args:
        source: warehouse holding the D.1 tables.
        params: start, end, event (empty = any event), timezone.

    Returns:
        DataFrame with one row: start, end, avg_dau, avg_mau, ratio (None when no day has MAU > 0).
    """
    daily = dau_mau(source, params)
    ratios = [r for r in daily["ratio"] if r is not None]
    return pd.DataFrame(
        {
            "start": [params.start],
            "end": [params.end],
            "avg_dau": [float(daily["dau"].mean())],
            "avg_mau": [float(daily["mau"].mean())],
            "ratio": nullable([sum(ratios) / len(ratios) if ratios else None]),
        }
    )


# --------------------------------------------------------------------------- stickiness


class StickinessParams(PeriodParams):
    """PostHog stickiness: how many days of the period each person did the event."""

    event: str = Field(description="Event name")


@metric(
    "stickiness",
    params=StickinessParams,
    columns=("days", "persons"),
    definition="PostHog stickiness: persons who did the event on exactly x days of the period, x = 1..N",
    group="product",
)
def stickiness(source: Fetcher, params: StickinessParams) -> pd.DataFrame:
    """Exactly-x distribution (A.5.4), x = 1..number of days in [start, end], zero-filled.

    Args:
        source: warehouse holding the D.1 tables.
        params: event, start, end, timezone.

    Returns:
        DataFrame with columns days (1..N) and persons.
    """
    sql = f"""
        SELECT active_days, COUNT(*) AS persons
        FROM (
            SELECT e.person_id, COUNT(DISTINCT {day_within_sql(source, "e.timestamp", params.timezone, params.start, params.end)}) AS active_days
            FROM events e
            WHERE e.timestamp >= :t0 AND e.timestamp < :t1 AND e.event = :event
              AND e.person_id IS NOT NULL AND {not_test_account("e.person_id")}
            GROUP BY e.person_id
        ) p
        GROUP BY active_days
    """
    bind = {
        "tz": params.timezone,
        "event": params.event,
        **day_range(params.start, params.end, params.timezone),
    }
    found = source.fetch(Query(sql, bind))
    by_days = dict(zip(found["active_days"].astype(int), found["persons"].astype(int), strict=True))
    n = (params.end - params.start).days + 1
    return pd.DataFrame(
        {"days": list(range(1, n + 1)), "persons": [by_days.get(x, 0) for x in range(1, n + 1)]}
    )


__all__ = [
    "dau_mau",
    "dau_mau_summary",
    "engagement_segments",
    "lifecycle",
    "session_metrics",
    "stickiness",
    "trends",
]
