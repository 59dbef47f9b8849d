"""The seed's revenue_type and user_type filters on hand-made rows, on DuckDB and PostgreSQL.

revenue_type: recurring = payments of invoices of a subscription; one_time = payments of invoices
without one (or of no invoice). user_type=active: persons with an event in the metric's window.
Which metrics honour which filter is declared in the catalog.
"""

from __future__ import annotations

import pandas as pd
import pytest

from analytics.catalog import get_metric, list_metrics, run_metric
from analytics.filters import FILTER_NAMES, FILTER_VALUES, RowFilter
from datasources.sql import SQLSource
from tests.analytics._product_rows import events

JAN = {"start": "2024-01-05", "end": "2024-01-06"}


def _billing() -> dict[str, pd.DataFrame]:
    """Customer 1: a Pro subscription ($100 a month) with invoice 1 paid $100 on 5 Jan; one-time
    invoices 2 ($30 on 5 Jan, paypal) and 3 ($20 on 6 Jan, stripe); a $5 bank payment with no
    invoice on 6 Jan. Customer 2 is a test account whose $999 is never counted."""
    return {
        "customers": pd.DataFrame(
            {"id": [1, 2], "account_name": ["Real", "Test"], "is_test": [False, True]}
        ),
        "plans": pd.DataFrame(
            {
                "id": [1],
                "name": ["Pro"],
                "amount_minor": [10_000],
                "currency": ["usd"],
                "interval": ["month"],
                "interval_count": [1],
                "usage_type": ["licensed"],
                "is_free": [False],
            }
        ),  # fmt: skip
        "subscriptions": pd.DataFrame(
            {
                "id": [10],
                "customer_id": [1],
                "status": ["active"],
                "started_at": ["2024-01-01 00:00Z"],
                "processor": ["stripe"],
            }
        ),  # fmt: skip
        "subscription_items": pd.DataFrame(
            {
                "id": [100],
                "subscription_id": [10],
                "plan_id": [1],
                "quantity": [1],
                "valid_from": ["2024-01-01 00:00Z"],
            }
        ),  # fmt: skip
        "invoices": pd.DataFrame(
            {
                "id": [1, 2, 3, 4],
                "customer_id": [1, 1, 1, 2],
                "subscription_id": pd.array([10, None, None, None], dtype="Int64"),
                "processor": ["stripe", "paypal", "stripe", "stripe"],
                "status": ["paid"] * 4,
                "period_start": ["2024-01-01 00:00Z"] * 4,
                "total_minor": [10_000, 3_000, 2_000, 99_900],
                "created_at": ["2024-01-05 00:00Z"] * 4,
                "paid_at": ["2024-01-05 00:00Z"] * 4,
            }
        ),  # fmt: skip
        "payments": pd.DataFrame(
            {
                "id": [1, 2, 3, 4, 5],
                "invoice_id": pd.array([1, 2, 3, None, 4], dtype="Int64"),
                "processor": ["stripe", "paypal", "stripe", "bank", "stripe"],
                "amount_minor": [10_000, 3_000, 2_000, 500, 99_900],
                "currency": ["usd"] * 5,
                "status": ["succeeded"] * 5,
                "created_at": [
                    "2024-01-05 10:00Z",
                    "2024-01-05 11:00Z",
                    "2024-01-06 10:00Z",
                    "2024-01-06 11:00Z",
                    "2024-01-05 12:00Z",
                ],
            }
        ),  # fmt: skip
    }


def _run(url: str, name: str, **params):
    source = SQLSource("t", url)
    try:
        return run_metric(name, source, params)
    finally:
        source.close()


@pytest.mark.parametrize(
    ("revenue_type", "by_processor", "trend"),
    [
        (None, [("stripe", 120.0, 2), ("paypal", 30.0, 1), ("bank", 5.0, 1)], [130.0, 25.0]),
        ("all", [("stripe", 120.0, 2), ("paypal", 30.0, 1), ("bank", 5.0, 1)], [130.0, 25.0]),
        ("recurring", [("stripe", 100.0, 1)], [100.0, 0.0]),
        ("one_time", [("paypal", 30.0, 1), ("stripe", 20.0, 1), ("bank", 5.0, 1)], [30.0, 25.0]),
    ],
)
def test_revenue_type_splits_collected_revenue(warehouse, revenue_type, by_processor, trend):
    url = warehouse(_billing())
    filters = {"revenue_type": [revenue_type]} if revenue_type else {}
    got = _run(url, "revenue_by_processor", **JAN, filters=filters)
    assert list(got.itertuples(index=False, name=None)) == by_processor
    daily = _run(url, "revenue_trend", **JAN, filters=filters)
    assert list(daily["revenue"]) == trend


def test_revenue_type_on_revenue_by_plan_leaves_mrr_recurring(warehouse):
    url = warehouse(_billing())
    recurring = _run(url, "revenue_by_plan", **JAN, filters={"revenue_type": ["recurring"]})
    assert [(r.plan, r.revenue, r.mrr) for r in recurring.itertuples()] == [("Pro", 100.0, 100.0)]
    one_time = _run(url, "revenue_by_plan", **JAN, filters={"revenue_type": ["one_time"]})
    # One-time payments have no plan; the Pro plan's MRR is still its MRR.
    rows = sorted(
        ((None if pd.isna(r.plan_id) else r.plan, r.revenue, r.mrr) for r in one_time.itertuples()),
        key=lambda r: r[0] or "",
    )
    assert rows == [(None, 55.0, 0.0), ("Pro", 0.0, 100.0)]


def test_mrr_ignores_revenue_type_it_is_recurring_by_definition(warehouse):
    url = warehouse(_billing())
    mrr = get_metric("mrr")
    assert mrr.ignored_filters(["revenue_type", "user_type", "plan"]) == [
        "revenue_type",
        "user_type",
    ]
    plain = _run(url, "mrr", **JAN)
    one_time = _run(url, "mrr", **JAN, filters={"revenue_type": ["one_time"]})
    assert list(plain["mrr"]) == list(one_time["mrr"]) == [100.0, 100.0]


def test_user_type_active_keeps_persons_with_an_event_in_the_window(warehouse):
    url = warehouse(
        {
            **_billing(),
            "users": pd.DataFrame({"id": [1, 2, 3], "customer_id": [1, 1, 1]}),
            "events": events(
                (1, "app_opened", "2024-01-05 09:00Z"),
                (2, "app_opened", "2024-01-05 09:00Z"),
                (2, "app_opened", "2024-01-06 09:00Z"),
                (3, "app_opened", "2024-01-04 09:00Z"),  # before the window
                (4, "$pageview", "2024-01-06 09:00Z"),  # an anonymous person: active too
                (4, "app_opened", "2024-01-03 09:00Z"),
            ),
        }
    )
    params = {**JAN, "event": "app_opened", "math": "dau"}
    # All persons: 5 Jan p1, p2; 6 Jan p2.
    assert list(_run(url, "trends", **params)["value"]) == [2.0, 1.0]
    # Weekly actives (7 days ending each day) see p3 and p4 on 3 and 4 Jan; active-only does not.
    weekly = {**params, "math": "weekly_active"}
    assert list(_run(url, "trends", **weekly)["value"]) == [4.0, 4.0]
    active = _run(url, "trends", **weekly, filters={"user_type": ["active"]})
    assert list(active["value"]) == [3.0, 3.0]  # p1, p2 and p4 (its $pageview on 6 Jan)
    # user_type=all is no filter.
    assert list(_run(url, "trends", **weekly, filters={"user_type": ["all"]})["value"]) == [
        4.0,
        4.0,
    ]


def test_filter_names_and_values_are_one_list():
    assert FILTER_NAMES == (
        "processor",
        "plan",
        "country",
        "department",
        "user_role",
        "revenue_type",
        "user_type",
    )
    assert FILTER_VALUES == {
        "revenue_type": ("all", "recurring", "one_time"),
        "user_type": ("all", "active"),
    }
    with pytest.raises(ValueError, match="user_type 'admin' is not one of all, active; the role"):
        RowFilter(user_type=["admin"])
    with pytest.raises(ValueError, match="revenue_type 'gift' is not one of all, recurring"):
        RowFilter(revenue_type=["gift"])
    assert RowFilter(revenue_type=["recurring", "one_time"]).revenue_type == ()


def test_every_metric_declares_the_filters_it_honours():
    payments = {"revenue_by_processor", "revenue_trend", "revenue_by_plan"}
    for spec in list_metrics():
        assert ("revenue_type" in spec.filters) == (spec.name in payments), spec.name
        mixed = spec.name == "period_comparison"  # product and revenue measures side by side
        assert ("user_type" in spec.filters) == (spec.group == "product" or mixed), spec.name
        assert {"department", "user_role"} <= set(spec.filters), spec.name
