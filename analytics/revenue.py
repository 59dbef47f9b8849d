"""Revenue metrics from subscriptions: MRR, ARR, ARPA, paying customers, MRR movements, churn, NRR/GRR, LTV.

Conventions (METRICS.md A.1-A.3; [NEXPO DECISION] rules, plus the choices below):

- Revenue-active window of a subscription: [max(started_at, trial_end), end) where end = ended_at
  (churn at ended_at, not canceled_at); for status canceled/unpaid without ended_at, canceled_at;
  with neither (Stripe's `unpaid` keeps both empty), the end of the last paid service period
  (max period_end of its paid non-zero invoices); never paid: never active. Only status active, past_due, canceled, unpaid and paused ever
  count; trialing, incomplete and incomplete_expired never do, so a trial that never converted
  never counts (MRR starts at conversion = trial_end).
- Status history is not stored, only the current status. Pauses are read from the item history:
  a pause is a gap between subscription_items rows (the row is closed at the pause and a new one
  opened at the resume). A subscription whose current status is paused counts 0 on its open item
  row (valid_to NULL): that row is the paused state; closed rows before it count as usual. So
  PAUSE then RESUME of a single-subscription customer is churn then reactivation; of one of two
  subscriptions, contraction then expansion. Stripe's paused-after-trial subscription (no paid
  row) never counts. The "30 days past_due = churn" rule cannot be applied without status
  history: past_due counts until the status becomes unpaid/canceled (ended_at).
- Item amount = amount_minor x quantity normalised to a month (month /n, year /12n, week x52/12/n,
  day x365/12/n), minus discount_pct (percent, 0-100) of every duration while discount_ends_at is
  NULL or after the snapshot; tax is not in plans. Free and metered plans count 0.
  A 100% discount makes the item 0, so a customer with only such items is churned (D.7.6,
  Baremetrics); the ChartMogul "active at $0" variant is not offered. Currency is not converted.
- Snapshots: MRR "on day d" = MRR at the end of local day d in params.timezone. A window starting
  at instant a and ending at instant b counts on local days date(a) .. date(b) - 1, so an item that
  starts and ends within one local day never appears. Money is exact (DECIMAL) inside the query.
- Periods (week = ISO Monday week, month = calendar month) cover [start, end]: the first period is
  whole even when start is mid-period, the last is cut at end (period-to-date). A period P runs
  from the end of the day before its first day (t0) to the end of its last day (t1).
- `mrr`/`arr`/`arpa`/`paying_customers` with interval week/month: `date` is the snapshot day = the
  period's last day (cut at end), so those rows are a subset of the daily series.
- Movements: customer-level snapshot diff of A.1.1 between t0 and t1; customers who join and
  leave within P, or whose changes net out, make no movement (ProfitWell behaviour). Reactivation
  = customer with MRR > 0 at the end of any day before P. quick_ratio includes reactivation in
  its numerator. customer_churn_rate = customers with MRR > 0 at t0 and 0 at t1 / customers
  with MRR > 0 at t0 (this excludes new-in-P and churned-and-reactivated-in-P by construction).
  NRR = sum of t1 MRR of the customers paying at t0 / their t0 MRR; GRR caps each at its t0 MRR.
- ltv = ARPA / customer churn rate, both pooled over a trailing window of `window_months` months
  ending with the row's month (ARPA = sum of month-end MRR / sum of month-end paying customers;
  churn = sum of churned / sum of start-of-month paying customers). Null when churn is 0, unless
  lifetime_cap_months is set (lifetime = min(1/churn, cap); 60 = Stripe).
- Rates are fractions; any empty denominator gives null (NaN), never 0.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd
from pydantic import Field

from analytics import _revenue_sql as rs
from analytics.catalog import metric
from analytics.params import PeriodParams
from datasources.base import Fetcher


class SnapshotParams(PeriodParams):
    """A date range and the spacing of the snapshots."""

    interval: Literal["day", "week", "month"] = Field(
        "day", description="day: every day; week/month: the last day of each period (cut at end)"
    )


class MovementParams(PeriodParams):
    """A date range cut into calendar periods."""

    interval: Literal["week", "month", "period"] = Field(
        "month", description="Period length; period = the whole [start, end] as one period"
    )


class LtvParams(PeriodParams):
    """Monthly LTV rows over a date range."""

    window_months: int = Field(
        3, ge=1, le=24, description="Trailing months ARPA and churn are pooled over"
    )
    lifetime_cap_months: int | None = Field(
        None, ge=1, le=600, description="Cap the lifetime (months); 60 gives Stripe's variant"
    )


# ---------------------------------------------------------------------------------------------
# Queries


def snapshot_series(source: Fetcher, params: SnapshotParams, *, customers: bool) -> pd.DataFrame:
    """MRR (and paying customers) at the end of each snapshot day, by running sums over a day spine.

    Args:
        source: where the warehouse lives.
        params: range, interval and time zone.
        customers: also count paying customers (MRR > 0) at each snapshot.

    Returns:
        Columns date, mrr (major units) and, with customers, paying.
    """
    start, end = params.start, params.end
    snap_days = [p.d1 for p in rs.periods(start, end, params.interval)]
    paying_ctes = ""
    paying_cols = ""
    paying_join = ""
    if customers:
        # Per delta row, q = the customer's running MRR after it and q - delta before it; the
        # change of "is paying" summed over a day telescopes to (paying after the day) - (paying
        # before it) whatever the order of that day's rows, so no per-day grouping is needed.
        paying_ctes = f""",
pay_delta AS (
    SELECT GREATEST(d, {rs.lit(start)}) AS d, SUM(change) AS dp
    FROM (
        SELECT d, CASE WHEN SUM(delta) OVER w > 0 THEN 1 ELSE 0 END
                  - CASE WHEN SUM(delta) OVER w - delta > 0 THEN 1 ELSE 0 END AS change
        FROM delta WHERE d <= {rs.lit(end)}
        WINDOW w AS (PARTITION BY customer_id ORDER BY d ROWS UNBOUNDED PRECEDING)
    ) AS x
    GROUP BY 1
)"""
        paying_cols = ", CAST(SUM(COALESCE(c.dp, 0)) OVER (ORDER BY s.d ROWS UNBOUNDED PRECEDING) AS BIGINT) AS paying"
        paying_join = "LEFT JOIN pay_delta AS c ON c.d = s.d"
    keep = (
        ""
        if params.interval == "day"
        else f"WHERE d IN ({', '.join(rs.lit(d) for d in snap_days)})"
    )
    sql = f"""
WITH {rs.SEGMENTS_CTES},
day_delta AS (
    SELECT GREATEST(d, {rs.lit(start)}) AS d, SUM(delta) AS delta
    FROM delta WHERE d <= {rs.lit(end)} GROUP BY 1
){paying_ctes},
spine AS (
    SELECT {rs.lit(start)} + CAST(t.i AS INTEGER) AS d
    FROM generate_series(0, {(end - start).days}) AS t(i)
),
series AS (
    SELECT s.d, SUM(COALESCE(m.delta, 0)) OVER (ORDER BY s.d ROWS UNBOUNDED PRECEDING) AS mrr
           {paying_cols}
    FROM spine AS s
    LEFT JOIN day_delta AS m ON m.d = s.d
    {paying_join}
)
SELECT d AS date, {rs.money("mrr")} AS mrr{", paying" if customers else ""}
FROM series {keep}
ORDER BY d"""
    frame = rs.fetch(source, sql, {"tz": params.timezone})
    return rs.shape(frame, dates=("date",), floats=("mrr",), ints=("paying",) if customers else ())


def movement_table(source: Fetcher, params: PeriodParams, interval: rs.Unit) -> pd.DataFrame:
    """Customer-level snapshot-diff MRR movements per period (METRICS.md A.1.1), in one query.

    Each customer's MRR changes are summed per period; a running sum per customer over periods
    gives q (MRR at t1) and q - change gives p (MRR at t0). Customers with no change in a period
    have p = q and no movement, so only changed (customer, period) pairs are classified. A
    customer's first period with a change is the period of their first MRR (their first segment
    starts it), so "new" (first MRR inside the period) versus "reactivation" needs no join: the
    same window gives the first period.

    Args:
        source: where the warehouse lives.
        params: range and time zone.
        interval: week or month.

    Returns:
        One row per period: period_start, start_mrr, new, expansion, contraction, churn,
        reactivation, net_new, end_mrr (major units; contraction and churn negative),
        start_customers, end_customers, churned_customers.
    """
    items = rs.periods(params.start, params.end, interval)
    opening = items[0].d0
    sql = f"""
WITH {rs.SEGMENTS_CTES},
{rs.periods_cte(items, with_opening=True)},
cbucket AS (
    SELECT customer_id, GREATEST({rs.trunc("d", interval, params.start)}, {rs.lit(opening)}) AS b, SUM(delta) AS delta
    FROM delta WHERE d <= {rs.lit(params.end)}
    GROUP BY 1, 2
),
moves AS (
    SELECT b, q - delta AS p, q, first_b
    FROM (
        SELECT b, delta,
               SUM(delta) OVER w AS q,
               MIN(b) OVER w AS first_b
        FROM cbucket
        WINDOW w AS (PARTITION BY customer_id ORDER BY b ROWS UNBOUNDED PRECEDING)
    ) AS path
),
agg AS (
    SELECT b,
           SUM(q - p) AS dmrr,
           SUM(CASE WHEN q > 0 THEN 1 ELSE 0 END - CASE WHEN p > 0 THEN 1 ELSE 0 END) AS dpaying,
           SUM(CASE WHEN p = 0 AND q > 0 AND first_b = b THEN q ELSE 0 END) AS new,
           SUM(CASE WHEN p = 0 AND q > 0 AND first_b < b THEN q ELSE 0 END) AS reactivation,
           SUM(CASE WHEN p > 0 AND q > p THEN q - p ELSE 0 END) AS expansion,
           SUM(CASE WHEN p > 0 AND q > 0 AND q < p THEN q - p ELSE 0 END) AS contraction,
           SUM(CASE WHEN p > 0 AND q = 0 THEN -p ELSE 0 END) AS churn,
           SUM(CASE WHEN p > 0 AND q = 0 THEN 1 ELSE 0 END) AS churned_customers
    FROM moves GROUP BY b
),
running AS (
    SELECT p.period_start,
           COALESCE(a.dmrr, 0) AS dmrr, COALESCE(a.dpaying, 0) AS dpaying,
           COALESCE(a.new, 0) AS new, COALESCE(a.reactivation, 0) AS reactivation,
           COALESCE(a.expansion, 0) AS expansion, COALESCE(a.contraction, 0) AS contraction,
           COALESCE(a.churn, 0) AS churn, COALESCE(a.churned_customers, 0) AS churned_customers,
           SUM(COALESCE(a.dmrr, 0)) OVER (ORDER BY p.period_start ROWS UNBOUNDED PRECEDING) AS end_mrr,
           SUM(COALESCE(a.dpaying, 0)) OVER (ORDER BY p.period_start ROWS UNBOUNDED PRECEDING)
               AS end_customers
    FROM periods AS p
    LEFT JOIN agg AS a ON a.b = p.period_start
)
SELECT period_start,
       {rs.money("end_mrr - dmrr")} AS start_mrr,
       {rs.money("new")} AS new, {rs.money("expansion")} AS expansion,
       {rs.money("contraction")} AS contraction, {rs.money("churn")} AS churn,
       {rs.money("reactivation")} AS reactivation, {rs.money("dmrr")} AS net_new,
       {rs.money("end_mrr")} AS end_mrr,
       CAST(end_customers - dpaying AS BIGINT) AS start_customers,
       CAST(end_customers AS BIGINT) AS end_customers,
       CAST(churned_customers AS BIGINT) AS churned_customers
FROM running
WHERE period_start > {rs.lit(opening)}
ORDER BY period_start"""
    frame = rs.fetch(source, sql, {"tz": params.timezone})
    money_cols = (
        "start_mrr",
        "new",
        "expansion",
        "contraction",
        "churn",
        "reactivation",
        "net_new",
        "end_mrr",
    )
    return rs.shape(
        frame,
        dates=("period_start",),
        floats=money_cols,
        ints=("start_customers", "end_customers", "churned_customers"),
    )


def _rate(frame: pd.DataFrame, num: pd.Series, den: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"period_start": frame["period_start"], "value": rs.ratio(num, den)})


# ---------------------------------------------------------------------------------------------
# Snapshot metrics


@metric(
    "mrr",
    params=SnapshotParams,
    columns=("date", "mrr"),
    definition="Monthly recurring revenue of revenue-active subscriptions at the end of each day (major units)",
    group="revenue",
)
def mrr(source: Fetcher, params: SnapshotParams) -> pd.DataFrame:
    """MRR at the end of each day, or of each week/month (date = the snapshot day).

    Args:
        source: where the warehouse lives.
        params: start, end, interval, timezone.

    Returns:
        Columns date, mrr.
    """
    return snapshot_series(source, params, customers=False)


@metric(
    "arr",
    params=SnapshotParams,
    columns=("date", "arr"),
    definition="Annual run rate = MRR x 12 at the end of each snapshot day",
    group="revenue",
)
def arr(source: Fetcher, params: SnapshotParams) -> pd.DataFrame:
    """ARR = MRR x 12.

    Args:
        source: where the warehouse lives.
        params: start, end, interval, timezone.

    Returns:
        Columns date, arr.
    """
    frame = snapshot_series(source, params, customers=False)
    return pd.DataFrame({"date": frame["date"], "arr": frame["mrr"] * 12})


@metric(
    "paying_customers",
    params=SnapshotParams,
    columns=("date", "value"),
    definition="Customers with MRR > 0 at the end of each snapshot day",
    group="revenue",
)
def paying_customers(source: Fetcher, params: SnapshotParams) -> pd.DataFrame:
    """Number of customers whose MRR is above 0.

    Args:
        source: where the warehouse lives.
        params: start, end, interval, timezone.

    Returns:
        Columns date, value (an integer count).
    """
    frame = snapshot_series(source, params, customers=True)
    return pd.DataFrame({"date": frame["date"], "value": frame["paying"]})


@metric(
    "arpa",
    params=SnapshotParams,
    columns=("date", "value"),
    definition="Average revenue per account: MRR / paying customers at the same instant (null with none)",
    group="revenue",
)
def arpa(source: Fetcher, params: SnapshotParams) -> pd.DataFrame:
    """ARPA = MRR / paying customers, both at the end of the snapshot day.

    Args:
        source: where the warehouse lives.
        params: start, end, interval, timezone.

    Returns:
        Columns date, value (major units; null when nobody pays).
    """
    frame = snapshot_series(source, params, customers=True)
    return pd.DataFrame({"date": frame["date"], "value": rs.ratio(frame["mrr"], frame["paying"])})


# ---------------------------------------------------------------------------------------------
# Movement metrics


@metric(
    "mrr_movements",
    params=MovementParams,
    columns=(
        "period_start", "start_mrr", "new", "expansion", "contraction", "churn", "reactivation",
        "net_new", "end_mrr",
    ),
    definition="Customer-level snapshot diff of MRR per period: new, expansion, contraction, churn, reactivation",
    group="revenue",
)  # fmt: skip
def mrr_movements(source: Fetcher, params: MovementParams) -> pd.DataFrame:
    """The MRR bridge: end_mrr = start_mrr + new + expansion + contraction + churn + reactivation.

    Args:
        source: where the warehouse lives.
        params: start, end, interval, timezone.

    Returns:
        One row per period; contraction and churn are negative.
    """
    return movement_table(source, params, params.interval)


@metric(
    "net_new_mrr",
    params=MovementParams,
    columns=("period_start", "value"),
    definition="New + reactivation + expansion - contraction - churn MRR per period (= end - start MRR)",
    group="revenue",
)
def net_new_mrr(source: Fetcher, params: MovementParams) -> pd.DataFrame:
    """Net new MRR per period.

    Args:
        source: where the warehouse lives.
        params: start, end, interval, timezone.

    Returns:
        Columns period_start, value (major units).
    """
    frame = movement_table(source, params, params.interval)
    return pd.DataFrame({"period_start": frame["period_start"], "value": frame["net_new"]})


@metric(
    "customer_churn_rate",
    params=MovementParams,
    columns=("period_start", "value"),
    definition="Customers paying at period start and not at its end / customers paying at start (ChartMogul)",
    group="revenue",
)
def customer_churn_rate(source: Fetcher, params: MovementParams) -> pd.DataFrame:
    """Logo churn rate, ChartMogul standard (new-in-P and churned-and-reactivated-in-P excluded).

    Args:
        source: where the warehouse lives.
        params: start, end, interval, timezone.

    Returns:
        Columns period_start, value (fraction; null with no customers at start).
    """
    frame = movement_table(source, params, params.interval)
    return _rate(frame, frame["churned_customers"], frame["start_customers"])


@metric(
    "gross_mrr_churn_rate",
    params=MovementParams,
    columns=("period_start", "value"),
    definition="(churn + contraction MRR) / MRR at period start",
    group="revenue",
)
def gross_mrr_churn_rate(source: Fetcher, params: MovementParams) -> pd.DataFrame:
    """Gross MRR churn rate (ChartMogul standard), a positive fraction.

    Args:
        source: where the warehouse lives.
        params: start, end, interval, timezone.

    Returns:
        Columns period_start, value (null when start MRR is 0).
    """
    frame = movement_table(source, params, params.interval)
    return _rate(frame, -(frame["churn"] + frame["contraction"]), frame["start_mrr"])


@metric(
    "net_mrr_churn_rate",
    params=MovementParams,
    columns=("period_start", "value"),
    definition="(churn + contraction - expansion - reactivation MRR) / MRR at period start; may be negative",
    group="revenue",
)
def net_mrr_churn_rate(source: Fetcher, params: MovementParams) -> pd.DataFrame:
    """Net MRR churn rate (ChartMogul standard; reactivation offsets churn).

    Args:
        source: where the warehouse lives.
        params: start, end, interval, timezone.

    Returns:
        Columns period_start, value (null when start MRR is 0).
    """
    frame = movement_table(source, params, params.interval)
    lost = -(frame["churn"] + frame["contraction"]) - frame["expansion"] - frame["reactivation"]
    return _rate(frame, lost, frame["start_mrr"])


@metric(
    "nrr",
    params=MovementParams,
    columns=("period_start", "value"),
    definition="Net revenue retention: MRR at period end of the customers paying at its start / their start MRR",
    group="revenue",
)
def nrr(source: Fetcher, params: MovementParams) -> pd.DataFrame:
    """NRR = (start + expansion + contraction + churn) / start over the start cohort.

    Args:
        source: where the warehouse lives.
        params: start, end, interval, timezone.

    Returns:
        Columns period_start, value (null when start MRR is 0).
    """
    frame = movement_table(source, params, params.interval)
    kept = frame["start_mrr"] + frame["expansion"] + frame["contraction"] + frame["churn"]
    return _rate(frame, kept, frame["start_mrr"])


@metric(
    "grr",
    params=MovementParams,
    columns=("period_start", "value"),
    definition="Gross revenue retention: (start MRR + contraction + churn) / start MRR, at most 1",
    group="revenue",
)
def grr(source: Fetcher, params: MovementParams) -> pd.DataFrame:
    """GRR = 1 - gross MRR churn rate.

    Args:
        source: where the warehouse lives.
        params: start, end, interval, timezone.

    Returns:
        Columns period_start, value (null when start MRR is 0).
    """
    frame = movement_table(source, params, params.interval)
    kept = frame["start_mrr"] + frame["contraction"] + frame["churn"]
    return _rate(frame, kept, frame["start_mrr"])


@metric(
    "quick_ratio",
    params=MovementParams,
    columns=("period_start", "value"),
    definition="(new + expansion + reactivation MRR) / (contraction + churn MRR); reactivation included",
    group="revenue",
)
def quick_ratio(source: Fetcher, params: MovementParams) -> pd.DataFrame:
    """SaaS quick ratio with reactivation in the numerator (Nexpo variant of Baremetrics').

    Args:
        source: where the warehouse lives.
        params: start, end, interval, timezone.

    Returns:
        Columns period_start, value (null when nothing was lost).
    """
    frame = movement_table(source, params, params.interval)
    gained = frame["new"] + frame["expansion"] + frame["reactivation"]
    lost = -(frame["contraction"] + frame["churn"])
    return _rate(frame, gained, lost)


@metric(
    "ltv",
    params=LtvParams,
    columns=("period_start", "arpa", "churn_rate", "value"),
    definition="Customer lifetime value = ARPA / monthly customer churn rate over a trailing window (null at 0 churn)",
    group="revenue",
)
def ltv(source: Fetcher, params: LtvParams) -> pd.DataFrame:
    """LTV per month: pooled trailing ARPA divided by pooled trailing customer churn rate.

    Args:
        source: where the warehouse lives.
        params: start, end, window_months, lifetime_cap_months, timezone.

    Returns:
        Columns period_start, arpa (major units), churn_rate (fraction), value (major units);
        value is null when churn is 0 and no cap is set, or when nobody pays.
    """
    first = rs.shift_months(params.start.replace(day=1), -(params.window_months - 1))
    wide = params.model_copy(update={"start": first})
    frame = movement_table(source, wide, "month")
    window = params.window_months
    mrr_sum = frame["end_mrr"].rolling(window, min_periods=window).sum()
    paying_sum = frame["end_customers"].rolling(window, min_periods=window).sum()
    churned = frame["churned_customers"].rolling(window, min_periods=window).sum()
    at_start = frame["start_customers"].rolling(window, min_periods=window).sum()
    arpa_value = rs.ratio(mrr_sum, paying_sum)
    churn_rate = rs.ratio(churned, at_start)
    lifetime = 1 / churn_rate.where(churn_rate > 0)
    if params.lifetime_cap_months is not None:
        lifetime = lifetime.fillna(float(params.lifetime_cap_months)).clip(
            upper=params.lifetime_cap_months
        )
        lifetime = lifetime.where(churn_rate.notna())
    out = pd.DataFrame(
        {
            "period_start": frame["period_start"],
            "arpa": arpa_value,
            "churn_rate": churn_rate,
            "value": (arpa_value * lifetime).astype("float64"),
        }
    )
    return out[out["period_start"] >= params.start.replace(day=1)].reset_index(drop=True)


# The other revenue modules register their metrics when this module is imported by the catalog.
from analytics import revenue_cash, revenue_cohorts, revenue_trials  # noqa: E402, F401
