"""Product metrics after PostHog (METRICS.md A.5, A.6): trends, DAU/MAU, stickiness, lifecycle, engagement, sessions.

Conventions beyond METRICS.md (also in each metric's docstring):
- Days, weeks (Monday-based, ISO) and months are cut in `params.timezone`; an event belongs to the
  local day of its timestamp (D.7.9).
- "Active" = at least one event named `event` (any event when `event` is empty) by a person;
  events without person_id count only for `trends` math `total`/`sum`.
- Test accounts (users of customers with is_test) are excluded everywhere (D.7.8).
- Rates are fractions; an empty denominator gives None (D.7.10).

Importing this module also registers the funnel and retention metrics.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

import pandas as pd
from pydantic import Field, field_validator, model_validator

from analytics import funnels as _funnels  # noqa: F401  (registers funnel metrics)
from analytics import retention as _retention  # noqa: F401  (registers retention)
from analytics._product_sql import (
    BucketInterval,
    bucket_of,
    bucket_start,
    check_property,
    day_range,
    local_day_sql,
    local_day_within,
    not_test_account,
    nullable,
    optional_float,
    property_key,
    ratio,
    to_number,
)
from analytics.catalog import metric
from analytics.params import Interval, MetricParams, PeriodParams
from datasources.base import Fetcher, Query

TrendsMath = Literal["total", "dau", "weekly_active", "monthly_active", "sum"]
ROLLING_DAYS = {"weekly_active": 7, "monthly_active": 30}


def _event_condition(event: str | None, alias: str = "e") -> str:
    return "" if event is None else f"AND {alias}.event = :event"


def _day_sql(
    source: Fetcher, column: str, interval: BucketInterval, tz: str, first: date, last: date
) -> str:
    """The bucket index of `column` (exactly `bucket_sql`), fast inside the days first..last."""
    span = day_range(first, last, tz)
    return local_day_sql(column, interval, source.dialect, tz, span["t0"], span["t1"])


def _day_within_sql(source: Fetcher, column: str, tz: str, first: date, last: date) -> str:
    """The local day index of `column` for a query whose WHERE keeps it in the days first..last
    (`:t0 <= column < :t1` of `day_range(first, last, tz)`): `_day_sql` without its range check."""
    span = day_range(first, last, tz)
    return local_day_within(column, source.dialect, tz, span["t0"], span["t1"])


def _empty_to_none(value: object) -> str | None:
    return None if value is None or not str(value).strip() else str(value).strip()


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
        SELECT {_day_sql(source, "e.timestamp", interval, params.timezone, params.start, params.end)} AS b, {value} AS value
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
            SELECT DISTINCT e.person_id AS pid, {_day_within_sql(source, "e.timestamp", params.timezone, first, params.end)} AS d
            FROM events e
            WHERE e.timestamp >= :t0 AND e.timestamp < :t1 AND e.person_id IS NOT NULL
              {_event_condition(event)} AND {not_test_account("e.person_id")}
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

    event: str | None = Field(None, description="Event that counts as activity; empty = any event")

    @field_validator("event", mode="before")
    @classmethod
    def _blank_is_any(cls, value: object) -> str | None:
        return _empty_to_none(value)  # type: ignore[arg-type]


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
            SELECT e.person_id, COUNT(DISTINCT {_day_within_sql(source, "e.timestamp", params.timezone, params.start, params.end)}) AS active_days
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


# --------------------------------------------------------------------------- lifecycle


class LifecycleParams(PeriodParams):
    """PostHog lifecycle of persons doing `event`, per interval."""

    event: str = Field(description="Event name")
    interval: Interval = Field("day", description="day | week | month")


@metric(
    "lifecycle",
    params=LifecycleParams,
    columns=("date", "new", "returning", "resurrecting", "dormant"),
    definition="PostHog lifecycle per interval: new (first active in the person's creation interval), returning, resurrecting, dormant (negative)",
    group="product",
)
def lifecycle(source: Fetcher, params: LifecycleParams) -> pd.DataFrame:
    """Statuses exactly per A.5.5, for every interval bucket touching [start, end].

    Events are read from the start of the interval before `start`'s bucket to the end of `end`.
    Per person, activity buckets are sorted; the first one is `new` when it equals the bucket of
    persons.created_at (D.7.12), else `resurrecting`; later ones are `returning` when the previous
    bucket was active, else `resurrecting`. An active bucket not followed by activity makes the next
    bucket `dormant`. A person without a persons row has no created_at, so never `new`.

    Args:
        source: warehouse holding the D.1 tables.
        params: event, start, end, interval, timezone.

    Returns:
        DataFrame with columns date (bucket start), new, returning, resurrecting, dormant (<= 0).
    """
    interval: BucketInterval = params.interval
    b0, b1 = bucket_of(params.start, interval), bucket_of(params.end, interval)
    read_from = bucket_start(b0 - 1, interval)
    sql = f"""
        WITH active AS (
            SELECT DISTINCT e.person_id AS pid, {_day_sql(source, "e.timestamp", interval, params.timezone, read_from, params.end)} AS b
            FROM events e
            WHERE e.timestamp >= :t0 AND e.timestamp < :t1 AND e.event = :event
              AND e.person_id IS NOT NULL AND {not_test_account("e.person_id")}
        ),
        seq AS (
            SELECT a.pid, a.b,
                   LAG(a.b) OVER (PARTITION BY a.pid ORDER BY a.b) AS prev,
                   LEAD(a.b) OVER (PARTITION BY a.pid ORDER BY a.b) AS nxt,
                   {_day_sql(source, "p.created_at", interval, params.timezone, read_from, params.end)} AS created
            FROM active a LEFT JOIN persons p ON p.id = a.pid
        ),
        statuses AS (
            SELECT b, CASE
                       WHEN prev IS NULL THEN CASE WHEN b = created THEN 'new' ELSE 'resurrecting' END
                       WHEN prev = b - 1 THEN 'returning'
                       ELSE 'resurrecting'
                   END AS status
            FROM seq
            UNION ALL
            SELECT b + 1 AS b, 'dormant' AS status FROM seq WHERE nxt IS NULL OR nxt <> b + 1
        )
        SELECT b, status, COUNT(*) AS n
        FROM statuses
        WHERE b BETWEEN :b0 AND :b1
        GROUP BY b, status
    """
    bind = {
        "tz": params.timezone,
        "event": params.event,
        "b0": b0,
        "b1": b1,
        **day_range(read_from, params.end, params.timezone),
    }
    found = source.fetch(Query(sql, bind))
    counts = {
        (int(b), s): int(n) for b, s, n in zip(found["b"], found["status"], found["n"], strict=True)
    }
    buckets = range(b0, b1 + 1)
    return pd.DataFrame(
        {
            "date": [bucket_start(b, interval) for b in buckets],
            "new": [counts.get((b, "new"), 0) for b in buckets],
            "returning": [counts.get((b, "returning"), 0) for b in buckets],
            "resurrecting": [counts.get((b, "resurrecting"), 0) for b in buckets],
            "dormant": [-counts.get((b, "dormant"), 0) for b in buckets],
        }
    )


# --------------------------------------------------------------------------- engagement segments

ENGAGEMENT_WINDOW_DAYS = 30
SEGMENTS = (("High", 15, 30), ("Medium", 5, 14), ("Low", 1, 4), ("Inactive", 0, 0))


class EngagementParams(MetricParams):
    """The 30 local days ending at `end`, and the event that makes a person active."""

    end: date = Field(description="Last day of the 30-day window, inclusive (YYYY-MM-DD)")
    event: str | None = Field(None, description="Event that counts as activity; empty = any event")

    @field_validator("event", mode="before")
    @classmethod
    def _blank_is_any(cls, value: object) -> str | None:
        return _empty_to_none(value)  # type: ignore[arg-type]


@metric(
    "engagement_segments",
    params=EngagementParams,
    columns=("segment", "users", "share", "avg_active_days", "avg_events"),
    definition="Persons by active days in the 30 days ending at end: High >= 15, Medium 5-14, Low 1-4, Inactive 0 (known before the window)",
    group="product",
)
def engagement_segments(source: Fetcher, params: EngagementParams) -> pd.DataFrame:
    """Segment persons by active local days in end-29..end (NEXPO thresholds).

    Population: persons active in the window, plus persons created before the window (in
    `timezone`) who were not active (Inactive). Test accounts excluded.

    Args:
        source: warehouse holding the D.1 tables.
        params: end, event (empty = any event), timezone.

    Returns:
        DataFrame with rows High, Medium, Low, Inactive and columns segment, users, share (of all
        segmented persons; None when there are none), avg_active_days, avg_events (None for an empty segment).
    """
    first = params.end - timedelta(days=ENGAGEMENT_WINDOW_DAYS - 1)
    day = _day_within_sql(source, "e.timestamp", params.timezone, first, params.end)
    if source.dialect == "duckdb":
        # The active days as a bitmask (bit d - d0 for local day d; 30 days < 63 bits): one
        # aggregate per person, where DuckDB runs COUNT(DISTINCT) as a second grouping by (person, day).
        days = f"bit_count(BIT_OR(CAST(1 AS BIGINT) << CAST({day} - :d0 AS INTEGER)))"
    else:
        days = f"COUNT(DISTINCT {day})"
    # Test accounts are dropped per person (after the grouping), not per event.
    sql = f"""
        WITH act AS (
            SELECT e.person_id AS pid, {days} AS days, COUNT(*) AS events
            FROM events e
            WHERE e.timestamp >= :t0 AND e.timestamp < :t1 AND e.person_id IS NOT NULL
              {_event_condition(params.event)}
            GROUP BY e.person_id
        ),
        population AS (
            SELECT pid, days, events FROM act WHERE {not_test_account("pid")}
            UNION ALL
            SELECT p.id AS pid, 0 AS days, 0 AS events
            FROM persons p
            WHERE p.created_at < :t0 AND {not_test_account("p.id")}
              AND NOT EXISTS (SELECT 1 FROM act WHERE act.pid = p.id)
        )
        SELECT CASE WHEN days >= 15 THEN 'High' WHEN days >= 5 THEN 'Medium' WHEN days >= 1 THEN 'Low' ELSE 'Inactive' END AS segment,
               COUNT(*) AS users, AVG(CAST(days AS DOUBLE PRECISION)) AS avg_days, AVG(CAST(events AS DOUBLE PRECISION)) AS avg_events
        FROM population
        GROUP BY 1
    """
    bind = {
        "tz": params.timezone,
        "d0": bucket_of(first, "day"),
        **day_range(first, params.end, params.timezone),
    }
    if params.event is not None:
        bind["event"] = params.event
    found = source.fetch(Query(sql, bind)).set_index("segment")
    total = int(found["users"].sum()) if len(found) else 0
    rows = []
    for name, _, _ in SEGMENTS:
        users = int(found.at[name, "users"]) if name in found.index else 0
        rows.append(
            {
                "segment": name,
                "users": users,
                "share": ratio(users, total),
                "avg_active_days": optional_float(found.at[name, "avg_days"]) if users else None,
                "avg_events": optional_float(found.at[name, "avg_events"]) if users else None,
            }
        )
    return pd.DataFrame(
        rows, columns=["segment", "users", "share", "avg_active_days", "avg_events"]
    )


# --------------------------------------------------------------------------- sessions


def _mean(expr: str) -> str:
    """The mean of the integer `expr` over non-NULL rows as a double (NULL when there are none)."""
    return f"CAST(SUM({expr}) AS DOUBLE PRECISION) / NULLIF(COUNT({expr}), 0)"


@metric(
    "session_metrics",
    params=PeriodParams,
    columns=("date", "sessions", "avg_duration_s", "bounce_rate", "pageviews_per_session"),
    definition="Per local day of session start: sessions, mean duration (s), bounce rate, pageviews per session",
    group="product",
)
def session_metrics(source: Fetcher, params: PeriodParams) -> pd.DataFrame:
    """Sessions by the local day they started; averages are None on days without sessions.

    Args:
        source: warehouse holding the D.1 tables (sessions).
        params: start, end, timezone.

    Returns:
        DataFrame with columns date, sessions, avg_duration_s, bounce_rate (fraction),
        pageviews_per_session; one row per day in [start, end].
    """
    day = _day_within_sql(source, "s.start_ts", params.timezone, params.start, params.end)
    # Means as SUM / COUNT: the same doubles as AVG (integer sums are exact), and cheaper in DuckDB.
    sql = f"""
        SELECT {day} AS d, COUNT(*) AS sessions,
               {_mean("s.duration_s")} AS avg_duration_s,
               {_mean("CAST(s.is_bounce AS INTEGER)")} AS bounce_rate,
               {_mean("s.pageview_count")} AS pageviews_per_session
        FROM sessions s
        WHERE s.start_ts >= :t0 AND s.start_ts < :t1 AND {not_test_account("s.person_id")}
        GROUP BY 1
    """
    bind = {"tz": params.timezone, **day_range(params.start, params.end, params.timezone)}
    found = source.fetch(Query(sql, bind))
    by_day = {int(row.d): row for row in found.itertuples(index=False)}
    rows = []
    for d in range(bucket_of(params.start, "day"), bucket_of(params.end, "day") + 1):
        row = by_day.get(d)
        rows.append(
            {
                "date": bucket_start(d, "day"),
                "sessions": int(row.sessions) if row else 0,
                "avg_duration_s": optional_float(row.avg_duration_s) if row else None,
                "bounce_rate": optional_float(row.bounce_rate) if row else None,
                "pageviews_per_session": optional_float(row.pageviews_per_session) if row else None,
            }
        )
    return pd.DataFrame(
        rows, columns=["date", "sessions", "avg_duration_s", "bounce_rate", "pageviews_per_session"]
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
