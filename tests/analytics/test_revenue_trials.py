"""Trial conversion: cohort by trial start month (default) and Stripe's rolling 30 days."""

from __future__ import annotations

import pytest

from tests.analytics._revenue_rows import Runner, billing, sub


def paid(iid: int, sid: int, customer: int, at: str, total: int = 10_000) -> dict:
    return {"id": iid, "customer_id": customer, "subscription_id": sid, "status": "paid",
            "total_minor": total, "created_at": at, "paid_at": at}  # fmt: skip


@pytest.fixture
def trials(warehouse) -> Runner:
    subs = [
        # T1 converts: first invoice paid at trial end
        sub(1, 1, "2024-01-02", trial_start="2024-01-02", trial_end="2024-01-16"),
        # T2 canceled during the trial (decided Jan 19): not converted
        sub(
            2,
            2,
            "2024-01-05",
            status="canceled",
            trial_start="2024-01-05",
            trial_end="2024-01-19",
            canceled="2024-01-10",
            ended="2024-01-19",
        ),  # fmt: skip
        # T3 ended without a payment method; only the $0 trial invoice was paid: not converted (Feb 3)
        sub(3, 3, "2024-01-20", status="paused", trial_start="2024-01-20", trial_end="2024-02-03"),
        # T4 converts on Feb 8, cancels on Feb 20: still converted
        sub(
            4,
            4,
            "2024-01-25",
            status="canceled",
            trial_start="2024-01-25",
            trial_end="2024-02-08",
            canceled="2024-02-20",
            ended="2024-03-08",
        ),  # fmt: skip
        # T5 trial still running at the end of the range: pending
        sub(
            5, 5, "2024-02-20", status="trialing", trial_start="2024-02-20", trial_end="2024-03-05"
        ),
        # T6 trial ended Feb 11, first invoice still open: pending
        sub(
            6, 6, "2024-01-28", status="past_due", trial_start="2024-01-28", trial_end="2024-02-11"
        ),
        # T7 test account: excluded
        sub(7, 7, "2024-01-03", trial_start="2024-01-03", trial_end="2024-01-17"),
    ]
    invoices = [
        paid(1, 1, 1, "2024-01-16"),
        paid(2, 3, 3, "2024-01-20", total=0),
        paid(3, 4, 4, "2024-02-08"),
        {**paid(4, 6, 6, "2024-02-11"), "status": "open", "paid_at": None},
        paid(5, 7, 7, "2024-01-17"),
    ]
    return Runner(warehouse, billing(subs, [], test_customers=(7,), invoices=invoices))


def test_trial_conversion_cohort_counts_decided_trials_and_reports_pending_apart(trials):
    frame = trials("trial_conversion", start="2024-01-01", end="2024-02-29")
    jan, feb = frame.to_dict("records")
    # January starts: T1, T4 converted; T2, T3 not; T6 pending -> 2 / (2 + 2)
    assert (jan["converted"], jan["not_converted"], jan["pending"], jan["value"]) == (2, 2, 1, 0.5)
    # February starts: only T5, still in trial -> no decided trial -> null
    assert (feb["converted"], feb["not_converted"], feb["pending"]) == (0, 0, 1)
    assert feb["value"] != feb["value"]  # NaN -> JSON null


def test_trial_conversion_rolling_counts_outcomes_decided_in_the_30_days_to_period_end(trials):
    frame = trials("trial_conversion", start="2024-01-01", end="2024-02-29", method="rolling")
    jan, feb = frame.to_dict("records")
    # Jan 2..Jan 31: T1 converted (Jan 16), T2 failed (Jan 19)
    assert (jan["converted"], jan["not_converted"], jan["pending"], jan["value"]) == (1, 1, 0, 0.5)
    # Jan 31..Feb 29: T4 converted (Feb 8), T3 failed (Feb 3), T6 ended Feb 11 undecided
    assert (feb["converted"], feb["not_converted"], feb["pending"], feb["value"]) == (1, 1, 1, 0.5)


def test_a_cohort_counts_outcomes_known_at_the_time_of_the_query_whatever_the_window(trials):
    # The January cohort viewed in a window that ends on 31 January, asked on 1 March: T3 (failed
    # Feb 3) and T4 (converted Feb 8) are decided by then, so they are not pending (METRICS.md A.4).
    narrow = trials("trial_conversion", start="2024-01-01", end="2024-01-31", as_of="2024-03-01")
    wide = trials("trial_conversion", start="2023-12-01", end="2024-02-29", as_of="2024-03-01")
    jan = narrow.to_dict("records")[0]
    assert (jan["converted"], jan["not_converted"], jan["pending"], jan["value"]) == (2, 2, 1, 0.5)
    assert wide.to_dict("records")[1] == jan  # the same row in any window that holds January
    # Asked on 31 January itself, T3 and T4 were still running: pending.
    early = trials("trial_conversion", start="2024-01-01", end="2024-01-31", as_of="2024-01-31")
    jan = early.to_dict("records")[0]
    assert (jan["converted"], jan["not_converted"], jan["pending"], jan["value"]) == (1, 1, 3, 0.5)


def test_trial_conversion_by_period_counts_the_trials_decided_in_each_month(trials):
    frame = trials("trial_conversion", start="2024-01-01", end="2024-02-10", method="period")
    jan, feb = frame.to_dict("records")
    # January: T1 converted (Jan 16), T2 failed (Jan 19).
    assert (jan["converted"], jan["not_converted"], jan["pending"], jan["value"]) == (1, 1, 0, 0.5)
    # February to date (1-10 Feb): T3 failed (Feb 3), T4 converted (Feb 8); T6 ends on the 11th.
    assert (feb["converted"], feb["not_converted"], feb["pending"], feb["value"]) == (1, 1, 0, 0.5)


def test_trial_funnel_follows_the_range_s_trials_to_the_time_of_the_query(trials):
    funnel = trials("trial_funnel", start="2024-01-01", end="2024-01-31", as_of="2024-02-10")
    # January starts: T1, T2, T3, T4, T6 (T7 is a test account). Ended by Feb 10: T1 (Jan 16),
    # T2 (Jan 19), T3 (Feb 3), T4 (Feb 8); T6 ends Feb 11. Converted: T1 and T4 (Feb 8).
    assert funnel.to_dict("list") == {
        "step": [1, 2, 3],
        "event": ["Trial started", "Trial ended", "Converted to paid"],
        "count": [5, 4, 2],
    }
    early = trials("trial_funnel", start="2024-01-01", end="2024-01-31", as_of="2024-01-31")
    assert early["count"].tolist() == [5, 2, 1]
