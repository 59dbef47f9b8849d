"""Trends, DAU/MAU, stickiness, lifecycle, engagement segments and session metrics on hand-made rows.

January 2024: 1 Jan is a Monday; Europe/Berlin is UTC+1, so 23:30 UTC is 00:30 the next day there.
"""

from __future__ import annotations

import pandas as pd
import pytest

from analytics.catalog import CATALOG, MetricError, parse_params
from tests.analytics._product_rows import TEST_PERSON, accounts, column, events, run

BERLIN = "Europe/Berlin"


def _warehouse(warehouse, *rows, **tables):
    return warehouse({"events": events(*rows), **accounts(), **tables})


# --------------------------------------------------------------------------- trends

TREND_ROWS = (
    (1, "app_opened", "2024-01-01 10:00Z"),  # 1 Jan everywhere
    (1, "app_opened", "2024-01-01 23:30Z"),  # 1 Jan UTC, 2 Jan Berlin (D.7.9)
    (2, "app_opened", "2024-01-02 08:00Z"),  # 2 Jan
    (TEST_PERSON, "app_opened", "2024-01-02 09:00Z"),  # test account: never counted
    (5, "app_opened", "2024-01-03 12:00Z"),  # person without a users row: kept
    (None, "app_opened", "2024-01-03 13:00Z"),  # anonymous: an event (total) but not a person (dau)
    (1, "other_event", "2024-01-02 12:00Z"),  # another event
)


def test_trends_total_cuts_days_in_the_reporting_timezone(warehouse):
    url = _warehouse(warehouse, *TREND_ROWS)
    berlin = run(
        url,
        "trends",
        event="app_opened",
        math="total",
        start="2024-01-01",
        end="2024-01-03",
        timezone=BERLIN,
    )
    assert column(berlin, "date") == ["2024-01-01", "2024-01-02", "2024-01-03"]
    assert column(berlin, "value") == [1.0, 2.0, 2.0]  # the 23:30 UTC event moved to 2 Jan
    utc = run(url, "trends", event="app_opened", math="total", start="2024-01-01", end="2024-01-03")
    assert column(utc, "value") == [2.0, 1.0, 2.0]


def test_trends_dau_counts_distinct_persons_and_drops_test_accounts(warehouse):
    url = _warehouse(warehouse, *TREND_ROWS)
    dau = run(
        url,
        "trends",
        event="app_opened",
        math="dau",
        start="2024-01-01",
        end="2024-01-04",
        timezone=BERLIN,
    )
    # 1 Jan: p1. 2 Jan: p1 (23:30 UTC) and p2; p9 is a test account. 3 Jan: p5 only. 4 Jan: nobody -> 0.
    assert column(dau, "value") == [1.0, 2.0, 1.0, 0.0]


def test_trends_dau_by_week_is_unique_persons_per_calendar_week(warehouse):
    url = _warehouse(
        warehouse,
        (1, "app_opened", "2024-01-01 10:00Z"),
        (1, "app_opened", "2024-01-03 10:00Z"),  # same person, same week: once
        (2, "app_opened", "2024-01-07 22:00Z"),  # Sunday 23:00 Berlin: week of 1 Jan
        (2, "app_opened", "2024-01-07 23:30Z"),  # Monday 00:30 Berlin: week of 8 Jan
    )
    weekly = run(
        url,
        "trends",
        event="app_opened",
        math="dau",
        interval="week",
        start="2024-01-01",
        end="2024-01-14",
        timezone=BERLIN,
    )
    assert column(weekly, "date") == ["2024-01-01", "2024-01-08"]
    assert column(weekly, "value") == [2.0, 1.0]


def test_trends_weekly_active_is_a_rolling_seven_day_window_with_lookback(warehouse):
    url = _warehouse(
        warehouse,
        (1, "app_opened", "2024-01-01 12:00Z"),  # before start, still counts on 1..7 Jan
        (2, "app_opened", "2024-01-05 12:00Z"),  # counts 5..11 Jan
        (2, "app_opened", "2024-01-09 12:00Z"),  # extends p2 to 15 Jan
        (3, "app_opened", "2024-01-14 12:00Z"),  # counts 14..20 Jan
    )
    wau = run(
        url,
        "trends",
        event="app_opened",
        math="weekly_active",
        start="2024-01-07",
        end="2024-01-16",
    )
    # 7 Jan: p1 (last day of 1..7) + p2; 8 Jan: p1 gone; 14-15 Jan: p2 + p3; 16 Jan: p2 gone (9 + 6 = 15).
    assert column(wau, "value") == [2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 1.0]


def test_trends_monthly_active_counts_days_d_minus_29_to_d(warehouse):
    url = _warehouse(
        warehouse,
        (1, "app_opened", "2024-01-01 12:00Z"),  # counts 1..30 Jan
        (3, "app_opened", "2024-01-14 12:00Z"),  # counts 14 Jan..12 Feb
        (TEST_PERSON, "app_opened", "2024-01-20 12:00Z"),  # test account
    )
    mau = run(
        url,
        "trends",
        event="app_opened",
        math="monthly_active",
        start="2024-01-29",
        end="2024-01-31",
    )
    assert column(mau, "value") == [2.0, 2.0, 1.0]


def test_trends_sum_adds_numeric_property_values_and_ignores_the_rest(warehouse):
    url = _warehouse(
        warehouse,
        (1, "ticket_purchased", "2024-01-01 10:00Z", {"price_minor": "100"}),  # text number
        (2, "ticket_purchased", "2024-01-01 11:00Z", {"price_minor": 250}),  # JSON number
        (2, "ticket_purchased", "2024-01-01 12:00Z", {}),  # missing: ignored
        (
            3,
            "ticket_purchased",
            "2024-01-02 10:00Z",
            {"price_minor": "abc"},
        ),  # not numeric: ignored
    )
    total = run(
        url,
        "trends",
        event="ticket_purchased",
        math="sum",
        math_property="price_minor",
        start="2024-01-01",
        end="2024-01-03",
    )
    assert column(total, "value") == [350.0, 0.0, 0.0]  # empty buckets are 0, as in PostHog


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"math": "weekly_active", "interval": "week"}, "interval=day"),
        ({"math": "sum"}, "math_property"),
        ({"math": "median"}, "math"),
        ({"start": "2024-01-05", "end": "2024-01-01"}, "before start"),
    ],
)
def test_trends_rejects_inconsistent_parameters_with_one_line_message(raw, message):
    base = {"event": "app_opened", "start": "2024-01-01", "end": "2024-01-07"}
    with pytest.raises(MetricError, match=message):
        parse_params(CATALOG["trends"], {**base, **raw})


# --------------------------------------------------------------------------- DAU / MAU

DAU_MAU_ROWS = (
    (1, "app_opened", "2024-01-01 12:00Z"),
    (1, "$pageview", "2024-01-10 12:00Z"),  # any event is activity when no event is given
    (2, "app_opened", "2024-01-10 13:00Z"),
)


def test_dau_mau_ratio_per_day_over_rolling_thirty_days(warehouse):
    url = _warehouse(warehouse, *DAU_MAU_ROWS)
    frame = run(url, "dau_mau", start="2024-01-09", end="2024-01-11")
    assert column(frame, "dau") == [0, 2, 0]
    assert column(frame, "mau") == [1, 2, 2]  # 9 Jan: p1 from 1 Jan is inside 11 Dec..9 Jan
    assert column(frame, "ratio") == [0.0, 1.0, 0.0]


def test_dau_mau_with_named_event_ignores_other_events(warehouse):
    url = _warehouse(warehouse, *DAU_MAU_ROWS)
    frame = run(url, "dau_mau", event="app_opened", start="2024-01-10", end="2024-01-10")
    assert column(frame, "dau") == [1]  # p1 only viewed a page on 10 Jan
    assert column(frame, "mau") == [2]
    assert column(frame, "ratio") == [0.5]


def test_dau_mau_summary_is_mean_of_daily_ratios(warehouse):
    url = _warehouse(warehouse, *DAU_MAU_ROWS)
    summary = run(url, "dau_mau_summary", start="2024-01-09", end="2024-01-11")
    assert summary["ratio"][0] == pytest.approx(
        1 / 3
    )  # (0 + 1 + 0) / 3, not mean DAU / MAU(end) = 1/3 by chance
    assert summary["avg_dau"][0] == pytest.approx(2 / 3)
    assert summary["avg_mau"][0] == pytest.approx(5 / 3)


def test_dau_mau_without_activity_gives_none_ratios(warehouse):
    url = _warehouse(
        warehouse, (TEST_PERSON, "app_opened", "2024-01-10 12:00Z")
    )  # only a test account
    frame = run(url, "dau_mau", start="2024-01-10", end="2024-01-11")
    assert column(frame, "mau") == [0, 0]
    assert column(frame, "ratio") == [None, None]  # D.7.10: never 0 or an error
    assert column(run(url, "dau_mau_summary", start="2024-01-10", end="2024-01-11"), "ratio") == [
        None
    ]


# --------------------------------------------------------------------------- stickiness


def test_stickiness_counts_persons_by_exact_number_of_active_days(warehouse):
    url = _warehouse(
        warehouse,
        (1, "app_opened", "2024-01-01 08:00Z"),
        (1, "app_opened", "2024-01-01 09:00Z"),  # two events, one day
        (1, "app_opened", "2024-01-02 09:00Z"),
        (1, "app_opened", "2024-01-03 09:00Z"),  # p1: 3 days
        (2, "app_opened", "2024-01-02 09:00Z"),  # p2: 1 day
        (3, "app_opened", "2024-01-01 09:00Z"),
        (3, "app_opened", "2024-01-03 09:00Z"),  # p3: 2 days
        (4, "app_opened", "2024-01-02 09:00Z"),
        (4, "app_opened", "2024-01-02 23:30Z"),  # p4: 2 days in Berlin, 1 in UTC
        (TEST_PERSON, "app_opened", "2024-01-01 09:00Z"),  # excluded
        (5, "app_opened", "2024-01-04 09:00Z"),  # outside the period
        (5, "other_event", "2024-01-02 09:00Z"),  # another event
    )
    frame = run(
        url, "stickiness", event="app_opened", start="2024-01-01", end="2024-01-03", timezone=BERLIN
    )
    assert column(frame, "days") == [1, 2, 3]
    assert column(frame, "persons") == [1, 2, 1]  # exactly x days, not "at least"
    utc = run(url, "stickiness", event="app_opened", start="2024-01-01", end="2024-01-03")
    assert column(utc, "persons") == [2, 1, 1]


# --------------------------------------------------------------------------- lifecycle


def _persons(created: dict[int, str]) -> pd.DataFrame:
    return pd.DataFrame({"id": list(created), "created_at": list(created.values())})


def test_lifecycle_daily_statuses_and_new_uses_person_created_at(warehouse):
    url = _warehouse(
        warehouse,
        # p1 created 1 Jan: active 1 (new, before range), 2 (returning), 4 (resurrecting) -> dormant 3 and 5.
        (1, "app_opened", "2024-01-01 12:00Z"),
        (1, "app_opened", "2024-01-02 12:00Z"),
        (1, "app_opened", "2024-01-04 12:00Z"),
        # p2 created 3 Jan, active 3 Jan -> new; dormant 4 Jan.
        (2, "app_opened", "2024-01-03 12:00Z"),
        # p3 created in December, first seen 3 Jan -> resurrecting; dormant 4 Jan.
        (3, "app_opened", "2024-01-03 12:00Z"),
        # p4 created 1 Jan, first event 2 Jan: not new (D.7.12) -> resurrecting; 3 Jan returning; dormant 4 Jan.
        (4, "app_opened", "2024-01-02 12:00Z"),
        (4, "app_opened", "2024-01-03 12:00Z"),
        (TEST_PERSON, "app_opened", "2024-01-02 12:00Z"),  # excluded
        persons=_persons(
            {
                1: "2024-01-01 10:00Z",
                2: "2024-01-03 09:00Z",
                3: "2023-12-01 00:00Z",
                4: "2024-01-01 09:00Z",
                TEST_PERSON: "2024-01-02 00:00Z",
            }
        ),
    )
    frame = run(url, "lifecycle", event="app_opened", start="2024-01-02", end="2024-01-05")
    assert column(frame, "date") == ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
    assert column(frame, "new") == [0, 1, 0, 0]
    assert column(frame, "returning") == [1, 1, 0, 0]
    assert column(frame, "resurrecting") == [1, 1, 1, 0]
    assert column(frame, "dormant") == [0, -1, -3, -1]  # negative, as PostHog draws it


def test_lifecycle_weekly_buckets_start_on_monday(warehouse):
    url = _warehouse(
        warehouse,
        (1, "app_opened", "2024-01-03 12:00Z"),  # week of 1 Jan (read as the interval before start)
        (1, "app_opened", "2024-01-10 12:00Z"),  # week of 8 Jan: returning; week of 15 Jan: dormant
        (2, "app_opened", "2024-01-09 12:00Z"),  # created 9 Jan: new in week of 8 Jan
        (2, "app_opened", "2024-01-16 12:00Z"),  # returning in week of 15 Jan
        (3, "app_opened", "2024-01-16 12:00Z"),  # created in December: resurrecting
        persons=_persons({1: "2024-01-02 00:00Z", 2: "2024-01-09 10:00Z", 3: "2023-12-05 00:00Z"}),
    )
    frame = run(
        url, "lifecycle", event="app_opened", interval="week", start="2024-01-08", end="2024-01-21"
    )
    assert column(frame, "date") == ["2024-01-08", "2024-01-15"]
    assert column(frame, "new") == [1, 0]
    assert column(frame, "returning") == [1, 1]
    assert column(frame, "resurrecting") == [0, 1]
    assert column(frame, "dormant") == [0, -1]


def test_lifecycle_new_day_follows_the_reporting_timezone(warehouse):
    # Created 23:00 UTC 1 Jan = 00:00 2 Jan Berlin; first event 23:30 UTC 1 Jan = 2 Jan Berlin.
    url = _warehouse(
        warehouse,
        (1, "app_opened", "2024-01-01 23:30Z"),
        persons=_persons({1: "2024-01-01 23:00Z"}),
    )
    berlin = run(
        url, "lifecycle", event="app_opened", start="2024-01-02", end="2024-01-02", timezone=BERLIN
    )
    assert column(berlin, "new") == [1]
    utc = run(url, "lifecycle", event="app_opened", start="2024-01-01", end="2024-01-02")
    assert column(utc, "new") == [1, 0]
    assert column(utc, "dormant") == [0, -1]


# --------------------------------------------------------------------------- engagement segments


def test_engagement_segments_by_active_days_in_last_thirty_days(warehouse):
    rows = []
    rows += [(1, "app_opened", f"2024-01-{d:02d} 12:00Z") for d in range(1, 16)]  # 15 days: High
    rows += [(2, "app_opened", f"2024-01-{d:02d} 12:00Z") for d in range(1, 15)]  # 14 days: Medium
    rows += [(3, "app_opened", f"2024-01-{d:02d} 12:00Z") for d in range(10, 15)]  # 5 days: Medium
    rows += [(4, "app_opened", f"2024-01-{d:02d} 12:00Z") for d in range(20, 24)]  # 4 days: Low
    rows += [
        (5, "app_opened", f"2024-01-30 {h:02d}:00Z") for h in (8, 9, 10)
    ]  # 1 day, 3 events: Low
    rows += [(8, "app_opened", "2023-12-20 12:00Z")]  # active only before the window: Inactive
    rows += [
        (TEST_PERSON, "app_opened", f"2024-01-{d:02d} 12:00Z") for d in range(1, 21)
    ]  # test account
    persons = _persons(
        {
            1: "2023-12-01 00:00Z",
            2: "2023-12-01 00:00Z",
            3: "2023-12-01 00:00Z",
            4: "2023-12-01 00:00Z",
            5: "2024-01-29 00:00Z",  # created inside the window but active: counted by activity
            6: "2023-12-01 00:00Z",  # known before the window, never active: Inactive
            7: "2024-01-10 00:00Z",  # created inside the window, inactive: not part of the population
            8: "2023-12-01 00:00Z",
            TEST_PERSON: "2023-12-01 00:00Z",
        }
    )
    url = _warehouse(warehouse, *rows, persons=persons)
    frame = run(url, "engagement_segments", end="2024-01-30")
    assert column(frame, "segment") == ["High", "Medium", "Low", "Inactive"]
    assert column(frame, "users") == [1, 2, 2, 2]  # population 7: p1..p6 and p8
    assert frame["share"].tolist() == pytest.approx([1 / 7, 2 / 7, 2 / 7, 2 / 7])
    assert frame["avg_active_days"].tolist() == pytest.approx(
        [15.0, 9.5, 2.5, 0.0]
    )  # (14+5)/2, (4+1)/2
    assert frame["avg_events"].tolist() == pytest.approx([15.0, 9.5, 3.5, 0.0])  # (4+3)/2


def test_engagement_segments_cut_local_days_across_a_dst_change_and_drop_test_persons(warehouse):
    # Window 12 Mar - 10 Apr 2024 in Berlin: CET (UTC+1) until 31 Mar 01:00 UTC, then CEST (UTC+2).
    rows = [
        (1, "app_opened", "2024-03-11 22:30Z"),  # 11 Mar 23:30 Berlin: before the window
        (1, "app_opened", "2024-03-11 23:30Z"),  # 12 Mar 00:30: the window's first day
        (1, "app_opened", "2024-04-10 21:30Z"),  # 10 Apr 23:30 CEST: its last day
        (1, "app_opened", "2024-04-10 22:30Z"),  # 11 Apr 00:30 CEST: after the window
    ]
    rows += [(2, "app_opened", f"2024-03-{d:02d} 12:00Z") for d in range(12, 26)]  # 14 days
    rows += [
        (2, "app_opened", "2024-03-31 00:30Z"),  # 01:30 CET
        (2, "app_opened", "2024-03-31 01:30Z"),  # 03:30 CEST: the same local day
        (2, "other_event", "2024-04-08 12:00Z"),  # a 16th day, for "any event" only
        (3, "app_opened", "2024-03-30 22:30Z"),  # 30 Mar
        (3, "app_opened", "2024-03-30 23:30Z"),  # 31 Mar
        (3, "app_opened", "2024-04-01 21:30Z"),  # 1 Apr
        (3, "app_opened", "2024-04-01 22:30Z"),  # 2 Apr
        (3, "app_opened", "2024-04-05 12:00Z"),  # 5 Apr: five local days, three UTC days
        (None, "app_opened", "2024-04-05 12:00Z"),  # anonymous: not a person
    ]
    rows += [(TEST_PERSON, "app_opened", f"2024-03-{d:02d} 12:00Z") for d in range(12, 30)]
    persons = _persons(
        {
            1: "2024-03-01 00:00Z",
            2: "2024-03-01 00:00Z",
            3: "2024-03-01 00:00Z",
            4: "2024-03-11 22:30Z",  # 11 Mar 23:30 Berlin, never active: Inactive
            5: "2024-03-11 23:30Z",  # 12 Mar 00:30 Berlin (inside the window, out), 11 Mar UTC
            TEST_PERSON: "2024-03-01 00:00Z",  # active test account
            10: "2024-03-01 00:00Z",  # inactive test account
        }
    )
    users = pd.DataFrame({"id": [1, 2, 3, 4, TEST_PERSON, 10], "customer_id": [1, 1, 1, 1, 2, 2]})
    url = _warehouse(warehouse, *rows, persons=persons, users=users)

    berlin = run(url, "engagement_segments", end="2024-04-10", timezone=BERLIN)
    assert column(berlin, "users") == [1, 1, 1, 1]  # p2 High, p3 Medium, p1 Low, p4 Inactive
    assert column(berlin, "avg_active_days") == [16.0, 5.0, 2.0, 0.0]
    assert column(berlin, "avg_events") == [17.0, 5.0, 2.0, 0.0]
    opened = run(url, "engagement_segments", end="2024-04-10", timezone=BERLIN, event="app_opened")
    assert column(opened, "avg_active_days") == [15.0, 5.0, 2.0, 0.0]
    assert column(opened, "avg_events") == [16.0, 5.0, 2.0, 0.0]

    utc = run(url, "engagement_segments", end="2024-04-10")
    assert column(utc, "users") == [1, 0, 2, 2]  # p3 has 3 UTC days: Low; p5 known before: Inactive
    assert column(utc, "avg_active_days") == [16.0, None, 2.0, 0.0]  # p1 1 day, p3 3 days
    assert column(utc, "avg_events") == [17.0, None, 3.5, 0.0]  # p1 2 events, p3 5


def test_engagement_segments_empty_warehouse_gives_none_shares(warehouse):
    url = _warehouse(warehouse)
    frame = run(url, "engagement_segments", end="2024-01-30")
    assert column(frame, "users") == [0, 0, 0, 0]
    assert column(frame, "share") == [None, None, None, None]
    assert column(frame, "avg_active_days") == [None, None, None, None]


# --------------------------------------------------------------------------- sessions


def test_session_metrics_per_local_start_day_with_none_on_empty_days(warehouse):
    sessions = pd.DataFrame(
        {
            "session_id": ["s1", "s2", "s3", "s4"],
            "person_id": [1, 2, 3, TEST_PERSON],
            "start_ts": [
                "2024-01-01 10:00Z",
                "2024-01-01 23:30Z",
                "2024-01-02 09:00Z",
                "2024-01-02 10:00Z",
            ],
            "duration_s": [60, 0, 120, 999],
            "pageview_count": [3, 1, 5, 50],
            "is_bounce": [False, True, False, False],
        }
    )
    url = _warehouse(warehouse, sessions=sessions)
    frame = run(url, "session_metrics", start="2024-01-01", end="2024-01-03", timezone=BERLIN)
    # 1 Jan: s1. 2 Jan: s2 (00:30 Berlin) and s3; s4 is a test account. 3 Jan: none.
    assert column(frame, "sessions") == [1, 2, 0]
    assert column(frame, "avg_duration_s") == [60.0, 60.0, None]
    assert column(frame, "bounce_rate") == [0.0, 0.5, None]
    assert column(frame, "pageviews_per_session") == [3.0, 3.0, None]


def test_session_metrics_keep_anonymous_sessions_and_average_over_known_values(warehouse):
    sessions = pd.DataFrame(
        {
            "session_id": ["s1", "s2", "s3", "s4"],
            "person_id": pd.array([None, 1, TEST_PERSON, 2], dtype="Int64"),
            "start_ts": [
                "2024-01-01 10:00Z",
                "2024-01-01 11:00Z",
                "2024-01-01 12:00Z",
                "2024-01-02 10:00Z",
            ],
            "duration_s": pd.array([30, None, 999, None], dtype="Int64"),
            "pageview_count": pd.array([2, 1, 50, None], dtype="Int64"),
            "is_bounce": pd.array([False, None, True, None], dtype="boolean"),
        }
    )
    url = _warehouse(warehouse, sessions=sessions)
    frame = run(url, "session_metrics", start="2024-01-01", end="2024-01-02")
    # 1 Jan: s1 (anonymous: kept) and s2 (no duration, no bounce flag); s3 is a test account.
    assert column(frame, "sessions") == [2, 1]
    assert column(frame, "avg_duration_s") == [30.0, None]
    assert column(frame, "bounce_rate") == [0.0, None]
    assert column(frame, "pageviews_per_session") == [1.5, None]
