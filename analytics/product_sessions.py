"""Product metrics from the sessions table (METRICS.md A.6): sessions, duration, bounce rate, pageviews per day.

Conventions as in analytics/product.py: a session belongs to the local day (`params.timezone`) it
started; test accounts excluded; rates are fractions, None on days without sessions.
"""

from __future__ import annotations

import pandas as pd

from analytics._product_sql import (
    bucket_of,
    bucket_start,
    day_range,
    day_within_sql,
    not_test_account,
    optional_float,
)
from analytics.catalog import metric
from analytics.params import PeriodParams
from datasources.base import Fetcher, Query


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
    day = day_within_sql(source, "s.start_ts", params.timezone, params.start, params.end)
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


__all__ = ["session_metrics"]
