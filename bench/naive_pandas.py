"""Naive pandas versions of the benchmarked metrics: load the tables, compute in pandas.

These are the honest "load the tables into pandas and compute there" baselines of issue 3 part 6:
straightforward pandas (a loop over days where a dashboard analyst would write one), the same
rules as the SQL metrics (test accounts excluded, UTC days, METRICS.md conventions), no
precomputed tables. `bench_metrics.py` times them on preloaded frames and checks that each gives
the same numbers as the SQL metric.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

DAY = pd.Timedelta(days=1)

# Columns each table is loaded with (what the naive metrics read).
COLUMNS: dict[str, list[str]] = {
    "events": ["person_id", "event", "timestamp"],
    "users": ["id", "customer_id"],
    "customers": ["id", "is_test"],
    "subscriptions": [
        "id", "customer_id", "status", "started_at", "trial_start", "trial_end", "canceled_at",
        "ended_at",
    ],
    "subscription_items": [
        "subscription_id", "plan_id", "quantity", "valid_from", "valid_to", "discount_pct",
        "discount_ends_at",
    ],
    "plans": ["id", "amount_minor", "interval", "interval_count", "usage_type", "is_free"],
    "invoices": [
        "id", "customer_id", "subscription_id", "status", "total_minor", "paid_at", "period_end",
    ],
    "payments": ["id", "invoice_id", "processor", "amount_minor", "status", "created_at", "refunded_minor"],
}  # fmt: skip


@dataclass
class Frames:
    """The warehouse tables as pandas frames (timestamps UTC-aware)."""

    tables: dict[str, pd.DataFrame]

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def test_persons(self) -> np.ndarray:
        """Users of test customers (their events are excluded, METRICS.md D.7.8)."""
        users, customers = self["users"], self["customers"]
        test_customers = customers.loc[customers["is_test"].fillna(False).astype(bool), "id"]
        return users.loc[users["customer_id"].isin(test_customers), "id"].to_numpy()

    def test_customers(self) -> np.ndarray:
        customers = self["customers"]
        return customers.loc[customers["is_test"].fillna(False).astype(bool), "id"].to_numpy()


def load_frames(con: Any, tables: list[str] | None = None) -> Frames:
    """Read the needed columns of every table from a DuckDB warehouse (a duckdb connection) into pandas."""
    out = {}
    for table in tables or list(COLUMNS):
        cols = ", ".join(f'"{c}"' for c in COLUMNS[table])
        out[table] = con.execute(f'SELECT {cols} FROM "{table}"').df()
    for frame in out.values():
        for col in frame.columns:
            if isinstance(frame[col].dtype, pd.DatetimeTZDtype):
                frame[col] = frame[col].dt.tz_convert("UTC")
    return Frames(out)


def _utc(day: date) -> pd.Timestamp:
    return pd.Timestamp(day, tz="UTC")


def _days(start: date, end: date) -> pd.DatetimeIndex:
    return pd.date_range(_utc(start), _utc(end), freq="D")


def _events(fr: Frames, start: date, end: date, event: str | None) -> pd.DataFrame:
    ev = fr["events"]
    keep = (ev["timestamp"] >= _utc(start)) & (ev["timestamp"] < _utc(end) + DAY)
    if event is not None:
        keep &= ev["event"] == event
    keep &= ev["person_id"].notna() & ~ev["person_id"].isin(fr.test_persons())
    return ev.loc[keep]


# ----------------------------------------------------------------------------- product


def dau(fr: Frames, event: str, start: date, end: date) -> pd.DataFrame:
    """trends math=dau: distinct persons per UTC day."""
    ev = _events(fr, start, end, event)
    per_day = ev.groupby(ev["timestamp"].dt.floor("D"))["person_id"].nunique()
    days = _days(start, end)
    return pd.DataFrame(
        {"date": days.date, "value": per_day.reindex(days, fill_value=0).astype(float).to_numpy()}
    )


def rolling_active(
    fr: Frames, event: str | None, start: date, end: date, window: int
) -> pd.DataFrame:
    """Per day d: DAU and distinct persons active in d-window+1..d (a loop over days)."""
    ev = _events(fr, start - timedelta(days=window - 1), end, event)
    epoch = pd.Timestamp("1970-01-01", tz="UTC")
    active = pd.DataFrame(
        {"pid": ev["person_id"].to_numpy(), "day": (ev["timestamp"] - epoch).dt.days.to_numpy()}
    ).drop_duplicates()
    rows = []
    for day in _days(start, end):
        n = (day - epoch).days
        in_window = active[(active["day"] > n - window) & (active["day"] <= n)]
        rows.append(
            (day.date(), int((in_window["day"] == n).sum()), int(in_window["pid"].nunique()))
        )
    return pd.DataFrame(rows, columns=["date", "dau", "active"])


def funnel_ordered(
    fr: Frames, steps: list[str], start: date, end: date, window_days: int
) -> list[int]:
    """Ordered funnel: a per-person replay of PostHog's UDF over the sorted step events."""
    ev = _events(fr, start, end, None)
    ev = ev[ev["event"].isin(steps)]
    order = {name: steps.index(name) + 1 for name in reversed(steps)}
    frame = pd.DataFrame(
        {
            "pid": ev["person_id"].to_numpy(),
            "ts": ev["timestamp"].dt.as_unit("us").astype("int64").to_numpy(),
            "event": ev["event"].to_numpy(),
        }
    )
    frame["ord"] = frame["event"].map(order)
    frame = frame.sort_values(["pid", "ts", "ord"], kind="stable")
    window = window_days * 86_400_000_000
    matches = {
        name: [k for k in range(1, len(steps) + 1) if steps[k - 1] == name] for name in steps
    }
    furthest: dict[int, int] = {}
    current, slots, best = None, [], 0
    for pid, ts, name in zip(frame["pid"], frame["ts"], frame["event"], strict=True):
        if pid != current:
            if current is not None and best:
                furthest[current] = best
            current, slots, best = pid, [None] * (len(steps) + 1), 0
        slots[0] = ts
        for k in reversed(matches[name]):
            if (
                slots[k - 1] is not None
                and ts - slots[k - 1] <= window
                and slots[k] != slots[k - 1]
            ):
                slots[k] = slots[k - 1]
                best = max(best, k)
    if current is not None and best:
        furthest[current] = best
    reached = np.array(list(furthest.values()))
    return [int((reached >= k).sum()) for k in range(1, len(steps) + 1)]


def retention_weekly(
    fr: Frames, start_event: str, return_event: str, start: date, end: date, periods: int
) -> pd.DataFrame:
    """First-time weekly retention (Monday weeks): cohort x period person counts."""
    monday = pd.Timestamp("1970-01-05", tz="UTC")
    first_monday = start - timedelta(days=start.weekday())
    ev = fr["events"]
    base = ev["person_id"].notna() & ~ev["person_id"].isin(fr.test_persons())
    starts = ev.loc[base & (ev["event"] == start_event)].groupby("person_id")["timestamp"].min()
    starts = starts[(starts >= _utc(first_monday)) & (starts < _utc(end) + DAY)]
    cohorts = pd.DataFrame(
        {"pid": starts.index, "cohort": (starts.dt.floor("D") - monday).dt.days.to_numpy() // 7}
    )
    ret = _events(fr, first_monday, end, return_event)
    ret = ret[ret["person_id"].isin(cohorts["pid"])]
    returns = pd.DataFrame(
        {
            "pid": ret["person_id"].to_numpy(),
            "b": (ret["timestamp"].dt.floor("D") - monday).dt.days.to_numpy() // 7,
        }
    ).drop_duplicates()
    joined = cohorts.merge(returns, on="pid")
    joined["period"] = joined["b"] - joined["cohort"]
    joined = joined[(joined["period"] > 0) & (joined["period"] < periods)]
    counts = joined.groupby(["cohort", "period"]).size().to_dict()
    sizes = cohorts.groupby("cohort").size().to_dict()
    b0 = (pd.Timestamp(first_monday, tz="UTC") - monday).days // 7
    b1 = (pd.Timestamp(end, tz="UTC") - monday).days // 7
    rows = [
        (
            (monday + pd.Timedelta(days=7 * c)).date(),
            k,
            sizes.get(c, 0) if k == 0 else counts.get((c, k), 0),
        )
        for c in range(b0, b1 + 1)
        for k in range(periods)
        if c + k <= b1
    ]
    return pd.DataFrame(rows, columns=["cohort", "period", "count"])


# ----------------------------------------------------------------------------- revenue


def _day(series: pd.Series) -> pd.Series:
    return series.dt.floor("D").dt.tz_localize(None)


def segments(fr: Frames) -> pd.DataFrame:
    """Revenue-active segments (customer_id, plan_id, fd, td, amount in minor units), rules of analytics/revenue.py."""
    subs = fr["subscriptions"]
    subs = subs[~subs["customer_id"].isin(fr.test_customers())]
    subs = subs[subs["status"].isin(["active", "past_due", "canceled", "unpaid", "paused"])]
    inv = fr["invoices"]
    paid = inv[(inv["status"] == "paid") & (inv["total_minor"] > 0)]
    # canceled/unpaid with neither ended_at nor canceled_at: the end of the last paid period
    fallback = subs["id"].map(paid.groupby("subscription_id")["period_end"].max())
    ended = subs["ended_at"].where(
        ~subs["status"].isin(["canceled", "unpaid"]),
        subs["ended_at"].fillna(subs["canceled_at"]).fillna(fallback).fillna(subs["started_at"]),
    )
    live = pd.DataFrame(
        {
            "subscription_id": subs["id"],
            "customer_id": subs["customer_id"],
            "status": subs["status"],
            "act_from": _day(
                pd.concat([subs["started_at"], subs["trial_end"]], axis=1).max(axis=1)
            ),
            "act_to": _day(ended),
        }
    )
    items = (
        fr["subscription_items"]
        .merge(live, on="subscription_id")
        .merge(fr["plans"], left_on="plan_id", right_on="id")
    )
    items = items[
        ~items["is_free"].fillna(False).astype(bool)
        & (items["usage_type"].fillna("licensed") != "metered")
        & ~((items["status"] == "paused") & items["valid_to"].isna())
    ]
    per_year = items["interval"].map({"month": 12, "year": 1, "week": 52, "day": 365}).fillna(0)
    count = items["interval_count"].replace(0, np.nan).fillna(1)
    full = (
        items["amount_minor"].astype(float)
        * items["quantity"].fillna(1)
        * per_year
        / (12.0 * count)
    )
    fd = pd.concat([items["act_from"], _day(items["valid_from"])], axis=1).max(axis=1)
    td = pd.concat([items["act_to"], _day(items["valid_to"])], axis=1).min(axis=1)
    de = _day(items["discount_ends_at"])
    pct = items["discount_pct"].astype(float).clip(0, 100).fillna(0)
    disc = pct > 0
    parts = [
        pd.DataFrame(
            {
                "customer_id": items["customer_id"],
                "plan_id": items["plan_id"],
                "fd": fd,
                "td": pd.concat([td, de], axis=1).min(axis=1),
                "amount": full * (100 - pct) / 100,
            }
        )[disc],
        pd.DataFrame(
            {
                "customer_id": items["customer_id"],
                "plan_id": items["plan_id"],
                "fd": fd.where(~disc, pd.concat([fd, de], axis=1).max(axis=1)),
                "td": td,
                "amount": full,
            }
        )[~disc | de.notna()],
    ]
    seg = pd.concat(parts, ignore_index=True)
    seg["amount"] = seg["amount"].round(6)
    return seg[
        (seg["amount"] > 0) & seg["fd"].notna() & (seg["td"].isna() | (seg["td"] > seg["fd"]))
    ]


def _mrr_on(seg: pd.DataFrame, day: pd.Timestamp) -> pd.Series:
    active = (seg["fd"] <= day) & (seg["td"].isna() | (seg["td"] > day))
    return seg.loc[active]


def mrr_daily(fr: Frames, start: date, end: date) -> pd.DataFrame:
    """MRR at the end of each day: the segments active that day, summed (a loop over days)."""
    seg = segments(fr)
    days = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D")
    return pd.DataFrame(
        {"date": days.date, "mrr": [float(_mrr_on(seg, d)["amount"].sum()) / 100 for d in days]}
    )


def mrr_movements_monthly(fr: Frames, start: date, end: date) -> pd.DataFrame:
    """Customer-level snapshot diff per calendar month (the first whole, the last cut at end)."""
    seg = segments(fr)
    first_paid = seg.groupby("customer_id")["fd"].min()
    rows = []
    month = pd.Timestamp(start.replace(day=1))
    while month.date() <= end:
        nxt = month + pd.offsets.MonthBegin(1)
        d0, d1 = month - DAY, min(nxt - DAY, pd.Timestamp(end))
        p = _mrr_on(seg, d0).groupby("customer_id")["amount"].sum()
        q = _mrr_on(seg, d1).groupby("customer_id")["amount"].sum()
        both = pd.concat([p.rename("p"), q.rename("q")], axis=1).fillna(0)
        both["first"] = first_paid.reindex(both.index)
        p_, q_ = both["p"], both["q"]
        new_or_back = (p_ == 0) & (q_ > 0)
        rows.append(
            {
                "period_start": month.date(),
                "start_mrr": p_.sum() / 100,
                "new": q_[new_or_back & (both["first"] >= month)].sum() / 100,
                "expansion": (q_ - p_)[(p_ > 0) & (q_ > p_)].sum() / 100,
                "contraction": (q_ - p_)[(p_ > 0) & (q_ > 0) & (q_ < p_)].sum() / 100,
                "churn": -p_[(p_ > 0) & (q_ == 0)].sum() / 100,
                "reactivation": q_[new_or_back & (both["first"] < month)].sum() / 100,
                "net_new": (q_.sum() - p_.sum()) / 100,
                "end_mrr": q_.sum() / 100,
            }
        )
        month = nxt
    return pd.DataFrame(rows)


def _collected(fr: Frames) -> pd.DataFrame:
    pay = fr["payments"]
    pay = pay[pay["status"].isin(["succeeded", "refunded"])]
    pay = pay.merge(
        fr["invoices"][["id", "customer_id"]].rename(columns={"id": "invoice_id"}),
        on="invoice_id",
        how="left",
    )
    pay = pay[~pay["customer_id"].isin(fr.test_customers())]
    refunded = pay["refunded_minor"]
    net = np.where(
        pay["status"] == "succeeded",
        pay["amount_minor"] - refunded.fillna(0),
        pay["amount_minor"] - refunded.fillna(pay["amount_minor"]),
    )
    return pd.DataFrame(
        {
            "processor": pay["processor"].to_numpy(),
            "day": _day(pay["created_at"]).to_numpy(),
            "net": net.astype(float),
        }
    )


def revenue_by_processor(fr: Frames, start: date, end: date) -> pd.DataFrame:
    pay = _collected(fr)
    pay = pay[(pay["day"] >= pd.Timestamp(start)) & (pay["day"] <= pd.Timestamp(end))]
    out = (
        pay.groupby("processor").agg(revenue=("net", "sum"), payments=("net", "size")).reset_index()
    )
    out["revenue"] /= 100
    return out.sort_values(["revenue", "processor"], ascending=[False, True]).reset_index(drop=True)


def revenue_trend(fr: Frames, start: date, end: date) -> pd.DataFrame:
    pay = _collected(fr)
    days = pd.date_range(pd.Timestamp(start) - 6 * DAY, pd.Timestamp(end), freq="D")
    daily = pay.groupby("day")["net"].sum().reindex(days, fill_value=0.0)
    out = pd.DataFrame(
        {
            "date": days.date,
            "revenue": daily.to_numpy() / 100,
            "revenue_ma7": daily.rolling(7, min_periods=1).sum().to_numpy() / 700,
        }
    )
    return out.iloc[6:].reset_index(drop=True)


def trial_conversion_cohort(fr: Frames, start: date, end: date) -> pd.DataFrame:
    """Cohort trial conversion by trial-start month, outcomes as of the end of `end`."""
    subs = fr["subscriptions"]
    trials = subs[
        ~subs["customer_id"].isin(fr.test_customers())
        & subs["trial_start"].notna()
        & subs["trial_end"].notna()
    ]
    inv = fr["invoices"]
    inv = inv[(inv["status"] == "paid") & (inv["total_minor"] > 0)]
    paid = trials[["id", "trial_end", "canceled_at"]].merge(
        inv[["subscription_id", "paid_at"]], left_on="id", right_on="subscription_id"
    )
    paid = paid[
        (paid["paid_at"] >= paid["trial_end"])
        & (paid["canceled_at"].isna() | (paid["canceled_at"] >= paid["trial_end"]))
    ]
    conv_at = paid.groupby("id")["paid_at"].min()
    t = trials.set_index("id")
    conv = conv_at.reindex(t.index)
    fail = pd.Series(pd.NaT, index=t.index, dtype=t["trial_end"].dtype)
    canceled_early = conv.isna() & (t["canceled_at"] < t["trial_end"])
    fail[canceled_early] = pd.concat([t["ended_at"], t["trial_end"]], axis=1).min(axis=1)[
        canceled_early
    ]
    rest = conv.isna() & ~canceled_early
    ended = rest & t["ended_at"].notna()
    fail[ended] = pd.concat([t["ended_at"], t["trial_end"]], axis=1).max(axis=1)[ended]
    stopped = (
        rest
        & t["ended_at"].isna()
        & t["status"].isin(["paused", "incomplete_expired", "canceled", "unpaid"])
    )
    fail[stopped] = t["trial_end"][stopped]
    frame = pd.DataFrame(
        {"start_d": _day(t["trial_start"]), "conv_d": _day(conv), "fail_d": _day(fail)}
    )
    last = pd.Timestamp(end)
    frame = frame[frame["start_d"] <= last]
    frame["month"] = frame["start_d"].dt.to_period("M").dt.start_time
    rows = []
    month = pd.Timestamp(start.replace(day=1))
    while month <= last:
        cohort = frame[frame["month"] == month]
        converted = int((cohort["conv_d"] <= last).sum())
        failed = int((cohort["fail_d"] <= last).sum())
        decided = converted + failed
        rows.append(
            {
                "period_start": month.date(),
                "converted": converted,
                "not_converted": failed,
                "pending": len(cohort) - decided,
                "value": converted / decided if decided else np.nan,
            }
        )
        month += pd.offsets.MonthBegin(1)
    return pd.DataFrame(rows)
