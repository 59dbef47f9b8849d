"""Periods resolve to whole days in the reporting time zone, with a previous window of equal length."""

from datetime import date

import pytest

from engine.periods import PeriodError, Window, resolve


def test_7d_ends_today_and_spans_seven_days():
    w = resolve("7d", "UTC", today=date(2026, 3, 10))
    assert (w.start, w.end, w.days) == (date(2026, 3, 4), date(2026, 3, 10), 7)


def test_previous_window_is_the_same_length_just_before():
    w = resolve("30d", "UTC", today=date(2026, 3, 30))
    assert w.previous == Window(date(2026, 1, 30), date(2026, 2, 28))


def test_custom_range_and_its_errors():
    assert resolve("custom", "UTC", start="2026-01-01", end="2026-01-31").days == 31
    with pytest.raises(PeriodError, match="ends .* before it starts"):
        resolve("custom", "UTC", start="2026-02-01", end="2026-01-01")
    with pytest.raises(PeriodError, match="YYYY-MM-DD"):
        resolve("custom", "UTC", start="yesterday", end="2026-01-01")
    with pytest.raises(PeriodError, match="accepted: 7d, 30d, 90d, custom"):
        resolve("1y", "UTC")


def test_today_is_taken_in_the_reporting_time_zone(monkeypatch):
    # 23:30 UTC on Mar 10 is already Mar 11 in Berlin.
    from datetime import datetime
    from zoneinfo import ZoneInfo

    import engine.periods as periods

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2026, 3, 10, 23, 30, tzinfo=ZoneInfo("UTC")).astimezone(tz)

    monkeypatch.setattr(periods, "datetime", Clock)
    assert resolve("7d", "Europe/Berlin").end == date(2026, 3, 11)
    assert resolve("7d", "UTC").end == date(2026, 3, 10)
