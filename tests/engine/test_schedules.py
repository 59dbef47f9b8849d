"""The period a run reports on, as people read it in e-mail subjects, webhooks and the portal."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from engine.periods import Window
from engine.schedules import Bundle, ScheduleError, period_window, window_text

# Monday 30 March 2026, 09:00 in Berlin (CEST) is 07:00 UTC.
DUE = datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


def bundle(period: str | None, *, due_at: datetime = DUE, report_timezone: str | None = None):
    return Bundle(
        schedule_id=1,
        schedule_name="Weekly revenue",
        report_ref="revenue_overview",
        run_id=1,
        due_at=due_at,
        timezone="Europe/Berlin",
        artifacts=(),
        params={"period": period} if period else {},
        report_timezone=report_timezone,
    )


@pytest.mark.parametrize(
    ("window", "text"),
    [
        (Window(date(2026, 11, 22), date(2026, 11, 22)), "Nov 22, 2026"),
        (Window(date(2026, 11, 16), date(2026, 11, 22)), "Nov 16 – Nov 22, 2026"),
        (Window(date(2025, 12, 28), date(2026, 1, 3)), "Dec 28, 2025 – Jan 3, 2026"),
        (Window(date(2026, 2, 1), date(2026, 2, 28)), "February 2026"),
        (Window(date(2026, 2, 2), date(2026, 2, 28)), "Feb 2 – Feb 28, 2026"),
    ],
)
def test_window_text_reads_like_a_date_range(window, text):
    assert window_text(window) == text


@pytest.mark.parametrize(
    ("period", "label"),
    [
        ("7d", "Mar 23 – Mar 29, 2026 (Europe/Berlin)"),
        ("previous_day", "Mar 29, 2026 (Europe/Berlin)"),
        ("30d", "Feb 28 – Mar 29, 2026 (Europe/Berlin)"),
        ("previous_month", "February 2026 (Europe/Berlin)"),
    ],
)
def test_period_label_names_the_complete_days_before_the_due_day(period, label):
    b = bundle(period)
    assert b.period == period  # the machine-readable key stays
    assert b.period_label == label


def test_the_due_day_is_read_on_the_schedules_wall_clock():
    # 23:30 UTC on Sunday 29 March is already Monday 01:30 in Berlin: the week ends on Sunday.
    late = datetime(2026, 3, 29, 23, 30, tzinfo=UTC)
    assert bundle("7d", due_at=late).period_label == "Mar 23 – Mar 29, 2026 (Europe/Berlin)"


def test_the_label_names_the_zone_the_report_cuts_its_days_in():
    assert bundle("7d", report_timezone="UTC").period_label == "Mar 23 – Mar 29, 2026 (UTC)"


def test_without_a_period_the_label_is_the_due_day():
    b = bundle(None)
    assert b.period == "2026-03-30"
    assert b.period_label == "Mar 30, 2026 (Europe/Berlin)"


def test_an_unknown_period_is_an_error_for_the_window_and_the_due_day_for_people():
    with pytest.raises(ScheduleError):
        period_window("fortnight", DUE, "Europe/Berlin")
    assert bundle("fortnight").window is None
    assert bundle("fortnight").period_label == "Mar 30, 2026 (Europe/Berlin)"
