"""Cohort revenue metrics: MRR retention and realised (cash) LTV by the month customers first paid.

- cohort_mrr_retention: cohort = calendar month (params.timezone) of the customer's first day with
  MRR > 0 (the same rule that separates new from reactivation). Its base is the sum of each
  member's MRR at the end of that first paid day; row k is the members' MRR at the end of month
  cohort + k (the last month cut at end) divided by the base, so expansion and reactivation
  raise it and row 0 can differ from 1 when members changed within their first month.
- cohort_ltv: realised LTV on a cash basis, LTV_N = sum over months 0..N-1 of collected revenue
  (succeeded payments net of refunds) of the cohort / cohort size; cohort = month of the
  customer's first payment with a positive net amount. `value` on row k is LTV_(k+1).
Cohorts are the months from start's month to end's month; rows run up to end's month.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from analytics import _revenue_sql as rs
from analytics.catalog import metric
from analytics.filters import current_filter, customer_condition
from analytics.params import PeriodParams
from datasources.base import Derived, Fetcher

_MONTH = "month"


def _grid_sql(params: PeriodParams) -> str:
    """The month list and a (cohort, month) grid over `base(cohort, ...)` from each cohort onwards."""
    return rs.periods_cte(rs.periods(params.start, params.end, _MONTH))


@metric(
    "cohort_mrr_retention",
    params=PeriodParams,
    columns=("cohort", "months_since", "customers", "start_mrr", "mrr", "value"),
    definition="MRR of each first-paid-month cohort at each later month end / the cohort's starting MRR",
    group="revenue",
)
def cohort_mrr_retention(source: Fetcher, params: PeriodParams) -> pd.DataFrame:
    """Net MRR retention by cohort (ChartMogul-style cohort chart).

    Args:
        source: where the warehouse lives.
        params: start, end (cohorts and observed months), timezone.

    Returns:
        Columns cohort (month start), months_since, customers, start_mrr and mrr (major units),
        value (fraction of start_mrr); one row per cohort and month up to end.
    """
    first_month = params.start.replace(day=1)
    end = rs.lit(params.end)
    sql = f"""
WITH {rs.SEGMENTS_CTES},
{rs.FIRST_PAID_CTE},
{_grid_sql(params)},
members AS (
    SELECT customer_id, first_d, {rs.trunc("first_d", _MONTH)} AS cohort
    FROM first_paid
    WHERE first_d BETWEEN {rs.lit(first_month)} AND {end}
),
mdelta AS (
    SELECT m.cohort, {rs.trunc("x.d", _MONTH)} AS month_start, SUM(x.delta) AS delta,
           SUM(CASE WHEN x.d = m.first_d THEN x.delta ELSE 0 END) AS first_day
    FROM members AS m
    JOIN delta AS x ON x.customer_id = m.customer_id
    WHERE x.d <= {end}
    GROUP BY 1, 2
),
-- A member has no MRR change before first_d, so their MRR at the end of that day is the sum of
-- that day's changes: the base needs no range join against the segments.
base AS (
    SELECT c.cohort, c.customers, f.start_mrr
    FROM (SELECT cohort, COUNT(*) AS customers FROM members GROUP BY cohort) AS c
    JOIN (SELECT cohort, SUM(first_day) AS start_mrr FROM mdelta GROUP BY cohort) AS f
      ON f.cohort = c.cohort
)
SELECT b.cohort,
       CAST(ROW_NUMBER() OVER (PARTITION BY b.cohort ORDER BY p.period_start) - 1 AS BIGINT) AS months_since,
       b.customers, {rs.money("b.start_mrr")} AS start_mrr,
       {rs.money("SUM(COALESCE(md.delta, 0)) OVER (PARTITION BY b.cohort ORDER BY p.period_start ROWS UNBOUNDED PRECEDING)")} AS mrr
FROM base AS b
JOIN periods AS p ON p.period_start >= b.cohort
LEFT JOIN mdelta AS md ON md.cohort = b.cohort AND md.month_start = p.period_start
ORDER BY b.cohort, months_since"""
    frame = rs.fetch(source, sql, {"tz": params.timezone})
    frame = rs.shape(
        frame, dates=("cohort",), floats=("start_mrr", "mrr"), ints=("months_since", "customers")
    )
    frame["value"] = rs.ratio(frame["mrr"], frame["start_mrr"])
    return frame


@metric(
    "cohort_ltv",
    params=PeriodParams,
    columns=("cohort", "months_since", "customers", "revenue", "value"),
    definition="Realised LTV: cumulative collected revenue of each first-payment-month cohort / cohort size",
    group="revenue",
)
def cohort_ltv(source: Fetcher, params: PeriodParams) -> pd.DataFrame:
    """Cash-basis cohort LTV (METRICS.md A.3 cohort alternative), not extrapolated.

    Args:
        source: where the warehouse lives.
        params: start, end (cohorts and observed months), timezone.

    Returns:
        Columns cohort (month start), months_since, customers, revenue (the cohort's net revenue
        in that month, major units), value (cumulative revenue per customer through that month).
    """
    first_month = params.start.replace(day=1)
    paid, derived = _paid(source, params.timezone, first_month, params.end)
    sql = f"""
WITH {paid},
{_grid_sql(params)},
members AS (
    SELECT customer_id, {rs.trunc("MIN(d)", _MONTH)} AS cohort
    FROM paid WHERE net > 0
    GROUP BY customer_id
),
base AS (
    SELECT cohort, COUNT(*) AS customers FROM members GROUP BY cohort
),
rev AS (
    SELECT m.cohort, {rs.trunc("y.d", _MONTH)} AS month_start, SUM(y.net) AS net
    FROM members AS m
    JOIN paid AS y ON y.customer_id = m.customer_id
    GROUP BY 1, 2
)
SELECT b.cohort,
       CAST(ROW_NUMBER() OVER (PARTITION BY b.cohort ORDER BY p.period_start) - 1 AS BIGINT) AS months_since,
       b.customers,
       COALESCE(r.net, 0) / 100 AS revenue,
       SUM(COALESCE(r.net, 0)) OVER (PARTITION BY b.cohort ORDER BY p.period_start ROWS UNBOUNDED PRECEDING)
           / 100 / b.customers AS value
FROM base AS b
JOIN periods AS p ON p.period_start >= b.cohort
LEFT JOIN rev AS r ON r.cohort = b.cohort AND r.month_start = p.period_start
ORDER BY b.cohort, months_since"""
    frame = rs.fetch(source, sql, {"tz": params.timezone}, derived)
    return rs.shape(
        frame, dates=("cohort",), floats=("revenue", "value"), ints=("months_since", "customers")
    )


def _paid(source: Fetcher, tz: str, first: date, last: date) -> tuple[str, tuple[Derived, ...]]:
    """`paid(customer_id, d, net)`: collected payments on local days [first, last] of the kept
    accounts whose first positive payment is on or after `first` (so falls in the range).

    Where the source keeps derived tables, every collected payment's customer, day and net
    amount is derived once; elsewhere only the payments in range get local days, and the range
    is compared on the raw timestamps (sargable).
    """
    if rs.can_derive(source):
        day = rs.local_day(source, tz)

        def build() -> str:
            return f"""
cpay AS (
    SELECT i.customer_id, {day("p.created_at")} AS d, {rs.NET} AS net
    FROM payments AS p
    JOIN invoices AS i ON i.id = p.invoice_id
    WHERE {rs.COLLECTED} AND i.customer_id NOT IN ({rs.TEST_CUSTOMERS})
)"""

        cpay, table = rs.derived_cte("cpay", build, tz, order="d")
        return (
            f"""{cpay},
paid AS (
    SELECT customer_id, d, net FROM cpay
    WHERE d BETWEEN {rs.lit(first)} AND {rs.lit(last)}
      AND customer_id NOT IN (
          SELECT customer_id FROM cpay
          WHERE d < {rs.lit(first)} AND net > 0 AND customer_id IS NOT NULL)
)""",
            (table,),
        )
    since = rs.instant_lit(first, tz)
    until = rs.instant_lit(last + timedelta(days=1), tz)
    return (
        f"""
earlier AS (
    SELECT DISTINCT i.customer_id
    FROM payments AS p
    JOIN invoices AS i ON i.id = p.invoice_id
    WHERE {rs.COLLECTED} AND p.created_at < {since} AND {rs.NET} > 0
      AND i.customer_id IS NOT NULL
),
paid AS (
    SELECT i.customer_id, {rs.local_day(source, tz)("p.created_at")} AS d, {rs.NET} AS net
    FROM payments AS p
    JOIN invoices AS i ON i.id = p.invoice_id
    WHERE {rs.COLLECTED} AND p.created_at >= {since} AND p.created_at < {until}
      AND i.customer_id NOT IN ({rs.TEST_CUSTOMERS})
      AND i.customer_id NOT IN (SELECT customer_id FROM earlier)
      AND {customer_condition(current_filter(), "i.customer_id")}
)""",
        (),
    )
