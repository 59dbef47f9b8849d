"""Schedule time math: presets, cron in an IANA zone across the 2026 DST changes, misfire plans."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.schedules import (
    MAX_SKIPPED_RECORDED,
    ScheduleError,
    describe_cron,
    first_fire,
    format_fire,
    next_fire,
    plan_due,
    preset_cron,
    prev_fire,
    upcoming,
    validate_cron,
)
from tests.engine.scheduler_support import utc

BERLIN = "Europe/Berlin"
DAILY_9 = "0 9 * * *"


def test_0900_berlin_is_0800_utc_before_and_0700_utc_after_the_march_change():
    # 2026-03-29 02:00 CET -> 03:00 CEST
    assert upcoming(DAILY_9, BERLIN, 4, utc(2026, 3, 27, 12)) == [
        utc(2026, 3, 28, 8),
        utc(2026, 3, 29, 7),
        utc(2026, 3, 30, 7),
        utc(2026, 3, 31, 7),
    ]


def test_0900_berlin_is_0700_utc_before_and_0800_utc_after_the_october_change():
    # 2026-10-25 03:00 CEST -> 02:00 CET
    assert upcoming(DAILY_9, BERLIN, 3, utc(2026, 10, 23, 12)) == [
        utc(2026, 10, 24, 7),
        utc(2026, 10, 25, 8),
        utc(2026, 10, 26, 8),
    ]


def test_nonexistent_0230_fires_once_an_hour_later_on_the_wall_clock():
    # 02:30 does not exist on 2026-03-29 in Berlin: it fires at 03:30 CEST = 01:30 UTC.
    assert upcoming("30 2 * * *", BERLIN, 3, utc(2026, 3, 28)) == [
        utc(2026, 3, 28, 1, 30),
        utc(2026, 3, 29, 1, 30),
        utc(2026, 3, 30, 0, 30),
    ]
    assert next_fire("30 2 * * *", BERLIN, utc(2026, 3, 29, 1, 29)) == utc(2026, 3, 29, 1, 30)


def test_ambiguous_0230_fires_once_at_its_first_occurrence():
    # 02:30 happens twice on 2026-10-25 in Berlin: only the first (CEST, 00:30 UTC) fires.
    assert upcoming("30 2 * * *", BERLIN, 3, utc(2026, 10, 24)) == [
        utc(2026, 10, 24, 0, 30),
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 26, 1, 30),
    ]


def test_sub_hourly_cron_fires_every_instant_once_across_both_changes():
    spring = upcoming("*/30 * * * *", BERLIN, 6, utc(2026, 3, 29, 0, 15))
    assert spring == [
        utc(2026, 3, 29, 0, 30),
        utc(2026, 3, 29, 1),
        utc(2026, 3, 29, 1, 30),
        utc(2026, 3, 29, 2),
        utc(2026, 3, 29, 2, 30),
        utc(2026, 3, 29, 3),
    ]
    autumn = upcoming("*/30 * * * *", BERLIN, 4, utc(2026, 10, 24, 23, 45))
    # 02:00 and 02:30 CEST fire; their repeats in CET (01:00, 01:30 UTC) do not.
    assert autumn == [
        utc(2026, 10, 25, 0),
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 25, 2),
        utc(2026, 10, 25, 2, 30),
    ]
    assert prev_fire("*/15 * * * *", BERLIN, utc(2026, 10, 25, 1, 30)) == utc(2026, 10, 25, 0, 45)


def test_presets_and_their_descriptions():
    assert preset_cron("daily", "09:00") == "0 9 * * *"
    assert preset_cron("weekly", "07:30", weekday=0) == "30 7 * * 1"
    assert preset_cron("weekly", "07:30", weekday=6) == "30 7 * * 0"
    assert preset_cron("monthly", "09:00", day=-1) == "0 9 L * *"
    assert describe_cron("30 7 * * 1", BERLIN) == "Every Monday at 07:30 (Europe/Berlin)"
    assert (
        describe_cron("0 9 L * *", BERLIN)
        == "On the last day of every month at 09:00 (Europe/Berlin)"
    )
    assert describe_cron("*/5 * * * *", "UTC") == "Cron '*/5 * * * *' (UTC)"
    assert upcoming("0 9 L * *", "UTC", 2, utc(2026, 2, 1)) == [
        utc(2026, 2, 28, 9),
        utc(2026, 3, 31, 9),
    ]
    with pytest.raises(ScheduleError, match="1 to 28"):
        preset_cron("monthly", day=31)


@pytest.mark.parametrize("bad", ["every day", "0 9 * *", "61 9 * * *", "0 9 * * * *"])
def test_bad_cron_is_refused_with_a_message(bad):
    with pytest.raises(ScheduleError, match="5 fields"):
        validate_cron(bad)


def test_unknown_zone_is_refused():
    with pytest.raises(ScheduleError, match="IANA"):
        next_fire(DAILY_9, "Mars/Olympus", utc(2026, 1, 1))


def test_start_and_end_dates_bound_the_runs():
    assert first_fire(DAILY_9, "UTC", utc(2026, 1, 1), starts_at=utc(2026, 2, 1)) == utc(
        2026, 2, 1, 9
    )
    assert upcoming(DAILY_9, "UTC", 10, utc(2026, 1, 1), ends_at=utc(2026, 1, 3, 9)) == [
        utc(2026, 1, 1, 9),
        utc(2026, 1, 2, 9),
        utc(2026, 1, 3, 9),
    ]
    assert first_fire(DAILY_9, "UTC", utc(2026, 1, 4), ends_at=utc(2026, 1, 3, 9)) is None


def test_preview_names_local_and_utc_times():
    assert format_fire(utc(2026, 3, 30, 7), BERLIN) == "Mon 30 Mar 2026 09:00 CEST (07:00 UTC)"
    assert format_fire(utc(2026, 3, 27, 8), BERLIN) == "Fri 27 Mar 2026 09:00 CET (08:00 UTC)"


def test_on_time_tick_plans_exactly_the_due_run():
    plan = plan_due(DAILY_9, BERLIN, utc(2026, 3, 30, 7), utc(2026, 3, 30, 7, 0, 15))
    assert (plan.run, plan.skipped, plan.next_run_at) == (
        utc(2026, 3, 30, 7),
        (),
        utc(2026, 3, 31, 7),
    )


def test_misfire_runs_the_latest_missed_within_grace_and_skips_older():
    plan = plan_due(
        DAILY_9, BERLIN, utc(2026, 3, 27, 8), utc(2026, 3, 30, 9), grace=timedelta(hours=6)
    )
    assert plan.run == utc(2026, 3, 30, 7)
    assert plan.skipped == (utc(2026, 3, 27, 8), utc(2026, 3, 28, 8), utc(2026, 3, 29, 7))
    assert plan.next_run_at == utc(2026, 3, 31, 7)


def test_misfire_beyond_grace_runs_nothing_and_skips_all():
    plan = plan_due(
        DAILY_9, BERLIN, utc(2026, 3, 29, 7), utc(2026, 3, 30, 14), grace=timedelta(hours=6)
    )
    assert plan.run is None
    assert plan.skipped == (utc(2026, 3, 29, 7), utc(2026, 3, 30, 7))


def test_a_long_outage_records_a_bounded_number_of_skipped_runs():
    plan = plan_due("* * * * *", "UTC", utc(2026, 3, 1), utc(2026, 4, 1))
    assert plan.run == utc(2026, 4, 1)
    assert len(plan.skipped) == MAX_SKIPPED_RECORDED and plan.more_skipped
    assert plan.skipped[-1] == utc(2026, 3, 31, 23, 59)
