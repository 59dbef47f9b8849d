"""Hand-made billing rows for the revenue metric tests, and a runner through the metric catalog."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

import analytics.revenue  # noqa: F401  (registers the revenue metrics)
from analytics.catalog import CATALOG, parse_params
from datasources.sql import SQLSource

# Plans used across the tests: amounts in minor units (cents).
PLANS = pd.DataFrame(
    [
        # id, name, amount_minor, interval, interval_count, usage_type, is_free
        (1, "Monthly 100", 10_000, "month", 1, "licensed", False),  # 100.00 / month
        (2, "Annual 1200", 120_000, "year", 1, "licensed", False),  # 1200 / 12 = 100.00 / month
        (3, "Quarterly 300", 30_000, "month", 3, "licensed", False),  # 300 / 3 = 100.00 / month
        (4, "Weekly 10", 1_000, "week", 1, "licensed", False),  # 10 x 52 / 12 = 43.333333
        (5, "Daily 1", 100, "day", 1, "licensed", False),  # 1 x 365 / 12 = 30.416667
        (6, "Free", 0, "month", 1, "licensed", True),  # never MRR
        (7, "Metered", 5_000, "month", 1, "metered", False),  # never MRR
        (8, "Monthly 50", 5_000, "month", 1, "licensed", False),  # 50.00 / month
        (9, "Monthly 300", 30_000, "month", 1, "licensed", False),  # 300.00 / month
        (10, "Biweekly 20", 2_000, "week", 2, "licensed", False),  # 20 x 52 / 12 / 2 = 43.333333
        (11, "Monthly 30", 3_000, "month", 1, "licensed", False),
        (12, "Monthly 10", 1_000, "month", 1, "licensed", False),
        (13, "Monthly 60", 6_000, "month", 1, "licensed", False),
        (14, "Monthly 20", 2_000, "month", 1, "licensed", False),
        (15, "Monthly 25", 2_500, "month", 1, "licensed", False),
        (16, "Monthly 5", 500, "month", 1, "licensed", False),
    ],
    columns=["id", "name", "amount_minor", "interval", "interval_count", "usage_type", "is_free"],
)


def sub(
    sid: int,
    customer: int,
    started: str,
    *,
    status: str = "active",
    ended: str | None = None,
    canceled: str | None = None,
    trial_start: str | None = None,
    trial_end: str | None = None,
) -> dict[str, Any]:
    """One subscriptions row."""
    return {
        "id": sid, "customer_id": customer, "status": status, "started_at": started,
        "trial_start": trial_start, "trial_end": trial_end, "canceled_at": canceled,
        "ended_at": ended, "processor": "stripe",
    }  # fmt: skip


def item(
    iid: int,
    sid: int,
    plan: int,
    valid_from: str,
    valid_to: str | None = None,
    *,
    qty: int = 1,
    pct: float | None = None,
    duration: str | None = None,
    discount_ends: str | None = None,
) -> dict[str, Any]:
    """One subscription_items row (an SCD-2 version)."""
    return {
        "id": iid, "subscription_id": sid, "plan_id": plan, "quantity": qty,
        "valid_from": valid_from, "valid_to": valid_to, "discount_pct": pct,
        "discount_duration": duration, "discount_ends_at": discount_ends,
    }  # fmt: skip


def billing(
    subs: list[dict[str, Any]],
    items: list[dict[str, Any]],
    *,
    test_customers: tuple[int, ...] = (),
    invoices: list[dict[str, Any]] | None = None,
    payments: list[dict[str, Any]] | None = None,
) -> dict[str, pd.DataFrame]:
    """Warehouse frames: customers derived from the subscriptions (and invoices), plus PLANS."""
    ids = {s["customer_id"] for s in subs} | {i["customer_id"] for i in invoices or []}
    ids |= set(test_customers)
    customers = pd.DataFrame(
        [{"id": c, "account_name": f"c{c}", "is_test": c in test_customers} for c in sorted(ids)],
        columns=["id", "account_name", "is_test"],
    )
    frames = {"customers": customers, "plans": PLANS}
    if subs:
        frames["subscriptions"] = pd.DataFrame(subs)
    if items:
        frames["subscription_items"] = pd.DataFrame(items)
    if invoices:
        frames["invoices"] = pd.DataFrame(invoices)
    if payments:
        frames["payments"] = pd.DataFrame(payments)
    return {name: _whole_numbers(frame) for name, frame in frames.items()}


_TIMESTAMPS = {
    "started_at", "trial_start", "trial_end", "canceled_at", "ended_at", "valid_from", "valid_to",
    "discount_ends_at", "period_start", "period_end", "created_at", "paid_at",
}  # fmt: skip


def _whole_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Timestamps parsed from mixed ISO strings; integer columns with gaps become nullable integers
    (PostgreSQL's COPY rejects "2000.0")."""
    frame = frame.copy()
    for col in frame.columns:
        values = frame[col]
        if col in _TIMESTAMPS:
            frame[col] = pd.to_datetime(values, format="ISO8601", utc=True)
        elif values.dtype.kind == "f" and (values.dropna() % 1 == 0).all():
            frame[col] = values.astype("Int64")
    return frame


Warehouse = Callable[[Mapping[str, pd.DataFrame]], str]


class Runner:
    """Runs catalog metrics against one warehouse built from frames."""

    def __init__(self, warehouse: Warehouse, frames: Mapping[str, pd.DataFrame]) -> None:
        self.source = SQLSource("t", warehouse(frames))

    def __call__(self, name: str, **params: Any) -> pd.DataFrame:
        spec = CATALOG[name]
        frame = spec.fn(self.source, parse_params(spec, params))
        return frame.loc[:, list(spec.columns)]  # as run_metric: exactly the declared columns

    def series(
        self, name: str, column: str = "value", key: str = "period_start", **params: Any
    ) -> dict:
        """{str(key): value} for a two-column metric."""
        frame = self(name, **params)
        return {
            str(k): (None if pd.isna(v) else v)
            for k, v in zip(frame[key], frame[column], strict=True)
        }
