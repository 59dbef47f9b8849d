"""Monthly KPI goals that a team would plausibly have set: last month's actual plus some ambition.

The actuals here are rough (month-end MRR from the item history, counts by calendar month); they
only anchor the goals near reality and are not the metric definitions of analytics/.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from demo.ids import DAY_US

KPIS = ("mrr", "new_customers", "churn_rate", "trial_conversion", "dau")
FUTURE_MONTHS = 3


def kpi_goals(
    rng: np.random.Generator, frames: Mapping[str, pd.DataFrame], start_us: int, end_us: int
) -> pd.DataFrame:
    """Goals per KPI and month (department NULL = company), plus per-department mrr and new_customers.

    Units: mrr in USD minor units (cents), churn_rate and trial_conversion as fractions 0..1,
    new_customers and dau as counts.
    """
    first = pd.Timestamp(start_us, unit="us").to_period("M")
    current = pd.Timestamp(end_us - 1, unit="us").to_period("M")
    months = pd.period_range(first, current + FUTURE_MONTHS, freq="M")
    complete = [m for m in months if m < current]
    customers = frames["customers"]
    real = ~customers["is_test"].to_numpy()
    department = (
        frames["customer_departments"]
        .set_index("customer_id")["department"]
        .reindex(customers["id"])
        .to_numpy()
    )

    month_ends = np.array([_us(m.end_time) + 1 for m in complete], dtype=np.int64)
    mrr_by_customer = _mrr_at(frames, month_ends) * real[:, None]  # customers x months
    actual = {
        "mrr": mrr_by_customer.sum(axis=0),
        "new_customers": _count_by_month(customers["created_at"][real], complete),
        "churn_rate": _churn(mrr_by_customer),
        "trial_conversion": _trial_conversion(frames, complete, end_us),
        "dau": _dau(frames, customers, complete),
    }
    rows: list[tuple[str, pd.Period, float, str | None]] = []
    for kpi in KPIS:
        rows += [
            (kpi, m, g, None)
            for m, g in zip(months, _goals(rng, kpi, actual[kpi], len(months)), strict=True)
        ]
    for dept in sorted(set(department)):
        mask = (department == dept) & real
        dept_actual = {
            "mrr": mrr_by_customer[mask].sum(axis=0),
            "new_customers": _count_by_month(customers["created_at"][mask], complete),
        }
        for kpi, values in dept_actual.items():
            rows += [
                (kpi, m, g, dept)
                for m, g in zip(months, _goals(rng, kpi, values, len(months)), strict=True)
            ]
    return pd.DataFrame({
        "kpi": [r[0] for r in rows],
        "period_start": [r[1].start_time.date() for r in rows],
        "period_end": [r[1].end_time.date() for r in rows],
        "goal": [float(r[2]) for r in rows],
        "department": [r[3] for r in rows],
    })  # fmt: skip


def _goals(rng: np.random.Generator, kpi: str, actual: np.ndarray, n_months: int) -> list[float]:
    """Goal of month m from the actual of month m-1; months without an actual extrapolate the trend."""
    actual = np.asarray(actual, dtype=float)
    goals: list[float] = []
    recent = actual[-7:]
    if kpi in ("mrr", "new_customers", "dau"):
        actual = np.nan_to_num(actual)  # a month nobody was active in
        recent = actual[-7:]
        positive = recent[recent > 0]
        trend = (
            (positive[-1] / positive[0]) ** (1 / max(len(positive) - 1, 1)) - 1
            if len(positive) > 1
            else 0.05
        )
        trend = float(np.clip(trend, 0.0, 0.10))
        rounded = (lambda v: round(v, -4)) if kpi == "mrr" else round
        for m in range(n_months):
            if m > len(actual):  # beyond the current month: follow the trend
                goals.append(rounded(goals[-1] * (1 + trend)))
                continue
            base = actual[max(m - 1, 0)]
            goals.append(rounded(max(base, 1.0) * (1 + trend + rng.uniform(0.02, 0.08))))
        return goals
    for m in range(n_months):
        window = actual[max(0, m - 3) : max(1, min(m, len(actual)))]
        window = window[~np.isnan(window)]
        base = float(window.mean()) if len(window) else (0.03 if kpi == "churn_rate" else 0.5)
        if kpi == "churn_rate":
            goals.append(round(max(0.005, base * rng.uniform(0.8, 0.95)), 4))
        else:
            goals.append(round(min(0.95, base + rng.uniform(0.02, 0.05)), 4))
    return goals


def _us(ts: pd.Timestamp) -> int:
    return (
        int(pd.Timestamp(ts).tz_localize("UTC").value // 1000)
        if ts.tzinfo is None
        else int(ts.value // 1000)
    )


def _mrr_at(frames: Mapping[str, pd.DataFrame], instants: np.ndarray) -> np.ndarray:
    """Approximate MRR (minor units) per customer index at each instant, from subscription_items."""
    items = frames["subscription_items"].merge(
        frames["plans"], left_on="plan_id", right_on="id", suffixes=("", "_plan")
    )
    items = items.merge(
        frames["subscriptions"][["id", "customer_id", "trial_end"]],
        left_on="subscription_id",
        right_on="id",
        suffixes=("", "_sub"),
    )
    items = items[(items["usage_type"] == "licensed") & ~items["is_free"]]
    months = np.where(items["interval"] == "year", 12, 1) * items["interval_count"].to_numpy()
    monthly = items["amount_minor"].to_numpy() * items["quantity"].to_numpy() / months
    big = np.iinfo(np.int64).max
    frm = _int_us(items["valid_from"], big)
    to = _int_us(items["valid_to"], big)
    trial_end = _int_us(items["trial_end"], -big)
    disc_end = _int_us(items["discount_ends_at"], big)
    pct = (
        items["discount_pct"].fillna(0).to_numpy()
        * items["discount_duration"].isin(["forever", "repeating"]).to_numpy()
    )
    cust = items["customer_id"].to_numpy() - 1
    n_customers = len(frames["customers"])
    out = np.zeros((n_customers, len(instants)))
    for j, t in enumerate(instants):
        live = (frm <= t) & (t < to) & (trial_end <= t)
        value = monthly * (1 - np.where(t < disc_end, pct, 0) / 100)
        out[:, j] = np.bincount(cust[live], weights=value[live], minlength=n_customers)
    return out


def _int_us(column: pd.Series, missing: int) -> np.ndarray:
    values = column.to_numpy(dtype="datetime64[us]").astype(np.int64)
    return np.where(column.isna().to_numpy(), missing, values)


def _count_by_month(created: pd.Series, months: list[pd.Period]) -> np.ndarray:
    counts = created.dt.tz_convert(None).dt.to_period("M").value_counts()
    return np.array([counts.get(m, 0) for m in months], dtype=float)


def _churn(mrr: np.ndarray) -> np.ndarray:
    paying = mrr > 0
    before, after = paying[:, :-1], paying[:, 1:]
    lost = (before & ~after).sum(axis=0)
    base = before.sum(axis=0)
    rate = np.where(base > 0, lost / np.maximum(base, 1), np.nan)
    return np.concatenate([[np.nan], rate])


def _trial_conversion(
    frames: Mapping[str, pd.DataFrame], months: list[pd.Period], end_us: int
) -> np.ndarray:
    subs = frames["subscriptions"]
    trials = subs[
        subs["trial_start"].notna()
        & (subs["trial_end"] < pd.Timestamp(end_us, unit="us", tz="UTC"))
    ]
    invoices = frames["invoices"]
    paid = invoices[(invoices["status"] == "paid") & (invoices["total_minor"] > 0)][
        "subscription_id"
    ].unique()
    converted = trials["id"].isin(paid)
    month = trials["trial_start"].dt.tz_convert(None).dt.to_period("M")
    rate = converted.groupby(month).mean()
    return np.array([rate.get(m, np.nan) for m in months], dtype=float)


def _dau(
    frames: Mapping[str, pd.DataFrame], customers: pd.DataFrame, months: list[pd.Period]
) -> np.ndarray:
    """Mean daily active identified non-test users per month (from sessions: cheaper than events)."""
    sessions = frames["sessions"]
    users = frames["users"]
    test_people = users["id"][
        users["customer_id"].isin(customers["id"][customers["is_test"]])
    ].to_numpy()
    person = sessions["person_id"].to_numpy()
    day = sessions["start_ts"].to_numpy(dtype="datetime64[us]").astype(np.int64) // DAY_US
    keep = (person <= len(users)) & ~np.isin(person, test_people)
    stride = int(person.max()) + 1
    pairs = np.sort(day[keep] * stride + person[keep])  # np.unique's hash path is slow on 10M ints
    pairs = pairs[np.concatenate([[True], pairs[1:] != pairs[:-1]])]
    daily = pd.Series(pairs // stride).value_counts()
    month = pd.to_datetime(daily.index.to_numpy() * DAY_US, unit="us").to_period("M")
    monthly = daily.groupby(month).mean()
    return np.array([monthly.get(m, np.nan) for m in months], dtype=float)
