"""Retention per METRICS.md A.5.2 on hand-made rows: first-time vs recurring cohorts, periods, time zone.

Weeks of January 2024 start on Mondays 1, 8, 15 and 22 Jan (called wk0..wk3 below).
S = signup_completed (start event), R = app_opened (return event).
"""

from __future__ import annotations

from tests.analytics._product_rows import TEST_PERSON, accounts, column, events, run

S, R = "signup_completed", "app_opened"
WEEKLY = {
    "start_event": S,
    "return_event": R,
    "interval": "week",
    "periods": 4,
    "start": "2024-01-01",
    "end": "2024-01-28",
}

COHORT_ROWS = (
    # p1: cohort wk0; R in wk0 itself does not count; returns in wk1 and wk3.
    (1, S, "2024-01-02 10:00Z"),
    (1, R, "2024-01-03 10:00Z"),
    (1, R, "2024-01-09 10:00Z"),
    (1, R, "2024-01-23 10:00Z"),
    # p2: cohort wk0; returns in wk2.
    (2, S, "2024-01-03 10:00Z"),
    (2, R, "2024-01-16 10:00Z"),
    # p3: S in wk1 and wk2 (first time wk1); returns in wk2 and wk3.
    (3, S, "2024-01-10 10:00Z"),
    (3, S, "2024-01-17 10:00Z"),
    (3, R, "2024-01-18 10:00Z"),
    (3, R, "2024-01-24 10:00Z"),
    # p4: first-ever S in December (before the range): no first-time cohort; recurring cohort wk1; returns wk2.
    (4, S, "2023-12-20 10:00Z"),
    (4, S, "2024-01-09 10:00Z"),
    (4, R, "2024-01-16 10:00Z"),
    # test account: never counted.
    (TEST_PERSON, S, "2024-01-02 10:00Z"),
    (TEST_PERSON, R, "2024-01-09 10:00Z"),
)


def _cells(frame):
    return list(
        zip(column(frame, "cohort"), column(frame, "period"), column(frame, "count"), strict=True)
    )


def test_retention_first_time_puts_each_person_in_one_cohort(warehouse):
    url = warehouse({"events": events(*COHORT_ROWS), **accounts()})
    frame = run(url, "retention", type="first_time", **WEEKLY)
    assert _cells(frame) == [
        ("2024-01-01", 0, 2),
        ("2024-01-01", 1, 1),
        ("2024-01-01", 2, 1),
        ("2024-01-01", 3, 1),  # p1, p2
        ("2024-01-08", 0, 1),
        ("2024-01-08", 1, 1),
        ("2024-01-08", 2, 1),  # p3 only; period 3 is after `end`
        ("2024-01-15", 0, 0),
        ("2024-01-15", 1, 0),  # p3's second S is not a first time
        ("2024-01-22", 0, 0),
    ]


def test_retention_recurring_counts_a_person_in_every_cohort_they_started_in(warehouse):
    url = warehouse({"events": events(*COHORT_ROWS), **accounts()})
    frame = run(url, "retention", type="recurring", **WEEKLY)
    assert _cells(frame) == [
        ("2024-01-01", 0, 2),
        ("2024-01-01", 1, 1),
        ("2024-01-01", 2, 1),
        ("2024-01-01", 3, 1),
        ("2024-01-08", 0, 2),
        ("2024-01-08", 1, 2),
        ("2024-01-08", 2, 1),  # p3 and p4; p3 again in wk3
        ("2024-01-15", 0, 1),
        ("2024-01-15", 1, 1),  # p3 again: R in wk2 is its own cohort week, wk3 counts
        ("2024-01-22", 0, 0),
    ]


def test_retention_weeks_follow_the_reporting_timezone(warehouse):
    url = warehouse(
        {
            "events": events(
                (1, S, "2024-01-02 10:00Z"),
                (
                    1,
                    R,
                    "2024-01-07 23:30Z",
                ),  # Sunday in UTC (cohort week), Monday 00:30 in Berlin (week 1)
            )
        }
    )
    params = {
        "start_event": S,
        "return_event": R,
        "interval": "week",
        "periods": 2,
        "start": "2024-01-01",
        "end": "2024-01-14",
    }
    utc = run(url, "retention", **params)
    assert _cells(utc)[:2] == [("2024-01-01", 0, 1), ("2024-01-01", 1, 0)]
    berlin = run(url, "retention", timezone="Europe/Berlin", **params)
    assert _cells(berlin)[:2] == [("2024-01-01", 0, 1), ("2024-01-01", 1, 1)]


def test_retention_daily_and_monthly_periods(warehouse):
    url = warehouse(
        {
            "events": events(
                (1, S, "2024-01-15 10:00Z"),
                (1, R, "2024-01-16 09:00Z"),
                (1, R, "2024-02-01 10:00Z"),
                (2, S, "2024-01-16 10:00Z"),
                (2, R, "2024-01-16 11:00Z"),  # same day: not period 1
            )
        }
    )
    daily = run(
        url,
        "retention",
        start_event=S,
        return_event=R,
        interval="day",
        periods=2,
        start="2024-01-15",
        end="2024-01-16",
    )
    assert _cells(daily) == [("2024-01-15", 0, 1), ("2024-01-15", 1, 1), ("2024-01-16", 0, 1)]
    monthly = run(
        url,
        "retention",
        start_event=S,
        return_event=R,
        interval="month",
        periods=3,
        start="2024-01-01",
        end="2024-03-31",
    )
    assert _cells(monthly) == [
        ("2024-01-01", 0, 2),
        ("2024-01-01", 1, 1),
        ("2024-01-01", 2, 0),
        ("2024-02-01", 0, 0),
        ("2024-02-01", 1, 0),
        ("2024-03-01", 0, 0),
    ]


def test_retention_without_events_gives_zero_cohorts(warehouse):
    url = warehouse({"events": events()})
    frame = run(url, "retention", **WEEKLY)
    assert len(frame) == 10 and set(column(frame, "count")) == {0}
