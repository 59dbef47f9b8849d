"""SQL building blocks shared by the revenue metrics: revenue-active segments, periods, payments."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

import pandas as pd

from analytics._product_sql import fast_day_index, instant
from analytics.filters import current_filter, customer_condition, revenue_condition, use_filter
from datasources.base import DERIVED_SCHEMA, Derived, Fetcher, Query

# Revenue-active segments, one row per (item row, discount stretch), as half-open ranges of local
# days [fd, td): the amount counts in the snapshot at the end of day d when fd <= d < td (td NULL
# = still open). Amounts are monthly-normalised minor units held as DECIMAL(38, 6) so running
# sums return to exactly 0 and both engines add the same numbers. The rules are documented in
# analytics/revenue.py.
# A canceled or unpaid subscription ends at ended_at, else canceled_at, else (Stripe's `unpaid`
# keeps both empty) at the end of the last paid service period; never paid: never active.
_ACT_END = """(CASE WHEN s.status IN ('canceled', 'unpaid')
                       THEN COALESCE(s.ended_at, s.canceled_at, lp.last_paid_end, s.started_at)
                       ELSE s.ended_at END)"""
# A paused subscription's open-ended item is not revenue-active: its range ends before it starts
# (dropped with the empty ranges in `seg`). As a WHERE clause this became a residual predicate on
# the items-subscriptions hash join, which made the join several times slower on DuckDB.
_EMPTY_END = "DATE '1970-01-01'"
# Only these subscriptions need the last paid period (a join over every invoice costs more than
# the rest of the segments).
_DATELESS_ENDED = """SELECT id FROM subscriptions
                                      WHERE status IN ('canceled', 'unpaid')
                                        AND ended_at IS NULL AND canceled_at IS NULL"""
# Test accounts are few: excluding them as `NOT IN` a small set is cheaper than joining every row
# to customers (customers.id is the primary key, never NULL, so NOT IN is safe).
TEST_CUSTOMERS = "SELECT id FROM customers WHERE is_test"
TEST_INVOICES = "SELECT ti.id FROM invoices AS ti JOIN customers AS tc ON tc.id = ti.customer_id WHERE tc.is_test"


def at_tz(expr: str) -> str:
    """The local date of the TIMESTAMPTZ `expr` in the zone bound to `:tz` (portable)."""
    return f"CAST(({expr} AT TIME ZONE :tz) AS DATE)"


def segments_ctes(day: Callable[[str], str] = at_tz) -> str:
    """SEGMENTS_CTES with `day(expr)` as the local-date conversion."""
    return f"""
live AS (
    SELECT subscription_id, customer_id, status,
           {day("act_from_ts")} AS act_from, {day("act_to_ts")} AS act_to
    FROM (
        SELECT s.id AS subscription_id, s.customer_id, s.status,
               GREATEST(s.started_at, s.trial_end) AS act_from_ts, {_ACT_END} AS act_to_ts
        FROM subscriptions AS s
        LEFT JOIN (
            SELECT subscription_id, MAX(period_end) AS last_paid_end
            FROM invoices
            WHERE status = 'paid' AND total_minor > 0
              AND subscription_id IN ({_DATELESS_ENDED})
            GROUP BY subscription_id
        ) AS lp ON lp.subscription_id = s.id
        WHERE s.customer_id NOT IN ({TEST_CUSTOMERS})
          AND s.status IN ('active', 'past_due', 'canceled', 'unpaid', 'paused')
          AND {customer_condition(current_filter(), "s.customer_id")}
    ) AS raw
),
items AS (
    SELECT l.customer_id, i.plan_id,
           GREATEST(l.act_from, {day("i.valid_from")}) AS fd,
           CASE WHEN l.status = 'paused' AND i.valid_to IS NULL THEN {_EMPTY_END}
                ELSE LEAST(l.act_to, {day("i.valid_to")}) END AS td,
           {day("i.discount_ends_at")} AS de,
           COALESCE(LEAST(GREATEST(CAST(i.discount_pct AS DOUBLE PRECISION), 0), 100), 0) AS pct,
           CAST(p.amount_minor AS DOUBLE PRECISION) * COALESCE(i.quantity, 1)
               * (CASE p."interval" WHEN 'month' THEN 12 WHEN 'year' THEN 1
                                    WHEN 'week' THEN 52 WHEN 'day' THEN 365 ELSE 0 END)
               / (CAST(12 AS DOUBLE PRECISION) * COALESCE(NULLIF(p.interval_count, 0), 1))
               AS full_amount
    FROM live AS l
    JOIN subscription_items AS i ON i.subscription_id = l.subscription_id
    JOIN plans AS p ON p.id = i.plan_id
    WHERE NOT COALESCE(p.is_free, FALSE)
      AND COALESCE(p.usage_type, 'licensed') <> 'metered'
),
seg AS (
    SELECT customer_id, plan_id, fd, td, amount
    FROM (
        SELECT customer_id, plan_id, fd, td, CAST(raw_amount AS DECIMAL(38, 6)) AS amount
        FROM (
            SELECT customer_id, plan_id, fd, LEAST(td, de) AS td,
                   full_amount * (100 - pct) / 100 AS raw_amount
            FROM items WHERE pct > 0
            UNION ALL
            SELECT customer_id, plan_id, CASE WHEN pct > 0 THEN GREATEST(fd, de) ELSE fd END, td,
                   full_amount
            FROM items WHERE pct = 0 OR de IS NOT NULL
        ) AS parts
    ) AS rounded
    WHERE amount > 0 AND fd IS NOT NULL AND (td IS NULL OR td > fd)
),
delta AS (
    SELECT customer_id, fd AS d, amount AS delta FROM seg
    UNION ALL
    SELECT customer_id, td AS d, -amount AS delta FROM seg WHERE td IS NOT NULL
)"""


SEGMENTS_CTES = segments_ctes()

# The day each customer first had MRR > 0.
FIRST_PAID_CTE = """
first_paid AS (
    SELECT customer_id, MIN(fd) AS first_d FROM seg GROUP BY customer_id
)"""


# Collected revenue: succeeded payments net of refunds, on the local day of the payment; a
# payment whose status is 'refunded' without a refunded amount counts as fully refunded. Payments
# of test customers (through their invoice) are excluded; a payment without an invoice is kept.
COLLECTED = "p.status IN ('succeeded', 'refunded')"
NET = """CAST(CASE WHEN p.status = 'succeeded' THEN p.amount_minor - COALESCE(p.refunded_minor, 0)
                     ELSE p.amount_minor - COALESCE(p.refunded_minor, p.amount_minor)
                END AS DOUBLE PRECISION)"""


def payments_cte(day: Callable[[str], str] = at_tz) -> str:
    """PAYMENTS_CTE with `day(expr)` as the local-date conversion."""
    condition = customer_condition(current_filter(), "fi.customer_id")
    kept = (
        ""
        if condition == "TRUE"
        else f"AND p.invoice_id IN (SELECT fi.id FROM invoices AS fi WHERE {condition})"
    )
    kind = revenue_condition(current_filter(), "p.invoice_id")
    kept += "" if kind == "TRUE" else f"\n      AND {kind}"
    return f"""
pay AS (
    SELECT p.id AS payment_id, p.invoice_id, p.processor,
           {day("p.created_at")} AS d,
           {NET} AS net
    FROM payments AS p
    WHERE {COLLECTED}
      AND (p.invoice_id IS NULL OR p.invoice_id NOT IN ({TEST_INVOICES}))
      {kept}
)"""  # fmt: skip


PAYMENTS_CTE = payments_cte()


def all_payments_cte(day: Callable[[str], str]) -> str:
    """`pay` for every account, with the account (through the invoice) and whether the payment
    is recurring revenue (its invoice has a subscription), to filter on when read."""
    return f"""
pay AS (
    SELECT p.id AS payment_id, p.invoice_id, p.processor,
           {day("p.created_at")} AS d,
           {NET} AS net,
           i.customer_id,
           COALESCE(i.subscription_id IS NOT NULL, FALSE) AS recurring
    FROM payments AS p
    LEFT JOIN invoices AS i ON i.id = p.invoice_id
    WHERE {COLLECTED}
      AND (p.invoice_id IS NULL OR p.invoice_id NOT IN ({TEST_INVOICES}))
)"""  # fmt: skip


Unit = Literal["day", "week", "month", "period"]


@dataclass(frozen=True)
class Period:
    """A reporting period: its first day, the snapshot day before it (d0) and its last day (d1)."""

    start: date
    d0: date
    d1: date


def periods(start: date, end: date, unit: Unit) -> list[Period]:
    """Calendar periods touching [start, end]; the first is whole, the last is cut at `end`.

    Args:
        start: first day of the range.
        end: last day of the range (inclusive).
        unit: day, week (ISO, Monday first), month, or period (the whole range as one period,
            for a rate over an arbitrary window such as "the last 30 days").

    Returns:
        The periods in order; each snapshot is taken at the end of day d0 and d1.
    """
    if unit == "period":
        return [Period(start, start - timedelta(days=1), end)]
    first = period_start(start, unit)
    out: list[Period] = []
    current = first
    while current <= end:
        nxt = _next_start(current, unit)
        out.append(Period(current, current - timedelta(days=1), min(nxt - timedelta(days=1), end)))
        current = nxt
    return out


def period_start(day: date, unit: Unit) -> date:
    """The first day of the period containing `day`."""
    if unit == "month":
        return day.replace(day=1)
    if unit == "week":
        return day - timedelta(days=day.weekday())
    return day


def shift_months(day: date, months: int) -> date:
    """`day` moved by whole months (day of month clipped to the target month's length)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return day.replace(
        year=year, month=month + 1, day=min(day.day, calendar.monthrange(year, month + 1)[1])
    )


def _next_start(current: date, unit: Unit) -> date:
    if unit == "month":
        return shift_months(current, 1)
    return current + timedelta(days=7 if unit == "week" else 1)


def lit(day: date) -> str:
    """A date literal; only ever built from a `date` object, never from user text."""
    return f"DATE '{day.isoformat()}'"


def periods_cte(items: list[Period], *, with_opening: bool = False) -> str:
    """`periods(period_start, d0, d1)` as a VALUES list; optionally a leading opening row."""
    rows = [f"({lit(p.start)}, {lit(p.d0)}, {lit(p.d1)})" for p in items]
    if with_opening:
        d = items[0].d0
        rows.insert(0, f"({lit(d)}, {lit(d - timedelta(days=1))}, {lit(d)})")
    return f"periods(period_start, d0, d1) AS (VALUES {', '.join(rows)})"


def trunc(expr: str, unit: Unit, anchor: date | None = None) -> str:
    """SQL for the first day of the period containing the DATE `expr` (same text on both engines).

    For unit "period" the one period starts at `anchor`; days before it fall in the day before.
    """
    if unit == "period":
        if anchor is None:
            raise ValueError("trunc(..., 'period') needs the anchor day")
        return f"CASE WHEN {expr} >= {lit(anchor)} THEN {lit(anchor)} ELSE {lit(anchor - timedelta(days=1))} END"
    if unit == "day":
        return expr
    return f"CAST(date_trunc('{unit}', CAST({expr} AS TIMESTAMP)) AS DATE)"


def money(expr: str) -> str:
    """SQL turning minor units (DECIMAL) into major units as a float."""
    return f"CAST({expr} AS DOUBLE PRECISION) / 100"


# DuckDB: local dates inside this span use `fast_day_index` (integer arithmetic), outside it the
# exact `AT TIME ZONE`; the offsets are computed once per zone and process.
_FAST_SPAN = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2050, 1, 1, tzinfo=UTC))


def fast_day(tz: str) -> Callable[[str], str]:
    """A DuckDB `day(expr)` equal to `at_tz(expr)` for every instant, without ICU inside _FAST_SPAN."""

    def day(expr: str) -> str:
        fast = fast_day_index(expr, tz, *_FAST_SPAN)
        if fast is None:
            return at_tz(expr)
        inside, index = fast
        return f"(CASE WHEN {inside} THEN DATE '1970-01-01' + CAST({index} AS INTEGER) ELSE {at_tz(expr)} END)"

    return day


def local_day(source: Fetcher, tz: str) -> Callable[[str], str]:
    """The `day(expr)` local-date conversion to use in `source`: the fast one on DuckDB."""
    return fast_day(tz) if getattr(source, "dialect", None) == "duckdb" else at_tz


def instant_lit(day: date, tz: str) -> str:
    """The instant local `day` starts in `tz`, as a TIMESTAMPTZ literal (built from a `date` only).

    Comparing a raw timestamp column with it keeps the filter sargable (index, zone maps).
    """
    start = instant(day, tz).astimezone(UTC)
    return f"CAST('{start.isoformat(sep=' ')}' AS TIMESTAMP WITH TIME ZONE)"


def derived_segments(day: Callable[[str], str], tz: str) -> tuple[str, tuple[Derived, ...]]:
    """SEGMENTS_CTES read from derived tables: the same `seg` and `delta`, built once per source.

    `seg` is kept as is; `delta` holds each customer's MRR changes summed per local day (days
    whose changes cancel out are left out, as every reader sums them).

    Returns:
        The CTE text to put in place of SEGMENTS_CTES, and the tables it reads in build order.
    """
    seg_cte, seg = derived_cte("seg", lambda: segments_ctes(day), tz, order="customer_id, fd")
    table = f"{DERIVED_SCHEMA}.{seg.name}"

    def changes() -> str:
        return f"""
delta AS (
    SELECT customer_id, d, SUM(delta) AS delta
    FROM (
        SELECT customer_id, fd AS d, amount AS delta FROM {table}
        UNION ALL
        SELECT customer_id, td AS d, -amount AS delta FROM {table} WHERE td IS NOT NULL
    ) AS changes
    GROUP BY customer_id, d
    HAVING SUM(delta) <> 0
)"""

    delta_cte, delta = derived_cte("delta", changes, tz, order="customer_id, d")
    return f"\n{seg_cte},\n{delta_cte}", (seg, delta)


def can_derive(source: Fetcher) -> bool:
    """True when `source` keeps derived tables (a read-only DuckDB file; see SQLSource)."""
    return bool(getattr(source, "can_derive", False))


def derived_cte(
    name: str, build: Callable[[], str], tz: str, *, where: str = "TRUE", order: str = ""
) -> tuple[str, Derived]:
    """The CTE `name` read from a table derived from `build()`'s CTE of the same name.

    `build()` returns CTE text defining `name` with a `customer_id` column; it is called with no
    filter, so the table holds every (non-test) account and serves every filter: the active
    filter selects accounts when reading, and `where` (over the table's columns, as `g`) narrows
    the rows further. Rows are stored in `order` (columns), so range reads skip whole blocks.

    Returns:
        `name AS (...)` for a WITH list, and the table to pass to `fetch(..., derived=...)`.
    """
    with use_filter(None):
        sql = f"WITH {build()}\nSELECT * FROM {name}" + (f" ORDER BY {order}" if order else "")
    table = Derived(Derived.name_for(f"revenue_{name}", sql, {"tz": tz}), sql, {"tz": tz})
    kept = customer_condition(current_filter(), "g.customer_id")
    text = f"""{name} AS (
    SELECT g.* FROM {DERIVED_SCHEMA}.{table.name} AS g WHERE {kept} AND {where}
)"""
    return text, table


def recurring_condition(column: str) -> str:
    """The revenue_type filter over a table's boolean `recurring` column ("TRUE" for all)."""
    filters = current_filter()
    if filters is None or not filters.revenue_type:
        return "TRUE"
    return column if filters.revenue_type == ("recurring",) else f"NOT {column}"


def derived_payments(day: Callable[[str], str], tz: str) -> tuple[str, Derived]:
    """PAYMENTS_CTE read from the derived table of every account's collected payments.

    With a filter, a payment without an invoice has no account (customer_id NULL) and is left
    out, as `payments_cte` leaves it out.
    """
    return derived_cte(
        "pay",
        lambda: all_payments_cte(day),
        tz,
        where=recurring_condition("g.recurring"),
        order="d",
    )


def fetch(
    source: Fetcher, sql: str, params: dict, derived: tuple[Derived, ...] = ()
) -> pd.DataFrame:
    """Run one query in the source.

    The shared CTEs inside `sql` (SEGMENTS_CTES, PAYMENTS_CTE) are rebuilt for the source: with
    the active filter (analytics/filters.py) on every engine and DuckDB's fast local dates (same
    values; ICU's `AT TIME ZONE` dominates those queries). Where the source can keep derived
    tables (a read-only DuckDB file), the segments are read from them instead of recomputed;
    `derived` lists further derived tables the text reads (from `derived_cte`).
    """
    tz = params.get("tz")
    day = local_day(source, str(tz)) if tz is not None else at_tz
    rebuild = day is not at_tz or current_filter() is not None
    derive = tz is not None and can_derive(source)
    if SEGMENTS_CTES in sql:
        if derive:
            reads, segments = derived_segments(day, str(tz))
            derived = (*segments, *derived)
            sql = sql.replace(SEGMENTS_CTES, reads)
        elif rebuild:
            sql = sql.replace(SEGMENTS_CTES, segments_ctes(day))
    if PAYMENTS_CTE in sql:
        if derive:
            reads, table = derived_payments(day, str(tz))
            sql = sql.replace(PAYMENTS_CTE, "\n" + reads)
            derived = (*derived, table)
        elif rebuild:
            sql = sql.replace(PAYMENTS_CTE, payments_cte(day))
    return source.fetch(Query(sql, params, derived))


def shape(
    frame: pd.DataFrame,
    *,
    dates: tuple[str, ...] = (),
    floats: tuple[str, ...] = (),
    ints: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Coerce a small result to stable types on both engines (dates, float64 with NaN, int64)."""
    frame = frame.copy()
    for col in dates:
        frame[col] = [None if pd.isna(v) else pd.Timestamp(v).date() for v in frame[col]]
    for col in floats:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    for col in ints:
        frame[col] = pd.to_numeric(frame[col]).fillna(0).astype("int64")
    return frame.reset_index(drop=True)


def ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    """num / den as floats, NaN (JSON null) where the denominator is 0 or missing."""
    num = pd.to_numeric(num, errors="coerce").astype("float64")
    den = pd.to_numeric(den, errors="coerce").astype("float64")
    return (num / den.where(den != 0) + 0.0).astype("float64")  # + 0.0 turns -0.0 into 0.0
