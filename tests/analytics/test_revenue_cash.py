"""Collected revenue by processor, by plan and per day; cohort LTV and cohort MRR retention."""

from __future__ import annotations

import pytest

from tests.analytics._revenue_rows import Runner, billing, item, sub


def invoice(iid: int, customer: int, *, sub_id: int | None = None, at: str = "2024-01-01") -> dict:
    return {"id": iid, "customer_id": customer, "subscription_id": sub_id, "status": "paid",
            "total_minor": 0, "period_start": at, "created_at": at, "paid_at": at}  # fmt: skip


def payment(pid: int, inv: int, processor: str, amount: int, at: str, *, status: str = "succeeded",
            refunded: int | None = 0) -> dict:  # fmt: skip
    return {"id": pid, "invoice_id": inv, "processor": processor, "amount_minor": amount,
            "status": status, "created_at": at, "refunded_minor": refunded}  # fmt: skip


def test_revenue_by_processor_nets_refunds_and_skips_failed_test_and_out_of_range_payments(
    warehouse,
):
    invoices = [invoice(i, 1) for i in range(1, 7)] + [invoice(9, 9)]
    payments = [
        payment(1, 1, "stripe", 10_000, "2024-01-05", refunded=2_000),  # 100 - 20 = 80
        payment(2, 2, "stripe", 5_000, "2024-01-06", refunded=None),  # 50
        payment(
            3, 3, "paypal", 3_000, "2024-01-07", status="refunded", refunded=None
        ),  # fully refunded: 0
        payment(4, 4, "paddle", 7_000, "2024-01-08"),  # 70
        payment(5, 5, "bank", 4_000, "2024-01-09", status="failed"),  # not revenue
        payment(6, 6, "paddle", 1_000, "2024-02-01"),  # after the range
        payment(7, 9, "stripe", 9_900, "2024-01-10"),  # test account
    ]
    frames = billing([], [], test_customers=(9,), invoices=invoices, payments=payments)
    frame = Runner(warehouse, frames)("revenue_by_processor", start="2024-01-01", end="2024-01-31")
    assert frame.to_dict("records") == [
        {"processor": "stripe", "revenue": 130.0, "payments": 2},
        {"processor": "paddle", "revenue": 70.0, "payments": 1},
        {"processor": "paypal", "revenue": 0.0, "payments": 1},
    ]


def test_revenue_trend_has_every_day_and_a_trailing_seven_day_average(warehouse):
    invoices = [invoice(i, 1) for i in range(1, 4)]
    payments = [
        payment(1, 1, "stripe", 7_000, "2024-01-02 12:00"),  # 70
        payment(2, 2, "stripe", 1_000, "2024-01-08 12:00"),  # 10
        payment(3, 3, "stripe", 3_500, "2024-01-10 12:00"),  # 35
    ]
    frame = Runner(warehouse, billing([], [], invoices=invoices, payments=payments))(
        "revenue_trend", start="2024-01-08", end="2024-01-10"
    )
    assert [str(d) for d in frame["date"]] == ["2024-01-08", "2024-01-09", "2024-01-10"]
    assert frame["revenue"].tolist() == [10.0, 0.0, 35.0]
    # Jan 2..8 = (70 + 10) / 7; Jan 3..9 = 10 / 7; Jan 4..10 = (10 + 35) / 7
    assert frame["revenue_ma7"].tolist() == pytest.approx([80 / 7, 10 / 7, 45 / 7])


@pytest.mark.parametrize(
    ("timezone", "day"), [("UTC", "2024-01-31"), ("Europe/Berlin", "2024-02-01")]
)
def test_revenue_trend_puts_a_late_utc_payment_on_the_local_day(warehouse, timezone, day):
    # D.7.9: 23:30 UTC on Jan 31 is 00:30 on Feb 1 in Berlin (CET, UTC+1)
    frames = billing(
        [],
        [],
        invoices=[invoice(1, 1)],
        payments=[payment(1, 1, "stripe", 5_000, "2024-01-31 23:30")],
    )
    frame = Runner(warehouse, frames)(
        "revenue_trend", start="2024-01-31", end="2024-02-01", timezone=timezone
    )
    assert dict(zip(map(str, frame["date"]), frame["revenue"], strict=True))[day] == 50.0
    assert frame["revenue"].sum() == 50.0


def test_revenue_by_plan_splits_an_invoice_over_its_items_by_list_price(warehouse):
    frames = billing(
        [sub(1, 1, "2024-01-01")],
        [item(1, 1, 1, "2024-01-01"), item(2, 1, 8, "2024-01-01")],  # 100 + 50 a month
        invoices=[invoice(1, 1, sub_id=1, at="2024-01-01"), invoice(2, 1, at="2024-01-15")],
        payments=[
            payment(1, 1, "stripe", 15_000, "2024-01-01"),  # 150 split 100 : 50
            payment(2, 2, "stripe", 2_000, "2024-01-15"),  # one-off invoice, no subscription: 20
        ],
    )
    frame = Runner(warehouse, frames)("revenue_by_plan", start="2024-01-01", end="2024-01-31")
    rows = {None if r["plan_id"] is None or r["plan_id"] != r["plan_id"] else int(r["plan_id"]): r
            for r in frame.to_dict("records")}  # fmt: skip
    assert rows[1]["revenue"] == pytest.approx(100) and rows[1]["mrr"] == pytest.approx(100)
    assert rows[8]["revenue"] == pytest.approx(50) and rows[8]["mrr"] == pytest.approx(50)
    assert rows[1]["plan"] == "Monthly 100"
    other = [r for k, r in rows.items() if k not in (1, 8)]
    assert len(other) == 1 and other[0]["revenue"] == pytest.approx(20) and other[0]["mrr"] == 0


def test_cohort_ltv_accumulates_net_revenue_per_first_payment_cohort(warehouse):
    invoices = [invoice(i, c) for i, c in [(1, 1), (2, 1), (3, 1), (4, 2), (5, 2), (6, 3), (7, 4)]]
    payments = [
        payment(1, 1, "stripe", 10_000, "2024-01-05"),  # c1: 100 in Jan, Feb, Mar
        payment(2, 2, "stripe", 10_000, "2024-02-05"),
        payment(3, 3, "stripe", 10_000, "2024-03-05"),
        payment(4, 4, "stripe", 5_000, "2024-01-20"),  # c2: 50 in Jan ...
        payment(
            5, 5, "stripe", 5_000, "2024-02-20", status="refunded", refunded=5_000
        ),  # ... 0 in Feb
        payment(6, 6, "stripe", 20_000, "2024-02-10"),  # c3: Feb cohort, 200
        payment(7, 7, "stripe", 9_000, "2024-01-10", status="failed"),  # c4 never paid
    ]
    frame = Runner(warehouse, billing([], [], invoices=invoices, payments=payments))(
        "cohort_ltv", start="2024-01-01", end="2024-03-31"
    )
    got = [
        (str(r["cohort"]), r["months_since"], r["customers"], r["revenue"], r["value"])
        for r in frame.to_dict("records")
    ]
    assert got == [
        ("2024-01-01", 0, 2, 150.0, pytest.approx(75.0)),  # (100 + 50) / 2
        ("2024-01-01", 1, 2, 100.0, pytest.approx(125.0)),  # (150 + 100) / 2
        ("2024-01-01", 2, 2, 100.0, pytest.approx(175.0)),  # (250 + 100) / 2
        ("2024-02-01", 0, 1, 200.0, pytest.approx(200.0)),
        ("2024-02-01", 1, 1, 0.0, pytest.approx(200.0)),
    ]


def test_cohort_mrr_retention_is_a_fraction_of_each_cohorts_starting_mrr(warehouse):
    frames = billing(
        [
            sub(
                1, 1, "2024-01-05", status="canceled", ended="2024-03-10"
            ),  # A 100, churns in March
            sub(2, 2, "2024-01-20"),  # B 50, two seats from Feb 15 (100)
            sub(3, 3, "2024-02-03"),  # C 50, February cohort
        ],
        [
            item(1, 1, 1, "2024-01-05", "2024-03-10"),
            item(2, 2, 8, "2024-01-20", "2024-02-15"),
            item(3, 2, 8, "2024-02-15", qty=2),
            item(4, 3, 8, "2024-02-03"),
        ],
    )
    frame = Runner(warehouse, frames)("cohort_mrr_retention", start="2024-01-01", end="2024-03-31")
    got = [
        (str(r["cohort"]), r["months_since"], r["customers"], r["start_mrr"], r["mrr"])
        for r in frame.to_dict("records")
    ]
    assert got == [
        ("2024-01-01", 0, 2, 150.0, 150.0),  # A 100 + B 50 at their first paid day
        ("2024-01-01", 1, 2, 150.0, 200.0),  # B expanded to 100
        ("2024-01-01", 2, 2, 150.0, 100.0),  # A churned
        ("2024-02-01", 0, 1, 50.0, 50.0),
        ("2024-02-01", 1, 1, 50.0, 50.0),
    ]
    assert frame["value"].tolist() == pytest.approx([1.0, 200 / 150, 100 / 150, 1.0, 1.0])


def test_cohort_metrics_are_empty_without_customers(warehouse):
    run = Runner(warehouse, billing([], []))
    assert run("cohort_ltv", start="2024-01-01", end="2024-03-31").empty
    assert run("cohort_mrr_retention", start="2024-01-01", end="2024-03-31").empty
    assert run("revenue_by_processor", start="2024-01-01", end="2024-03-31").empty
    assert run("revenue_trend", start="2024-01-01", end="2024-01-03")["revenue_ma7"].tolist() == [
        0,
        0,
        0,
    ]
