"""Product metrics of how persons engage (METRICS.md A.5.5, A.6): PostHog lifecycle and NEXPO engagement segments.

Conventions as in analytics/product.py: local days, weeks and months in `params.timezone`; test
accounts excluded; shares are fractions, None for an empty denominator.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
from pydantic import Field

from analytics._product_sql import (
    BucketInterval,
    bucket_of,
    bucket_start,
    day_range,
    day_sql,
    day_within_sql,
    event_condition,
    not_test_account,
    optional_float,
    ratio,
)
from analytics.catalog import metric
from analytics.params import AnyEvent, Interval, MetricParams, PeriodParams
from datasources.base import Fetcher, Query

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
            SELECT DISTINCT e.person_id AS pid, {day_sql(source, "e.timestamp", interval, params.timezone, read_from, params.end)} AS b
            FROM events e
            WHERE e.timestamp >= :t0 AND e.timestamp < :t1 AND e.event = :event
              AND e.person_id IS NOT NULL AND {not_test_account("e.person_id")}
        ),
        seq AS (
            SELECT a.pid, a.b,
                   LAG(a.b) OVER (PARTITION BY a.pid ORDER BY a.b) AS prev,
                   LEAD(a.b) OVER (PARTITION BY a.pid ORDER BY a.b) AS nxt,
                   {day_sql(source, "p.created_at", interval, params.timezone, read_from, params.end)} AS created
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
    event: AnyEvent = Field(None, description="Event that counts as activity; empty = any event")

    @property
    def window_start(self) -> date:
        """The first day of the 30-day window (the activity window of user_type=active)."""
        return self.end - timedelta(days=ENGAGEMENT_WINDOW_DAYS - 1)


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
    day = day_within_sql(source, "e.timestamp", params.timezone, first, params.end)
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
              {event_condition(params.event)}
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


__all__ = ["engagement_segments", "lifecycle"]
