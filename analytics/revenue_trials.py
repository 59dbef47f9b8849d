"""Trial conversion rate: cohort by trial start month (Nexpo default) or Stripe's rolling 30 days.

Per trial (a subscription of a real customer with trial_start and trial_end):
- converted at the paid_at of its first paid invoice with total_minor > 0 and paid_at >= trial_end,
  provided it was not canceled before trial_end (canceled_at NULL or >= trial_end); cancelling
  after that payment still counts as converted (Stripe).
- not converted (decided) at: trial_end when canceled before trial_end (or ended_at if it ended
  earlier); else max(ended_at, trial_end) when it ended unpaid; else trial_end when the current
  status is paused, incomplete_expired, canceled or unpaid.
- otherwise pending: the trial has not ended, or it ended and its first invoice is not paid yet.
Days are local days in params.timezone.
- method=cohort: trials grouped by the period of trial start (started by `end`); outcomes as of
  `as_of`, the time of the query (default: today in params.timezone) — not the end of the viewed
  window (METRICS.md A.4): a January cohort viewed in a window ending 31 January counts every
  trial decided since as converted or not, exactly as when viewed in March. Only trials still
  undecided at `as_of` are pending. value = converted / (converted + not_converted); pending is
  excluded from the denominator.
- method=rolling (Stripe): for each period, the 30 days ending on its last day (cut at end):
  converted = conversions decided in the window, not_converted = failures decided in it,
  pending = trials whose trial_end falls in the window but undecided at its end.
- method=period: as rolling, over each calendar period itself (cut at end) instead of 30 days:
  of the trials decided this month so far, the share converted — what a "this month" card shows.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import pandas as pd
from pydantic import Field

from analytics import _revenue_sql as rs
from analytics.catalog import metric
from analytics.filters import current_filter, customer_condition
from analytics.params import PeriodParams
from datasources.base import Derived, Fetcher

# The instant a trial is decided as not converted (NULL: converted or still pending).
_FAILED_AT = """(CASE WHEN c.paid_at IS NOT NULL THEN NULL
                       WHEN t.canceled_at < t.trial_end THEN LEAST(t.ended_at, t.trial_end)
                       WHEN t.ended_at IS NOT NULL THEN GREATEST(t.ended_at, t.trial_end)
                       WHEN t.status IN ('paused', 'incomplete_expired', 'canceled', 'unpaid')
                           THEN t.trial_end
                  END)"""


def outcome_ctes(
    day: Callable[[str], str] = rs.at_tz, *, since: str | None = None, until: str | None = None
) -> str:
    """The trials of kept accounts and their outcomes (the active filter applied).

    Args:
        day: the local-date conversion (`rs.local_day(source, tz)`).
        since, until: TIMESTAMPTZ literals (`rs.instant_lit`); only trials that started in
            [since, until) are read, when given.
    """
    started = "".join(
        f" AND s.trial_start {op} {bound}" for op, bound in ((">=", since), ("<", until)) if bound
    )
    return f"""
trials AS (
    SELECT s.id, s.customer_id, s.status, s.trial_end, s.canceled_at, s.ended_at,
           {day("s.trial_start")} AS start_d, {day("s.trial_end")} AS end_d
    FROM subscriptions AS s
    WHERE s.customer_id NOT IN ({rs.TEST_CUSTOMERS})
      AND s.trial_start IS NOT NULL AND s.trial_end IS NOT NULL{started}
      AND {customer_condition(current_filter(), "s.customer_id")}
),
conv AS (
    SELECT t.id, MIN(i.paid_at) AS paid_at
    FROM trials AS t
    JOIN invoices AS i ON i.subscription_id = t.id
    WHERE i.status = 'paid' AND i.total_minor > 0 AND i.paid_at >= t.trial_end
      AND (t.canceled_at IS NULL OR t.canceled_at >= t.trial_end)
    GROUP BY t.id
),
outcome AS (
    SELECT t.id, t.customer_id, t.start_d, t.end_d,
           {day("c.paid_at")} AS conv_d,
           {day(_FAILED_AT)} AS fail_d
    FROM trials AS t
    LEFT JOIN conv AS c ON c.id = t.id
)"""


def _outcome(
    source: Fetcher, tz: str, first: date | None, last: date
) -> tuple[str, tuple[Derived, ...]]:
    """The `outcome` CTEs of the trials that started on local days [first, last] (first None: any).

    Read from a derived table of every trial's outcome where the source keeps one, else inlined
    with the start range as raw-timestamp bounds (sargable).
    """
    day = rs.local_day(source, tz)
    if rs.can_derive(source):
        where = f"g.start_d <= {rs.lit(last)}"
        if first is not None:
            where += f" AND g.start_d >= {rs.lit(first)}"
        text, table = rs.derived_cte("outcome", lambda: outcome_ctes(day), tz, where=where)
        return text, (table,)
    since = rs.instant_lit(first, tz) if first is not None else None
    until = rs.instant_lit(last + timedelta(days=1), tz)
    return outcome_ctes(day, since=since, until=until), ()


def as_of_day(as_of: date | None, timezone: str) -> date:
    """`as_of`, or today in `timezone`: the time of the query."""
    return as_of or datetime.now(ZoneInfo(timezone)).date()


class TrialParams(PeriodParams):
    """Trial conversion over a date range."""

    method: Literal["cohort", "rolling", "period"] = Field(
        "cohort",
        description="cohort: by trial start period; rolling: Stripe's 30-day window; period: "
        "trials decided in each period",
    )
    interval: Literal["week", "month"] = Field("month", description="Period length")
    as_of: date | None = Field(
        None,
        description="cohort: outcomes known by the end of this day; empty = today (the time of "
        "the query)",
    )

    def outcomes_as_of(self) -> date:
        """The last day whose outcomes the cohort method counts (today in the time zone)."""
        return as_of_day(self.as_of, self.timezone)


@metric(
    "trial_conversion",
    params=TrialParams,
    columns=("period_start", "converted", "not_converted", "pending", "value"),
    definition="Trials converted (first non-zero invoice paid after trial end) / trials decided; pending excluded",
    group="revenue",
)
def trial_conversion(source: Fetcher, params: TrialParams) -> pd.DataFrame:
    """Trial conversion rate per period.

    Args:
        source: where the warehouse lives.
        params: start, end, method, interval, timezone.

    Returns:
        Columns period_start, converted, not_converted, pending (counts), value (fraction; null
        when no trial was decided).
    """
    items = rs.periods(params.start, params.end, params.interval)
    cohort = params.method == "cohort"
    known = rs.lit(params.outcomes_as_of())
    outcome, derived = _outcome(
        source, params.timezone, items[0].start if cohort else None, params.end
    )
    if cohort:
        sql = f"""
WITH {outcome},
{rs.periods_cte(items)}
SELECT p.period_start,
       SUM(CASE WHEN o.conv_d <= {known} THEN 1 ELSE 0 END) AS converted,
       SUM(CASE WHEN o.fail_d <= {known} THEN 1 ELSE 0 END) AS not_converted,
       COUNT(o.id) AS trials
FROM periods AS p
LEFT JOIN outcome AS o ON {rs.trunc("o.start_d", params.interval)} = p.period_start AND o.start_d <= p.d1
GROUP BY p.period_start
ORDER BY p.period_start"""
    else:
        rows = ", ".join(
            f"({rs.lit(p.start)}, {rs.lit(_first_day(p, params.method))}, {rs.lit(p.d1)})"
            for p in items
        )
        sql = f"""
WITH {outcome},
windows(period_start, lo, hi) AS (VALUES {rows}),
flags AS (
    SELECT w.period_start,
           CASE WHEN o.conv_d BETWEEN w.lo AND w.hi THEN 1 ELSE 0 END AS converted,
           CASE WHEN o.fail_d BETWEEN w.lo AND w.hi THEN 1 ELSE 0 END AS not_converted,
           CASE WHEN o.end_d BETWEEN w.lo AND w.hi
                     AND (o.conv_d IS NULL OR o.conv_d > w.hi)
                     AND (o.fail_d IS NULL OR o.fail_d > w.hi) THEN 1 ELSE 0 END AS pending
    FROM windows AS w
    JOIN outcome AS o
      ON o.conv_d BETWEEN w.lo AND w.hi OR o.fail_d BETWEEN w.lo AND w.hi
         OR o.end_d BETWEEN w.lo AND w.hi
)
SELECT w.period_start,
       SUM(COALESCE(f.converted, 0)) AS converted,
       SUM(COALESCE(f.not_converted, 0)) AS not_converted,
       SUM(COALESCE(f.converted, 0) + COALESCE(f.not_converted, 0) + COALESCE(f.pending, 0)) AS trials
FROM windows AS w
LEFT JOIN flags AS f ON f.period_start = w.period_start
GROUP BY w.period_start
ORDER BY w.period_start"""
    frame = rs.fetch(source, sql, {"tz": params.timezone}, derived)
    frame = rs.shape(frame, dates=("period_start",), ints=("converted", "not_converted", "trials"))
    frame["pending"] = frame["trials"] - frame["converted"] - frame["not_converted"]
    frame["value"] = rs.ratio(frame["converted"], frame["converted"] + frame["not_converted"])
    return frame


def _first_day(period: rs.Period, method: str) -> date:
    """The first day of a period's window: the period itself, or Stripe's 30 days to its end."""
    return period.start if method == "period" else period.d1 - timedelta(days=29)


class TrialFunnelParams(PeriodParams):
    """The trials started in the range, followed to the time of the query."""

    as_of: date | None = Field(
        None, description="Outcomes known by the end of this day; empty = today"
    )

    def outcomes_as_of(self) -> date:
        return as_of_day(self.as_of, self.timezone)


TRIAL_STEPS = ("Trial started", "Trial ended", "Converted to paid")


@metric(
    "trial_funnel",
    params=TrialFunnelParams,
    columns=("step", "event", "count"),
    definition="Trials started in the range -> trials ended -> converted to paid (as of the query)",
    group="revenue",
)
def trial_funnel(source: Fetcher, params: TrialFunnelParams) -> pd.DataFrame:
    """The subscription funnel of the trials started on [start, end] (local days).

    Steps: trials started; of them, trials whose trial_end has passed by `as_of` (default today,
    the time of the query); of them, trials converted by `as_of` (the cohort rule above: first
    non-zero invoice paid after trial end, not canceled before it).

    Args:
        source: where the warehouse lives.
        params: start, end, as_of, timezone, filters.

    Returns:
        Columns step (1-3), event (step name), count — the shape of the `funnel` metric.
    """
    known = rs.lit(params.outcomes_as_of())
    outcome, derived = _outcome(source, params.timezone, params.start, params.end)
    sql = f"""
WITH {outcome}
SELECT COUNT(*) AS started,
       SUM(CASE WHEN o.end_d <= {known} THEN 1 ELSE 0 END) AS ended,
       SUM(CASE WHEN o.conv_d <= {known} THEN 1 ELSE 0 END) AS converted
FROM outcome AS o
WHERE o.start_d BETWEEN {rs.lit(params.start)} AND {rs.lit(params.end)}"""
    row = rs.fetch(source, sql, {"tz": params.timezone}, derived).iloc[0]
    counts = [int(row[c]) if pd.notna(row[c]) else 0 for c in ("started", "ended", "converted")]
    return pd.DataFrame({"step": [1, 2, 3], "event": list(TRIAL_STEPS), "count": counts})
