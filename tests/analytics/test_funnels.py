"""Funnels per METRICS.md A.5.1 on hand-made rows: order modes, window, date range, ties, breakdown, timing.

Steps are A = signup_started, B = signup_completed, C = event_registered (D = ticket_purchased
in 4-step funnels); X = app_opened is noise.
"""

from __future__ import annotations

import pandas as pd
import pytest

from analytics import funnels
from analytics.catalog import CATALOG, MetricError, parse_params
from tests.analytics._product_rows import TEST_PERSON, accounts, column, events, run

A, B, C, D, X = (
    "signup_started",
    "signup_completed",
    "event_registered",
    "ticket_purchased",
    "app_opened",
)
STEPS = f"{A},{B},{C}"
JANUARY = {"start": "2024-01-01", "end": "2024-01-31"}


@pytest.fixture(autouse=True, params=["joins", "windows"])
def funnel_form(request, monkeypatch):
    """Every test runs both forms of ordered and strict funnels on each engine: joins for persons
    with one step-1 event (DuckDB's form) and window layers for everyone (PostgreSQL's)."""
    dialects = {"duckdb", "postgresql"} if request.param == "joins" else set()
    monkeypatch.setattr(funnels, "_JOIN_FORM", frozenset(dialects))
    return request.param


def _warehouse(warehouse, *rows):
    return warehouse({"events": events(*rows), **accounts()})


def test_funnel_ordered_counts_persons_at_their_furthest_step_cumulatively(warehouse):
    url = _warehouse(
        warehouse,
        (1, A, "2024-01-01 10:00Z"),
        (1, B, "2024-01-02 10:00Z"),
        (1, C, "2024-01-03 10:00Z"),  # 3
        (2, A, "2024-01-01 10:00Z"),
        (2, B, "2024-01-05 10:00Z"),  # 2
        (3, A, "2024-01-01 10:00Z"),  # 1
        (4, B, "2024-01-01 10:00Z"),
        (4, C, "2024-01-02 10:00Z"),  # never did step 1: not in the funnel
        (5, C, "2024-01-01 10:00Z"),
        (5, B, "2024-01-02 10:00Z"),
        (5, A, "2024-01-03 10:00Z"),  # reversed: 1
    )
    frame = run(url, "funnel", steps=STEPS, **JANUARY)
    assert column(frame, "step") == [1, 2, 3]
    assert column(frame, "event") == [A, B, C]
    assert column(frame, "count") == [4, 2, 1]


def test_funnel_window_is_inclusive_and_measured_from_the_step_one_event(warehouse):
    url = _warehouse(
        warehouse,
        (1, A, "2024-01-01 00:00:00Z"),
        (1, B, "2024-01-15 00:00:00Z"),  # exactly 14 days: converts
        (2, A, "2024-01-01 00:00:00Z"),
        (2, B, "2024-01-15 00:00:01Z"),  # 14 days + 1 s: does not
        # B after 7 days, C 7 days + 1 s after B: the window runs from A, so C is out -> step 2.
        (3, A, "2024-01-01 00:00:00Z"),
        (3, B, "2024-01-08 00:00:00Z"),
        (3, C, "2024-01-15 00:00:01Z"),
        # The first attempt times out, the second (A on 10 Jan) converts 10 days later.
        (4, A, "2024-01-01 00:00:00Z"),
        (4, A, "2024-01-10 00:00:00Z"),
        (4, B, "2024-01-20 00:00:00Z"),
    )
    assert column(run(url, "funnel", steps=STEPS, **JANUARY), "count") == [4, 3, 0]
    # 7-day window: only p3's B (exactly 7 days after A) is still inside.
    assert column(run(url, "funnel", steps=STEPS, window_days=7, **JANUARY), "count") == [4, 1, 0]


def test_funnel_conversion_after_end_of_range_is_not_counted(warehouse):
    url = _warehouse(
        warehouse,
        (1, A, "2024-01-31 12:00Z"),
        (1, B, "2024-02-01 01:00Z"),  # B after `end`: step 1 only
        (2, A, "2023-12-31 23:00Z"),
        (2, B, "2024-01-01 01:00Z"),  # A before `start`: not in the funnel
        (3, A, "2024-01-31 23:30Z"),  # 31 Jan in UTC, 00:30 1 Feb in Berlin
    )
    assert column(run(url, "funnel", steps=STEPS, **JANUARY), "count") == [2, 0, 0]
    berlin = run(url, "funnel", steps=STEPS, timezone="Europe/Berlin", **JANUARY)
    # Berlin: p2's A (00:00 1 Jan) and B are inside, p1's A too, p3's A is on 1 Feb.
    assert column(berlin, "count") == [2, 1, 0]


def test_funnel_steps_with_identical_timestamps_are_taken_in_step_order(warehouse):
    url = _warehouse(
        warehouse,
        (1, A, "2024-01-01 10:00:00Z"),
        (1, B, "2024-01-01 10:00:00Z"),  # same instant: converts
        (2, C, "2024-01-01 10:00:00Z"),
        (2, B, "2024-01-01 10:00:00Z"),
        (2, A, "2024-01-01 10:00:00Z"),  # all 3
    )
    assert column(run(url, "funnel", steps=STEPS, **JANUARY), "count") == [2, 2, 1]


def test_funnel_repeated_step_event_needs_a_second_event(warehouse):
    url = _warehouse(
        warehouse,
        (1, A, "2024-01-01 10:00Z"),  # one A: step 1 of "A then A"
        (2, A, "2024-01-01 10:00Z"),
        (2, A, "2024-01-02 10:00Z"),  # two A: step 2
        (3, A, "2024-01-01 10:00Z"),
        (3, A, "2024-01-01 10:00Z"),  # two A at the same instant: step 2
    )
    assert column(run(url, "funnel", steps=f"{A},{A}", **JANUARY), "count") == [3, 2]


# Five persons, each line within one day; X is any other event.
ORDER_ROWS = (
    (1, A, "2024-01-01 10:00Z"),
    (1, X, "2024-01-01 11:00Z"),
    (1, B, "2024-01-01 12:00Z"),
    (1, C, "2024-01-01 13:00Z"),
    (2, A, "2024-01-01 10:00Z"),
    (2, B, "2024-01-01 11:00Z"),
    (2, B, "2024-01-01 12:00Z"),
    (2, C, "2024-01-01 13:00Z"),
    (3, B, "2024-01-01 10:00Z"),
    (3, C, "2024-01-01 11:00Z"),
    (3, A, "2024-01-01 12:00Z"),
    (4, C, "2024-01-01 10:00Z"),
    (4, A, "2024-01-01 11:00Z"),
    (5, A, "2024-01-01 10:00Z"),
    (5, B, "2024-01-01 11:00Z"),
    (5, X, "2024-01-01 12:00Z"),
    (5, C, "2024-01-01 13:00Z"),
)


@pytest.mark.parametrize(
    ("mode", "counts"),
    [
        # ordered: p1, p2, p5 reach C (X in between is fine); p3 and p4 did A last.
        ("ordered", [5, 3, 3]),
        # strict: X breaks p1 after A and p5 after B; p2's repeated B keeps its chain (PostHog steps.rs).
        ("strict", [5, 2, 1]),
        # unordered: any order within the window: p3 did all three, p4 two of them.
        ("unordered", [5, 5, 4]),
    ],
)
def test_funnel_order_modes_differ_as_posthog_defines_them(warehouse, mode, counts):
    url = _warehouse(warehouse, *ORDER_ROWS)
    frame = run(url, "funnel", steps=STEPS, mode=mode, **JANUARY)
    assert column(frame, "count") == counts
    if mode == "unordered":
        assert column(frame, "event") == [
            "Completed 1 step",
            "Completed 2 steps",
            "Completed 3 steps",
        ]


def test_funnel_unordered_window_counts_steps_within_window_of_first_event(warehouse):
    url = _warehouse(
        warehouse,
        (1, C, "2024-01-01 00:00Z"),
        (1, A, "2024-01-10 00:00Z"),
        (1, B, "2024-01-20 00:00Z"),  # C..B 19 days
        (2, B, "2024-01-01 00:00Z"),
        (2, A, "2024-01-01 00:00Z"),  # same instant: both count
    )
    # p1: C+A within 14 days, A+B within 14 days, never all three -> 2. p2 -> 2.
    assert column(run(url, "funnel", steps=STEPS, mode="unordered", **JANUARY), "count") == [
        2,
        2,
        0,
    ]


def test_funnel_excludes_test_accounts_but_keeps_persons_without_a_user(warehouse):
    url = _warehouse(
        warehouse,
        (TEST_PERSON, A, "2024-01-01 10:00Z"),
        (TEST_PERSON, B, "2024-01-01 11:00Z"),
        (6, A, "2024-01-01 10:00Z"),  # no users row: kept
    )
    assert column(run(url, "funnel", steps=STEPS, **JANUARY), "count") == [1, 0, 0]


def test_funnel_without_events_counts_zero(warehouse):
    url = _warehouse(warehouse)
    for mode in ("ordered", "strict", "unordered"):
        assert column(run(url, "funnel", steps=STEPS, mode=mode, **JANUARY), "count") == [0, 0, 0]


def test_funnel_steps_accept_a_comma_string_or_a_list():
    spec = CATALOG["funnel"]
    as_text = parse_params(spec, {"steps": f"{A}, {B}", **JANUARY})
    as_list = parse_params(spec, {"steps": [A, B], **JANUARY})
    assert as_text.steps == as_list.steps == [A, B]
    assert as_text.window_days == 14 and as_text.mode == "ordered"
    with pytest.raises(MetricError, match="steps"):
        parse_params(spec, {"steps": f"{A},,{B}", **JANUARY})
    with pytest.raises(MetricError, match="unordered"):
        parse_params(spec, {"steps": f"{A},{A}", "mode": "unordered", **JANUARY})


def test_funnel_breakdown_uses_first_non_null_value_per_person(warehouse):
    url = _warehouse(
        warehouse,
        (1, A, "2024-01-01 10:00Z", {"utm_source": "google"}),
        (1, B, "2024-01-02 10:00Z", {"utm_source": "facebook"}),
        (2, A, "2024-01-01 10:00Z"),
        (2, B, "2024-01-02 10:00Z", {"utm_source": "facebook"}),
        (2, C, "2024-01-03 10:00Z"),
        (3, A, "2024-01-01 10:00Z", {"utm_source": "google"}),
        (4, A, "2024-01-01 10:00Z"),
        (5, X, "2024-01-01 09:00Z", {"utm_source": "newsletter"}),
        (5, A, "2024-01-01 10:00Z"),  # X is no funnel event
    )
    frame = run(url, "funnel_breakdown", steps=STEPS, breakdown="utm_source", **JANUARY)
    # google: p1 (step 2), p3 (step 1). facebook: p2 (step 3). None: p4, p5 (step 1).
    assert column(frame, "breakdown") == ["google"] * 3 + [None] * 3 + ["facebook"] * 3
    assert column(frame, "step") == [1, 2, 3] * 3
    assert column(frame, "count") == [2, 1, 0, 2, 0, 0, 1, 1, 1]


def test_funnel_time_to_convert_averages_gaps_of_the_counted_attempt_without_zero_gaps(warehouse):
    url = _warehouse(
        warehouse,
        (1, A, "2024-01-01 10:00:00Z"),
        (1, B, "2024-01-01 10:01:40Z"),
        (1, C, "2024-01-01 10:06:40Z"),  # 100, 300
        (2, A, "2024-01-01 10:00:00Z"),
        (2, B, "2024-01-01 10:05:00Z"),  # 300
        (3, A, "2024-01-01 10:00:00Z"),
        (3, B, "2024-01-01 10:00:00Z"),
        (3, C, "2024-01-01 10:01:00Z"),  # 0 (left out), 60
        (4, A, "2024-01-01 10:00:00Z"),  # no gap
        (5, A, "2024-01-01 10:00:00Z"),
        (5, B, "2024-01-01 10:16:40Z"),  # 1000
        # B continues the latest attempt (A at 10:00:50): gap 20, not 70.
        (6, A, "2024-01-01 10:00:00Z"),
        (6, A, "2024-01-01 10:00:50Z"),
        (6, B, "2024-01-01 10:01:10Z"),
    )
    frame = run(url, "funnel_time_to_convert", steps=STEPS, **JANUARY)
    assert column(frame, "count") == [6, 5, 2]
    assert column(frame, "avg_seconds")[0] is None
    # step 2 gaps: 100, 300, 1000, 20 -> mean 355, median (100 + 300) / 2; step 3: 300, 60.
    assert column(frame, "avg_seconds")[1:] == pytest.approx([355.0, 180.0])
    assert column(frame, "median_seconds")[1:] == pytest.approx([200.0, 180.0])


def test_funnel_time_to_convert_without_conversions_gives_none(warehouse):
    url = _warehouse(warehouse, (1, A, "2024-01-01 10:00Z"))
    frame = run(url, "funnel_time_to_convert", steps=STEPS, mode="strict", **JANUARY)
    assert column(frame, "count") == [1, 0, 0]
    assert column(frame, "avg_seconds") == [None, None, None]
    assert column(frame, "median_seconds") == [None, None, None]


def _replay(rows, steps, mode, window):
    """Per-person replay of PostHog's funnel UDF (steps.rs; unordered_steps.rs) for distinct timestamps."""
    furthest = {}
    for pid in {r[0] for r in rows}:
        mine = sorted(
            (r[2], r[1]) for r in rows if r[0] == pid and (mode == "strict" or r[1] in steps)
        )
        if mode == "unordered":
            best = (
                max(len({e for t2, e in mine if t <= t2 <= t + window}) for t, _ in mine)
                if mine
                else 0
            )
        else:
            slots, best = [None] * (len(steps) + 1), 0
            for t, name in mine:
                matched = [k for k in range(1, len(steps) + 1) if steps[k - 1] == name]
                slots[0] = t
                for k in reversed(matched):
                    if (
                        slots[k - 1] is not None
                        and t - slots[k - 1] <= window
                        and slots[k] != slots[k - 1]
                    ):
                        slots[k], best = slots[k - 1], max(best, k)
                if mode == "strict":
                    slots = [slots[0]] + [
                        slots[i] if i in matched else None for i in range(1, len(steps) + 1)
                    ]
        furthest[pid] = best
    return [sum(1 for b in furthest.values() if b >= k) for k in range(1, len(steps) + 1)]


@pytest.mark.parametrize("mode", ["ordered", "strict", "unordered"])
def test_funnel_matches_a_replay_of_posthogs_udf_on_random_rows(warehouse, mode):
    import random

    rng = random.Random(7)
    minutes = rng.sample(range(60 * 24 * 10), 400)  # distinct instants over 10 days
    start = pd.Timestamp("2024-01-01", tz="UTC")
    rows = [
        (rng.randint(10, 39), rng.choice([A, B, C, X]), start + pd.Timedelta(minutes=m))
        for m in minutes
    ]
    url = _warehouse(warehouse, *rows)
    got = column(run(url, "funnel", steps=STEPS, mode=mode, window_days=2, **JANUARY), "count")
    assert got == _replay(rows, [A, B, C], mode, pd.Timedelta(days=2))


@pytest.mark.parametrize("mode", ["ordered", "strict"])
def test_funnel_matches_a_replay_for_persons_with_one_step_one_event(warehouse, mode):
    # One A per person (the join form, not the window layers), then B, C, D and other events in
    # any order around it: steps out of order, repeated, late, other events in between.
    import random

    rng = random.Random(11)
    rows = []
    for pid in range(10, 90):
        start = pd.Timestamp("2024-01-02", tz="UTC") + pd.Timedelta(hours=rng.randint(0, 24 * 20))
        hours = rng.sample([*range(-12, 0), *range(1, 80)], rng.randint(0, 8))  # distinct instants
        rows.append((pid, A, start))
        rows += [
            (pid, rng.choice([B, B, C, C, D, X]), start + pd.Timedelta(hours=h)) for h in hours
        ]
    url = _warehouse(warehouse, *rows)
    steps = [A, B, C, D]
    got = run(url, "funnel", steps=",".join(steps), mode=mode, window_days=3, **JANUARY)
    assert column(got, "count") == _replay(rows, steps, mode, pd.Timedelta(days=3))


@pytest.mark.parametrize("mode", ["ordered", "strict"])
def test_funnel_persons_with_several_step_one_events_count_like_those_with_one(warehouse, mode):
    # Each person of ORDER_ROWS (moved to 20 Jan) and a twin who also did A on 2 Jan, out of the
    # window: one attempt per person is found with joins, several with window layers.
    moved = [(pid, name, pd.Timestamp(ts) + pd.Timedelta(days=19)) for pid, name, ts in ORDER_ROWS]
    twins = [(pid + 100, name, ts) for pid, name, ts in moved]
    twins += [(pid + 100, A, "2024-01-02 09:00Z") for pid in sorted({r[0] for r in moved})]
    alone = run(
        _warehouse(warehouse, *moved), "funnel_time_to_convert", steps=STEPS, mode=mode, **JANUARY
    )
    both = run(
        _warehouse(warehouse, *moved, *twins),
        "funnel_time_to_convert",
        steps=STEPS,
        mode=mode,
        **JANUARY,
    )
    assert column(both, "count") == [2 * c for c in column(alone, "count")]
    for name in ("avg_seconds", "median_seconds"):
        assert column(both, name) == column(alone, name)
    counts = column(
        run(_warehouse(warehouse, *moved, *twins), "funnel", steps=STEPS, mode=mode, **JANUARY),
        "count",
    )
    assert counts == column(both, "count")


def test_funnel_breakdown_by_a_dollar_property_like_browser(warehouse):
    # PostHog's own properties start with "$"; DuckDB once read "$browser" as a JSON path.
    url = _warehouse(
        warehouse,
        (1, A, "2024-01-01 10:00Z", {"$browser": "Chrome"}),
        (1, B, "2024-01-02 10:00Z", {"$browser": "Chrome"}),
        (2, A, "2024-01-01 10:00Z", {"$browser": "Firefox"}),
    )
    frame = run(url, "funnel_breakdown", steps=STEPS, breakdown="$browser", **JANUARY)
    counts = dict(
        zip(
            zip(column(frame, "breakdown"), column(frame, "step"), strict=True),
            column(frame, "count"),
            strict=True,
        )
    )
    assert counts[("Chrome", 1)] == 1 and counts[("Chrome", 2)] == 1
    assert counts[("Firefox", 1)] == 1 and counts[("Firefox", 2)] == 0
