"""PostHog retention (METRICS.md A.5.2): cohort x period counts, first-time or recurring, in one SQL query."""

from __future__ import annotations

from typing import Literal

import pandas as pd
from pydantic import Field

from analytics._product_sql import (
    BucketInterval,
    bucket_of,
    bucket_sql,
    bucket_start,
    day_range,
    not_test_account,
)
from analytics.catalog import metric
from analytics.params import Interval, PeriodParams
from datasources.base import Fetcher, Query


class RetentionParams(PeriodParams):
    """Start and return events, cohort interval, number of periods and retention type."""

    start_event: str = Field(description="Event that puts a person in a cohort")
    return_event: str = Field(description="Event that counts as coming back")
    interval: Interval = Field("week", description="day | week | month")
    periods: int = Field(
        8,
        ge=1,
        le=400,
        description="Periods per cohort, period 0 included (PostHog totalIntervals)",
    )
    type: Literal["first_time", "recurring"] = Field(
        "first_time", description="first_time | recurring"
    )


@metric(
    "retention",
    params=RetentionParams,
    columns=("cohort", "period", "count"),
    definition="PostHog retention: persons of each start-event cohort with a return event k intervals later (period 0 = cohort size)",
    group="product",
)
def retention(source: Fetcher, params: RetentionParams) -> pd.DataFrame:
    """Cohort x period person counts per A.5.2.

    Cohorts are the interval buckets (weeks start on Monday) from `start`'s bucket to `end`'s.
    first_time: a person's cohort is the bucket of their first-ever start event (over all time),
    kept only when that event lies in the range. recurring: every bucket of the range in which the
    person did the start event is a cohort of theirs. Period 0 is the cohort size; period k >= 1
    counts cohort members with a return event in bucket cohort + k (return events in the cohort
    bucket itself do not count). Return events are read up to the end of `end`, so only periods
    with cohort + k <= `end`'s bucket are returned (the last bucket may be partial), zero-filled.

    Args:
        source: warehouse holding the D.1 tables.
        params: start_event, return_event, start, end, interval, periods, type, timezone.

    Returns:
        DataFrame with columns cohort (first day of the cohort bucket), period (0..periods-1), count.
    """
    interval: BucketInterval = params.interval
    b0, b1 = bucket_of(params.start, interval), bucket_of(params.end, interval)
    base = "e.person_id IS NOT NULL AND " + not_test_account("e.person_id")
    in_range = "e.timestamp >= :t0 AND e.timestamp < :t1"
    if params.type == "first_time":
        cohorts = f"""
            SELECT pid, {bucket_sql("first_ts", interval)} AS cohort
            FROM (SELECT e.person_id AS pid, MIN(e.timestamp) AS first_ts
                  FROM events e WHERE e.event = :start_event AND {base} GROUP BY e.person_id) f
            WHERE first_ts >= :t0 AND first_ts < :t1"""
    else:
        cohorts = f"""
            SELECT DISTINCT e.person_id AS pid, {bucket_sql("e.timestamp", interval)} AS cohort
            FROM events e WHERE e.event = :start_event AND {in_range} AND {base}"""
    sql = f"""
        WITH cohorts AS ({cohorts}),
        returns AS (
            SELECT DISTINCT e.person_id AS pid, {bucket_sql("e.timestamp", interval)} AS b
            FROM events e
            WHERE e.event = :return_event AND {in_range} AND {base}
              AND e.person_id IN (SELECT pid FROM cohorts)
        )
        SELECT cohort, 0 AS period, COUNT(*) AS n FROM cohorts GROUP BY cohort
        UNION ALL
        SELECT c.cohort, r.b - c.cohort AS period, COUNT(*) AS n
        FROM cohorts c JOIN returns r ON r.pid = c.pid AND r.b > c.cohort AND r.b < c.cohort + :periods
        GROUP BY c.cohort, r.b - c.cohort
    """
    bind = {
        "tz": params.timezone,
        "start_event": params.start_event,
        "return_event": params.return_event,
        "periods": params.periods,
        **day_range(bucket_start(b0, interval), params.end, params.timezone),
    }
    found = source.fetch(Query(sql, bind))
    counts = {
        (int(c), int(p)): int(n)
        for c, p, n in zip(found["cohort"], found["period"], found["n"], strict=True)
    }
    rows = [
        {"cohort": bucket_start(c, interval), "period": k, "count": counts.get((c, k), 0)}
        for c in range(b0, b1 + 1)
        for k in range(params.periods)
        if c + k <= b1
    ]
    return pd.DataFrame(rows, columns=["cohort", "period", "count"])
