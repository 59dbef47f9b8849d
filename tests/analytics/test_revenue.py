"""MRR, ARR, ARPA, paying customers, movements, churn, NRR/GRR, quick ratio and LTV on hand-made rows."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.analytics._revenue_rows import Runner, billing, item, sub

APPROX = {"abs": 1e-6}


def movements(run: Runner, start: str, end: str, **params) -> dict[str, dict[str, float]]:
    frame = run("mrr_movements", start=start, end=end, **params)
    return {str(row.pop("period_start")): row for row in frame.to_dict("records")}


def test_mrr_normalises_intervals_and_excludes_free_metered_trialing_and_test_accounts(warehouse):
    frames = billing(
        [
            sub(1, 1, "2024-01-01"),
            sub(2, 2, "2024-01-01"),
            sub(3, 3, "2024-01-01"),
            sub(4, 4, "2024-01-01"),
            sub(5, 5, "2024-01-01"),
            sub(6, 6, "2024-01-01"),
            sub(7, 7, "2024-01-01"),
            sub(8, 8, "2024-01-01"),  # test account
            sub(
                9,
                9,
                "2024-01-01",
                status="trialing",
                trial_start="2024-01-01",
                trial_end="2024-02-15",
            ),
            sub(10, 10, "2024-01-01"),
        ],
        [
            item(1, 1, 1, "2024-01-01", qty=2),  # 100.00 x 2 seats = 200.00
            item(2, 2, 2, "2024-01-01"),  # annual 1200 / 12 = 100.00
            item(3, 3, 3, "2024-01-01"),  # 300 every 3 months = 100.00
            item(4, 4, 4, "2024-01-01"),  # weekly 10 x 52 / 12 = 43.333333
            item(5, 5, 5, "2024-01-01"),  # daily 1 x 365 / 12 = 30.416667
            item(6, 6, 6, "2024-01-01"),  # free plan: 0
            item(7, 7, 7, "2024-01-01"),  # metered item: 0 ...
            item(8, 7, 8, "2024-01-01"),  # ... the licensed item of the same sub: 50.00
            item(9, 8, 1, "2024-01-01"),  # test account: excluded
            item(10, 9, 1, "2024-01-01"),  # still trialing on Jan 31: 0
            item(11, 10, 10, "2024-01-01"),  # 20 every 2 weeks = 20 x 52 / 12 / 2 = 43.333333
        ],
        test_customers=(8,),
    )
    run = Runner(warehouse, frames)
    # 200 + 100 + 100 + 43.333333 + 30.416667 + 50 + 43.333333 = 567.083333
    expected = 200 + 100 + 100 + 1000 * 52 / 12 / 100 + 365 / 12 + 50 + 2000 * 52 / 12 / 2 / 100
    day = {"start": "2024-01-31", "end": "2024-01-31"}
    assert run("mrr", **day)["mrr"].tolist() == [pytest.approx(expected, **APPROX)]
    assert run("arr", **day)["arr"].tolist() == [pytest.approx(expected * 12, **APPROX)]
    # customers 1, 2, 3, 4, 5, 7, 10 pay; 6 (free), 8 (test) and 9 (trial) do not
    assert run("paying_customers", **day)["value"].tolist() == [7]
    assert run("arpa", **day)["value"].tolist() == [pytest.approx(expected / 7, **APPROX)]


def test_mrr_daily_series_counts_start_day_and_drops_the_end_day(warehouse):
    frames = billing(
        [sub(1, 1, "2024-01-03 10:00", status="canceled", ended="2024-01-06 09:00")],
        [item(1, 1, 1, "2024-01-03 10:00", "2024-01-06 09:00")],
    )
    frame = Runner(warehouse, frames)("mrr", start="2024-01-01", end="2024-01-07")
    assert [str(d) for d in frame["date"]] == [f"2024-01-0{i}" for i in range(1, 8)]
    # active at the end of Jan 3, 4, 5; ended during Jan 6
    assert frame["mrr"].tolist() == [0, 0, 100, 100, 100, 0, 0]


def test_mrr_monthly_and_weekly_snapshots_are_taken_on_the_last_day_cut_at_end(warehouse):
    frames = billing(
        [
            sub(1, 1, "2024-01-15"),
            sub(2, 2, "2024-02-10", status="canceled", canceled="2024-03-01", ended="2024-03-20"),
        ],
        [item(1, 1, 1, "2024-01-15"), item(2, 2, 8, "2024-02-10")],  # 100 and 50
    )
    run = Runner(warehouse, frames)
    frame = run("mrr", start="2024-01-01", end="2024-03-10", interval="month")
    assert [str(d) for d in frame["date"]] == ["2024-01-31", "2024-02-29", "2024-03-10"]
    assert frame["mrr"].tolist() == [100, 150, 150]  # customer 2 ends on Mar 20, after `end`
    weekly = run("paying_customers", start="2024-02-05", end="2024-02-20", interval="week")
    # ISO weeks: Feb 5-11 (snapshot Sun Feb 11), Feb 12-18, Feb 19-20 (cut at end)
    assert [str(d) for d in weekly["date"]] == ["2024-02-11", "2024-02-18", "2024-02-20"]
    assert weekly["value"].tolist() == [2, 2, 2]


def test_mrr_starts_at_trial_end_and_a_trial_that_never_converted_never_counts(warehouse):
    frames = billing(
        [
            sub(1, 1, "2024-01-01", trial_start="2024-01-01", trial_end="2024-01-15"),
            # trial lost: canceled at trial end
            sub(
                2,
                2,
                "2024-01-01",
                status="canceled",
                trial_start="2024-01-01",
                trial_end="2024-01-15",
                canceled="2024-01-10",
                ended="2024-01-15",
            ),  # fmt: skip
            # trial ended without a payment method (Stripe `paused`): rows closed at trial end
            sub(
                3,
                3,
                "2024-01-01",
                status="paused",
                trial_start="2024-01-01",
                trial_end="2024-01-15",
            ),
        ],
        [
            item(1, 1, 1, "2024-01-01"),
            item(2, 2, 1, "2024-01-01", "2024-01-15"),
            item(3, 3, 1, "2024-01-01", "2024-01-15"),
        ],
    )
    frame = Runner(warehouse, frames)("mrr", start="2024-01-13", end="2024-01-16")
    assert frame["mrr"].tolist() == [0, 0, 100, 100]  # customer 1 from Jan 15 only


def test_annual_plan_is_one_twelfth_every_month_with_no_movement_at_renewal(warehouse):
    # D.7.1: 1200 / year paid upfront on 2024-01-15 and renewed unchanged on 2025-01-15
    frames = billing([sub(1, 1, "2024-01-15")], [item(1, 1, 2, "2024-01-15")])
    run = Runner(warehouse, frames)
    moves = movements(run, "2024-01-01", "2025-03-31")
    assert moves["2024-01-01"]["new"] == pytest.approx(100, **APPROX)
    for period, row in moves.items():
        assert row["end_mrr"] == pytest.approx(100, **APPROX)
        if period != "2024-01-01":
            assert row["net_new"] == 0 and row["expansion"] == 0 and row["new"] == 0, period
    monthly = run("mrr", start="2024-01-01", end="2025-03-31", interval="month")
    assert monthly["mrr"].tolist() == pytest.approx([100.0] * 15, **APPROX)


def test_mid_cycle_upgrade_uses_the_new_full_price_and_ignores_the_proration_invoice(warehouse):
    # D.7.2: 100/month upgraded to 300/month on Feb 10; a proration invoice of 129.03 is paid
    frames = billing(
        [sub(1, 1, "2024-01-01")],
        [item(1, 1, 1, "2024-01-01", "2024-02-10"), item(2, 1, 9, "2024-02-10")],
        invoices=[
            {
                "id": 1,
                "customer_id": 1,
                "subscription_id": 1,
                "status": "paid",
                "billing_reason": "subscription_update",
                "total_minor": 12_903,
                "period_start": "2024-02-10",
                "created_at": "2024-02-10",
                "paid_at": "2024-02-10",
            },
        ],  # fmt: skip
    )
    moves = movements(Runner(warehouse, frames), "2024-01-01", "2024-03-31")
    assert moves["2024-02-01"]["expansion"] == pytest.approx(200, **APPROX)  # 300 - 100, not 329.03
    assert moves["2024-02-01"]["end_mrr"] == pytest.approx(300, **APPROX)
    assert moves["2024-03-01"]["net_new"] == 0


def test_cancel_at_period_end_churns_in_the_month_of_ended_at_not_canceled_at(warehouse):
    # D.7.3: cancellation requested Mar 20, service ends Apr 10
    frames = billing(
        [sub(1, 1, "2024-01-01", status="canceled", canceled="2024-03-20", ended="2024-04-10")],
        [item(1, 1, 1, "2024-01-01", "2024-04-10")],
    )
    run = Runner(warehouse, frames)
    moves = movements(run, "2024-03-01", "2024-05-31")
    assert moves["2024-03-01"]["churn"] == 0 and moves["2024-03-01"]["end_mrr"] == 100
    assert moves["2024-04-01"]["churn"] == pytest.approx(-100, **APPROX)
    rate = run.series("customer_churn_rate", start="2024-03-01", end="2024-05-31")
    # March 0 of 1; April 1 of 1; May nobody at start -> null
    assert rate == {"2024-03-01": 0.0, "2024-04-01": 1.0, "2024-05-01": None}


def test_pause_then_resume_is_churn_then_reactivation_or_contraction_then_expansion(warehouse):
    # D.7.4: a pause is a gap in the item history (rows closed at the pause, reopened at resume).
    frames = billing(
        [
            sub(1, 1, "2024-01-01"),  # single subscription, paused Mar 5 - May 10
            sub(2, 2, "2024-01-01"),  # customer 2: a second, steady subscription (50)
            sub(3, 2, "2024-01-01"),  # ... and this one pauses Mar 5 - May 10
            sub(4, 3, "2024-01-01", status="paused"),  # paused since Mar 5, rows closed
            sub(
                5, 4, "2024-01-01", status="paused"
            ),  # paused since Feb 1: the open row is the pause
        ],
        [
            item(1, 1, 1, "2024-01-01", "2024-03-05"),
            item(2, 1, 1, "2024-05-10"),
            item(3, 2, 8, "2024-01-01"),
            item(4, 3, 1, "2024-01-01", "2024-03-05"),
            item(5, 3, 1, "2024-05-10"),
            item(6, 4, 1, "2024-01-01", "2024-03-05"),
            item(7, 5, 1, "2024-01-01", "2024-02-01"),
            item(8, 5, 1, "2024-02-01"),
        ],
    )
    moves = movements(Runner(warehouse, frames), "2024-01-01", "2024-05-31")
    # Jan: new 100 (c1) + 150 (c2) + 100 (c3) + 100 (c4) = 450
    assert moves["2024-01-01"]["new"] == pytest.approx(450, **APPROX)
    assert moves["2024-02-01"]["churn"] == pytest.approx(-100, **APPROX)  # c4 paused
    # Mar: c1 and c3 churn (-200); c2 keeps its 50-subscription: contraction -100
    assert moves["2024-03-01"]["churn"] == pytest.approx(-200, **APPROX)
    assert moves["2024-03-01"]["contraction"] == pytest.approx(-100, **APPROX)
    assert moves["2024-04-01"]["net_new"] == 0 and moves["2024-04-01"]["end_mrr"] == 50
    # May: c1 resumes = reactivation 100; c2 resumes = expansion 100
    assert moves["2024-05-01"]["reactivation"] == pytest.approx(100, **APPROX)
    assert moves["2024-05-01"]["expansion"] == pytest.approx(100, **APPROX)
    assert moves["2024-05-01"]["end_mrr"] == pytest.approx(250, **APPROX)


def test_mrr_movements_cancel_one_of_two_subscriptions_is_contraction(warehouse):
    # D.7.5
    frames = billing(
        [
            sub(1, 1, "2024-01-01", status="canceled", ended="2024-05-03"),
            sub(2, 1, "2024-01-01", status="canceled", ended="2024-03-15"),
        ],
        [item(1, 1, 1, "2024-01-01", "2024-05-03"), item(2, 2, 8, "2024-01-01", "2024-03-15")],
    )
    run = Runner(warehouse, frames)
    moves = movements(run, "2024-03-01", "2024-05-31")
    assert moves["2024-03-01"]["contraction"] == pytest.approx(-50, **APPROX)
    assert moves["2024-03-01"]["churn"] == 0
    assert moves["2024-05-01"]["churn"] == pytest.approx(-100, **APPROX)  # the last one: churn
    assert run.series("customer_churn_rate", start="2024-03-01", end="2024-05-31") == {
        "2024-03-01": 0.0,
        "2024-04-01": 0.0,
        "2024-05-01": 1.0,
    }


def test_discounts_of_every_duration_subtract_while_active_and_100_percent_churns(warehouse):
    frames = billing(
        [sub(1, 1, "2024-01-01"), sub(2, 2, "2024-01-01"), sub(3, 3, "2024-01-01")],
        [
            # D.7.6: a payer gets 100% off from Mar 15 -> MRR 0 -> churn (Baremetrics, our default)
            item(1, 1, 1, "2024-01-01", "2024-03-15"),
            item(2, 1, 1, "2024-03-15", pct=100, duration="forever"),
            # 20% repeating until Mar 10: 80 in Jan, 100 from Mar 10 (expansion 20)
            item(3, 2, 1, "2024-01-01", pct=20, duration="repeating", discount_ends="2024-03-10"),
            # 50% once with no end date: subtracts while active, i.e. for good (literal Nexpo rule)
            item(4, 3, 1, "2024-01-01", pct=50, duration="once"),
        ],
    )
    run = Runner(warehouse, frames)
    moves = movements(run, "2024-01-01", "2024-03-31")
    assert moves["2024-01-01"]["new"] == pytest.approx(100 + 80 + 50, **APPROX)
    assert moves["2024-03-01"]["churn"] == pytest.approx(-100, **APPROX)
    assert moves["2024-03-01"]["expansion"] == pytest.approx(20, **APPROX)
    assert moves["2024-03-01"]["end_mrr"] == pytest.approx(150, **APPROX)
    day = {"start": "2024-03-31", "end": "2024-03-31"}
    assert run("paying_customers", **day)["value"].tolist() == [2]


def test_reactivation_needs_earlier_mrr_and_join_and_leave_within_a_month_is_no_movement(warehouse):
    frames = billing(
        [
            sub(1, 1, "2024-01-01", status="canceled", ended="2024-02-10"),
            sub(2, 1, "2024-04-05"),  # same customer back in April
            sub(3, 2, "2024-03-03", status="canceled", ended="2024-03-25"),  # in and out in March
        ],
        [
            item(1, 1, 1, "2024-01-01", "2024-02-10"),
            item(2, 2, 8, "2024-04-05"),
            item(3, 3, 1, "2024-03-03"),
        ],
    )
    moves = movements(Runner(warehouse, frames), "2024-01-01", "2024-04-30")
    assert moves["2024-02-01"]["churn"] == pytest.approx(-100, **APPROX)
    assert all(v == 0 for k, v in moves["2024-03-01"].items()), moves["2024-03-01"]
    assert moves["2024-04-01"]["reactivation"] == pytest.approx(50, **APPROX)
    assert moves["2024-04-01"]["new"] == 0


def test_customer_churn_rate_excludes_new_in_period_and_churned_and_reactivated(warehouse):
    frames = billing(
        [
            sub(1, 1, "2024-01-01", status="canceled", ended="2024-03-10"),  # A churns in March
            sub(2, 2, "2024-01-01"),  # B stays
            sub(3, 3, "2024-01-01", status="canceled", ended="2024-03-05"),  # C leaves ...
            sub(4, 3, "2024-03-20"),  # ... and is back within March: not churned
            sub(5, 4, "2024-01-01"),  # D stays
            sub(
                6, 5, "2024-03-03", status="canceled", ended="2024-03-20"
            ),  # E new and gone in March
        ],
        [
            item(1, 1, 1, "2024-01-01", "2024-03-10"),
            item(2, 2, 1, "2024-01-01"),
            item(3, 3, 1, "2024-01-01", "2024-03-05"),
            item(4, 4, 1, "2024-03-20"),
            item(5, 5, 1, "2024-01-01"),
            item(6, 6, 1, "2024-03-03", "2024-03-20"),
        ],
    )
    rate = Runner(warehouse, frames).series(
        "customer_churn_rate", start="2024-03-01", end="2024-03-31"
    )
    assert rate == {"2024-03-01": pytest.approx(1 / 4)}  # A / {A, B, C, D}


@pytest.fixture
def chartmogul_march(warehouse) -> Runner:
    """ChartMogul's MRR churn example: start 100, churn 10, contraction 10, expansion 10 in March,
    plus a new customer (25) and a reactivation (5)."""
    frames = billing(
        [
            sub(1, 1, "2023-12-01"),  # A 50 -> 60 on Mar 10: expansion +10
            sub(2, 2, "2023-12-01"),  # B 30 -> 20 on Mar 12: contraction -10
            sub(3, 3, "2023-12-01", status="canceled", ended="2024-03-20"),  # C 10: churn -10
            sub(4, 4, "2023-12-01"),  # D 10 steady
            sub(5, 5, "2024-03-05"),  # E new: +25
            sub(6, 6, "2023-12-01", status="canceled", ended="2024-01-20"),  # F 5, gone in January
            sub(7, 6, "2024-03-08"),  # F back: reactivation +5
        ],
        [
            item(1, 1, 8, "2023-12-01", "2024-03-10"),
            item(2, 1, 13, "2024-03-10"),
            item(3, 2, 11, "2023-12-01", "2024-03-12"),
            item(4, 2, 14, "2024-03-12"),
            item(5, 3, 12, "2023-12-01", "2024-03-20"),
            item(6, 4, 12, "2023-12-01"),
            item(7, 5, 15, "2024-03-05"),
            item(8, 6, 16, "2023-12-01", "2024-01-20"),
            item(9, 7, 16, "2024-03-08"),
        ],
    )
    return Runner(warehouse, frames)


def test_mrr_movements_classify_the_chartmogul_example_and_the_bridge_holds(chartmogul_march):
    moves = movements(chartmogul_march, "2024-02-01", "2024-03-31")
    march = moves["2024-03-01"]
    assert march == pytest.approx(
        {"start_mrr": 100, "new": 25, "expansion": 10, "contraction": -10, "churn": -10,
         "reactivation": 5, "net_new": 20, "end_mrr": 120},
        **APPROX,
    )  # fmt: skip
    feb = moves["2024-02-01"]
    assert feb["start_mrr"] == pytest.approx(100) and feb["net_new"] == 0
    for row in moves.values():
        parts = (
            row["new"] + row["expansion"] + row["contraction"] + row["churn"] + row["reactivation"]
        )
        assert row["end_mrr"] == pytest.approx(row["start_mrr"] + parts, **APPROX)


def test_revenue_rates_match_the_chartmogul_example(chartmogul_march):
    run = chartmogul_march
    period = {"start": "2024-02-01", "end": "2024-03-31"}
    assert run.series("net_new_mrr", **period) == {"2024-02-01": 0, "2024-03-01": pytest.approx(20)}
    # gross (10 + 10) / 100
    assert run.series("gross_mrr_churn_rate", **period) == {
        "2024-02-01": 0,
        "2024-03-01": pytest.approx(0.2),
    }
    # net (10 + 10 - 10 - 5) / 100
    assert run.series("net_mrr_churn_rate", **period)["2024-03-01"] == pytest.approx(0.05)
    # NRR (100 + 10 - 10 - 10) / 100; GRR (100 - 10 - 10) / 100
    assert run.series("nrr", **period) == {"2024-02-01": 1.0, "2024-03-01": pytest.approx(0.9)}
    assert run.series("grr", **period) == {"2024-02-01": 1.0, "2024-03-01": pytest.approx(0.8)}
    # quick ratio (25 + 10 + 5) / (10 + 10); February lost nothing -> null
    assert run.series("quick_ratio", **period) == {
        "2024-02-01": None,
        "2024-03-01": pytest.approx(2.0),
    }
    # logo churn: C of {A, B, C, D}
    assert run.series("customer_churn_rate", **period) == {"2024-02-01": 0.0, "2024-03-01": 0.25}


@pytest.fixture
def four_payers_one_churns_in_march(warehouse) -> Runner:
    subs = [sub(i, i, "2023-12-01") for i in (2, 3, 4)]
    subs.append(sub(1, 1, "2023-12-01", status="canceled", ended="2024-03-10"))
    items = [item(i, i, 1, "2023-12-01", "2024-03-10" if i == 1 else None) for i in (1, 2, 3, 4)]
    return Runner(warehouse, billing(subs, items))


def test_ltv_is_arpa_over_customer_churn_and_null_without_churn(four_payers_one_churns_in_march):
    run = four_payers_one_churns_in_march
    frame = run("ltv", start="2024-02-01", end="2024-03-31", window_months=1)
    feb, march = frame.to_dict("records")
    # Feb: ARPA 400 / 4 = 100, churn 0 -> null (ChartMogul would show 0, Stripe assumes 60 months)
    assert feb["arpa"] == 100 and feb["churn_rate"] == 0 and pd.isna(feb["value"])
    # Mar: ARPA 300 / 3 = 100, churn 1 / 4 -> 100 / 0.25 = 400
    assert march == pytest.approx(
        {"period_start": march["period_start"], "arpa": 100, "churn_rate": 0.25, "value": 400}
    )


def test_ltv_pools_a_trailing_window_and_caps_lifetime_like_stripe(four_payers_one_churns_in_march):
    run = four_payers_one_churns_in_march
    frame = run("ltv", start="2024-02-01", end="2024-03-31", lifetime_cap_months=60)
    feb, march = frame.to_dict("records")
    # 3-month window Dec-Feb: churn 0 -> capped lifetime 60 months x ARPA 100
    assert feb["value"] == pytest.approx(6000)
    # Jan-Mar: ARPA (400 + 400 + 300) / (4 + 4 + 3) = 100; churn 1 / (4 + 4 + 4) -> lifetime 12 < 60
    assert march["arpa"] == pytest.approx(100) and march["churn_rate"] == pytest.approx(1 / 12)
    assert march["value"] == pytest.approx(1200)


@pytest.mark.parametrize(
    ("timezone", "mrr_on_mar_31", "new_month"),
    [("UTC", [100.0, 100.0], "2024-03-01"), ("Europe/Berlin", [0.0, 100.0], "2024-04-01")],
)
def test_days_and_months_are_cut_in_the_reporting_time_zone(
    warehouse, timezone, mrr_on_mar_31, new_month
):
    # D.7.9: 2024-03-31 23:30 UTC is 2024-04-01 01:30 in Berlin (CEST, UTC+2)
    frames = billing([sub(1, 1, "2024-03-31 23:30")], [item(1, 1, 1, "2024-03-31 23:30")])
    run = Runner(warehouse, frames)
    frame = run("mrr", start="2024-03-31", end="2024-04-01", timezone=timezone)
    assert frame["mrr"].tolist() == mrr_on_mar_31
    moves = movements(run, "2024-03-01", "2024-04-30", timezone=timezone)
    assert moves[new_month]["new"] == pytest.approx(100)
    assert sum(row["new"] for row in moves.values()) == pytest.approx(100)


def test_empty_denominators_give_null_never_zero_or_an_error(warehouse):
    # D.7.10: no subscriptions at all
    run = Runner(warehouse, billing([], []))
    period = {"start": "2024-01-01", "end": "2024-02-29"}
    assert run("mrr", **period, interval="month")["mrr"].tolist() == [0.0, 0.0]
    assert run("paying_customers", **period, interval="month")["value"].tolist() == [0, 0]
    assert run("arpa", **period, interval="month")["value"].isna().all()
    for name in (
        "customer_churn_rate",
        "gross_mrr_churn_rate",
        "net_mrr_churn_rate",
        "nrr",
        "grr",
        "quick_ratio",
    ):
        assert run(name, **period)["value"].isna().all(), name
    assert run("ltv", **period)["value"].isna().all()
    moves = run("mrr_movements", **period)
    assert len(moves) == 2 and (moves.drop(columns="period_start") == 0).all().all()


def test_rates_over_an_arbitrary_window_use_one_period(chartmogul_march):
    # The dashboard's "last N days" cards: the whole [start, end] is one period P = (Mar 8 end, Mar 31 end].
    # Paying at the end of Mar 8: A, B, C, D, E (new Mar 5), F (back Mar 8) = 6; churned in P: C -> 1/6.
    run = chartmogul_march
    rate = run.series(
        "customer_churn_rate", start="2024-03-09", end="2024-03-31", interval="period"
    )
    assert rate == {"2024-03-09": pytest.approx(1 / 6)}
    # The same window as the calendar month gives the monthly rate: C of {A, B, C, D}.
    month = run.series(
        "customer_churn_rate", start="2024-03-01", end="2024-03-31", interval="period"
    )
    assert month == {"2024-03-01": 0.25}
    # Movements over one period keep the bridge: Mar 9..31 = +10 (A) -10 (B) -10 (C); start 130.
    moves = run("mrr_movements", start="2024-03-09", end="2024-03-31", interval="period")
    row = moves.to_dict("records")[0]
    assert row["start_mrr"] == pytest.approx(130) and row["end_mrr"] == pytest.approx(120)


def test_unpaid_without_dates_churns_at_the_end_of_the_last_paid_period(warehouse):
    # Stripe's `unpaid` keeps ended_at and canceled_at empty and the item row open. Customer 1 paid
    # January and February (periods ending Feb 1 and Mar 1), then the March invoice stayed open:
    # MRR 100 until the end of Feb 29, 0 from Mar 1 -> churn in March.
    # Customer 2 went unpaid without ever paying: never any MRR.
    invoices = [
        {"id": 1, "customer_id": 1, "subscription_id": 1, "status": "paid", "period_start": "2024-01-01", "period_end": "2024-02-01", "total_minor": 10_000},
        {"id": 2, "customer_id": 1, "subscription_id": 1, "status": "paid", "period_start": "2024-02-01", "period_end": "2024-03-01", "total_minor": 10_000},
        {"id": 3, "customer_id": 1, "subscription_id": 1, "status": "open", "period_start": "2024-03-01", "period_end": "2024-04-01", "total_minor": 10_000},
        {"id": 4, "customer_id": 2, "subscription_id": 2, "status": "open", "period_start": "2024-01-01", "period_end": "2024-02-01", "total_minor": 10_000},
    ]  # fmt: skip
    frames = billing(
        [sub(1, 1, "2024-01-01", status="unpaid"), sub(2, 2, "2024-01-01", status="unpaid")],
        [item(1, 1, 1, "2024-01-01"), item(2, 2, 1, "2024-01-01")],
        invoices=invoices,
    )
    run = Runner(warehouse, frames)
    mrr = run.series("mrr", column="mrr", key="date", start="2024-02-28", end="2024-03-02")
    assert mrr == {"2024-02-28": 100, "2024-02-29": 100, "2024-03-01": 0, "2024-03-02": 0}
    moves = movements(run, "2024-02-01", "2024-03-31")
    assert moves["2024-03-01"]["churn"] == pytest.approx(-100, **APPROX)
    assert moves["2024-02-01"]["new"] == 0  # customer 1 was new in January; customer 2 never counts
