"""Collected-revenue metrics from payments: by processor, by plan, and the daily trend with a 7-day average.

Collected revenue = succeeded payments net of refunded_minor (a payment with status 'refunded'
and no refunded amount counts as fully refunded; failed payments count 0), in major units, on
the local day (params.timezone) the payment was created: refunds carry no date of their own, so
they are netted on the payment's day. Payments of test accounts (through invoices.customer_id)
are excluded. The revenue_type filter (analytics/filters.py) selects recurring revenue (invoices
of a subscription) or one-time revenue (invoices without one); revenue_by_plan's mrr column is
recurring by definition and ignores it.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from analytics import _revenue_sql as rs
from analytics.catalog import PAYMENT_FILTERS, metric
from analytics.params import PeriodParams
from datasources.base import DERIVED_SCHEMA, Derived, Fetcher


@metric(
    "revenue_by_processor",
    params=PeriodParams,
    columns=("processor", "revenue", "payments"),
    definition="Collected revenue (succeeded payments net of refunds) per payment processor over the range",
    group="revenue",
    filters=PAYMENT_FILTERS,
)
def revenue_by_processor(source: Fetcher, params: PeriodParams) -> pd.DataFrame:
    """Totals over [start, end] per processor, largest first (use revenue_trend for the daily view).

    Args:
        source: where the warehouse lives.
        params: start, end, timezone.

    Returns:
        Columns processor, revenue (major units), payments (number of payments counted).
    """
    sql = f"""
WITH {rs.PAYMENTS_CTE}
SELECT processor, {rs.money("SUM(net)")} AS revenue, COUNT(*) AS payments
FROM pay
WHERE d BETWEEN {rs.lit(params.start)} AND {rs.lit(params.end)}
GROUP BY processor
ORDER BY revenue DESC, processor"""
    frame = rs.fetch(source, sql, {"tz": params.timezone})
    return rs.shape(frame, floats=("revenue",), ints=("payments",))


@metric(
    "revenue_trend",
    params=PeriodParams,
    columns=("date", "revenue", "revenue_ma7"),
    definition="Collected revenue per day and its trailing 7-day moving average (days without payments count 0)",
    group="revenue",
    filters=PAYMENT_FILTERS,
)
def revenue_trend(source: Fetcher, params: PeriodParams) -> pd.DataFrame:
    """Daily collected revenue; revenue_ma7 on day d = sum of days d-6..d / 7 (earlier days included).

    Args:
        source: where the warehouse lives.
        params: start, end, timezone.

    Returns:
        Columns date, revenue, revenue_ma7 (major units), one row per day.
    """
    first = params.start - timedelta(days=6)
    sql = f"""
WITH {rs.PAYMENTS_CTE},
daily AS (
    SELECT d, SUM(net) AS net FROM pay
    WHERE d BETWEEN {rs.lit(first)} AND {rs.lit(params.end)}
    GROUP BY d
),
spine AS (
    SELECT {rs.lit(first)} + CAST(t.i AS INTEGER) AS d
    FROM generate_series(0, {(params.end - first).days}) AS t(i)
),
series AS (
    SELECT s.d, COALESCE(x.net, 0) AS net,
           SUM(COALESCE(x.net, 0)) OVER (ORDER BY s.d ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS net7
    FROM spine AS s LEFT JOIN daily AS x ON x.d = s.d
)
SELECT d AS date, net / 100 AS revenue, net7 / 700 AS revenue_ma7
FROM series
WHERE d >= {rs.lit(params.start)}
ORDER BY d"""
    frame = rs.fetch(source, sql, {"tz": params.timezone})
    return rs.shape(frame, dates=("date",), floats=("revenue", "revenue_ma7"))


@metric(
    "revenue_by_plan",
    params=PeriodParams,
    columns=("plan_id", "plan", "revenue", "mrr"),
    definition="Collected revenue per plan over the range, and MRR per plan at the end of the last day",
    group="revenue",
    filters=PAYMENT_FILTERS,
)
def revenue_by_plan(source: Fetcher, params: PeriodParams) -> pd.DataFrame:
    """Revenue per plan: each paid invoice is split over the items of its subscription valid at the
    invoice's period_start (else created_at) in proportion to list price x quantity (equally when
    all are free); payments of invoices without a subscription or item go to plan null.

    Args:
        source: where the warehouse lives.
        params: start, end, timezone.

    Returns:
        Columns plan_id, plan (name), revenue, mrr (major units; mrr as in the `mrr` metric at
        the end of `end`), largest revenue first.
    """
    end = rs.lit(params.end)
    by_plan, derived = _revenue_by_plan(source, params)
    sql = f"""
WITH {rs.SEGMENTS_CTES},
{by_plan},
plan_mrr AS (
    SELECT plan_id, SUM(amount) AS mrr FROM seg
    WHERE fd <= {end} AND (td IS NULL OR td > {end})
    GROUP BY plan_id
)
SELECT COALESCE(b.plan_id, m.plan_id) AS plan_id, pl.name AS plan,
       COALESCE(b.revenue, 0) / 100 AS revenue, {rs.money("COALESCE(m.mrr, 0)")} AS mrr
FROM by_plan AS b
FULL OUTER JOIN plan_mrr AS m ON m.plan_id = b.plan_id
LEFT JOIN plans AS pl ON pl.id = COALESCE(b.plan_id, m.plan_id)
ORDER BY revenue DESC, mrr DESC, plan_id"""
    frame = rs.fetch(source, sql, {"tz": params.timezone}, derived)
    frame = rs.shape(frame, floats=("revenue", "mrr"))
    frame["plan_id"] = frame["plan_id"].astype("Int64")
    return frame


def _shares(invoices: str) -> str:
    """`alloc` and `totals`: each invoice listed in the CTE `invoices` (its invoice_id column) split
    over the items of its subscription valid at the invoice's period_start (else created_at),
    weighted by list price x quantity."""
    return f"""
alloc AS (
    SELECT v.invoice_id, it.plan_id,
           CAST(p.amount_minor AS DOUBLE PRECISION) * COALESCE(it.quantity, 1) AS w
    FROM {invoices} AS v
    JOIN invoices AS i ON i.id = v.invoice_id
    JOIN subscription_items AS it
      ON it.subscription_id = i.subscription_id
     AND (it.valid_from IS NULL OR it.valid_from <= COALESCE(i.period_start, i.created_at))
     AND (it.valid_to IS NULL OR it.valid_to > COALESCE(i.period_start, i.created_at))
    JOIN plans AS p ON p.id = it.plan_id
),
totals AS (
    SELECT invoice_id, SUM(w) AS w, COUNT(*) AS n FROM alloc GROUP BY invoice_id
)"""


# A payment's part for one plan: all of it without an item (plan null), else by weight, or
# equally when every item is free.
_SHARE = """CASE WHEN a.plan_id IS NULL THEN 1
                 WHEN t.w > 0 THEN a.w / t.w
                 ELSE CAST(1 AS DOUBLE PRECISION) / t.n END"""


def _revenue_by_plan(source: Fetcher, params: PeriodParams) -> tuple[str, tuple[Derived, ...]]:
    """`by_plan(plan_id, revenue)`: collected revenue on [start, end] split over plans.

    Where the source keeps derived tables, every collected payment (the derived payments table)
    is split over its plans once (`plan_pay`) and the range is one filtered sum; elsewhere only
    the range's invoices are split.
    """
    start, end = rs.lit(params.start), rs.lit(params.end)
    if rs.can_derive(source):
        _, pay = rs.derived_payments(rs.local_day(source, params.timezone), params.timezone)

        def build() -> str:
            return f"""
pay AS (SELECT * FROM {DERIVED_SCHEMA}.{pay.name}),
paid_invoices AS (SELECT DISTINCT invoice_id FROM pay WHERE invoice_id IS NOT NULL),
{_shares("paid_invoices")},
plan_pay AS (
    SELECT y.customer_id, y.d, y.recurring, a.plan_id, y.net * {_SHARE} AS net
    FROM pay AS y
    LEFT JOIN alloc AS a ON a.invoice_id = y.invoice_id
    LEFT JOIN totals AS t ON t.invoice_id = y.invoice_id
)"""

        plan_pay, table = rs.derived_cte(
            "plan_pay",
            build,
            params.timezone,
            where=rs.recurring_condition("g.recurring"),
            order="d",
        )
        return (
            f"""{plan_pay},
by_plan AS (
    SELECT plan_id, SUM(net) AS revenue FROM plan_pay
    WHERE d BETWEEN {start} AND {end}
    GROUP BY plan_id
)""",
            (pay, table),
        )
    return (
        f"""{rs.PAYMENTS_CTE},
inv_net AS (
    SELECT invoice_id, SUM(net) AS net FROM pay
    WHERE d BETWEEN {start} AND {end}
    GROUP BY invoice_id
),
{_shares("inv_net")},
by_plan AS (
    SELECT a.plan_id, SUM(v.net * {_SHARE}) AS revenue
    FROM inv_net AS v
    LEFT JOIN alloc AS a ON a.invoice_id = v.invoice_id
    LEFT JOIN totals AS t ON t.invoice_id = v.invoice_id
    GROUP BY a.plan_id
)""",
        (),
    )
