"""The seed's engagement report ("SQL-Based Report"): users by active days in the last 30 days."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
from pydantic import Field

from analytics._product_sql import day_range, day_within_sql, not_test_account, optional_float
from analytics.catalog import metric
from analytics.params import MetricParams
from datasources.base import Fetcher, Query

REPORT_DAYS = 30
# The seed's levels in its order, with the least active days each needs.
LEVELS = (("High", 20), ("Medium", 10), ("Low", 1), ("Inactive", 0))
COLUMNS = ("engagement_level", "user_count", "avg_sessions", "avg_duration", "percentage")


class EngagementReportParams(MetricParams):
    """The 30 local days ending at `end`."""

    end: date = Field(description="Last day of the 30-day window, inclusive (YYYY-MM-DD)")

    @property
    def window_start(self) -> date:
        """The first day of the report's window (the activity window of user_type=active)."""
        return self.end - timedelta(days=REPORT_DAYS - 1)


@metric(
    "engagement_report",
    params=EngagementReportParams,
    columns=COLUMNS,
    definition="The seed's engagement report: users by active days (days with a session) in the 30 days ending at end: High >= 20, Medium >= 10, Low >= 1, Inactive 0",
    group="product",
)
def engagement_report(source: Fetcher, params: EngagementReportParams) -> pd.DataFrame:
    """The seed's user engagement report, one row per level in the seed's order.

    Sessions are those that started in the 30 local days ending at `end` (params.timezone); the
    seed's `NOW() - INTERVAL '30 days'` becomes the window's end so the report can be run for any
    day. Per user: session_count, active_days (distinct local days with a session) and the mean
    session duration. Unlike the seed's SQL, whose WHERE on the LEFT JOIN drops every user
    without a session (so its Inactive never appears), users who existed by the window's end
    (created_at before it, or unknown) and had no session in it are counted as Inactive with 0
    sessions: a report that lists Inactive should count them. Test accounts are excluded
    (METRICS.md D.7.8); the account filters and user_type=active apply as to every product metric.

    Args:
        source: warehouse holding users and sessions (D.1).
        params: end, timezone, filters.

    Returns:
        Rows High, Medium, Low, Inactive (always all four) with columns engagement_level,
        user_count, avg_sessions (mean sessions per user), avg_duration (the mean of each user's
        mean session duration in seconds, as the seed's AVG(avg_session_duration); None without
        sessions), percentage (of all users counted, rounded half up to 2 decimals; None when no
        user is counted).
    """
    first = params.window_start
    day = day_within_sql(source, "s.start_ts", params.timezone, first, params.end)
    sql = f"""
        WITH per_user AS (
            SELECT s.person_id AS uid, COUNT(*) AS sessions, COUNT(DISTINCT {day}) AS days,
                   AVG(CAST(s.duration_s AS DOUBLE PRECISION)) AS duration
            FROM sessions s
            WHERE s.start_ts >= :t0 AND s.start_ts < :t1 AND s.person_id IS NOT NULL
            GROUP BY s.person_id
        ),
        counted AS (
            SELECT COALESCE(p.sessions, 0) AS sessions, COALESCE(p.days, 0) AS days, p.duration
            FROM users u
            LEFT JOIN per_user p ON p.uid = u.id
            WHERE (u.created_at IS NULL OR u.created_at < :t1) AND {not_test_account("u.id")}
        )
        SELECT CASE WHEN days >= 20 THEN 'High' WHEN days >= 10 THEN 'Medium'
                    WHEN days >= 1 THEN 'Low' ELSE 'Inactive' END AS level,
               COUNT(*) AS users,
               AVG(CAST(sessions AS DOUBLE PRECISION)) AS avg_sessions,
               AVG(duration) AS avg_duration
        FROM counted
        GROUP BY 1
    """
    bind = {"tz": params.timezone, **day_range(first, params.end, params.timezone)}
    found = source.fetch(Query(sql, bind)).set_index("level")
    total = int(found["users"].sum()) if len(found) else 0
    rows = []
    for level, _ in LEVELS:
        users = int(found.at[level, "users"]) if level in found.index else 0
        rows.append(
            {
                "engagement_level": level,
                "user_count": users,
                "avg_sessions": optional_float(found.at[level, "avg_sessions"]) if users else None,
                "avg_duration": optional_float(found.at[level, "avg_duration"]) if users else None,
                "percentage": _percent(users, total),
            }
        )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _percent(part: int, total: int) -> float | None:
    """part / total in percent, rounded half up to 2 decimals (SQL's ROUND); None for no total."""
    if not total:
        return None
    exact = Decimal(part) * 100 / Decimal(total)
    return float(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


__all__ = ["engagement_report"]
