"""Period selectors (7d, 30d, 90d, custom) resolved to calendar days in the reporting time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

PERIOD_DAYS = {"7d": 7, "30d": 30, "90d": 90}
# The one list of periods a view, an export or the API may ask for (engine/request.py uses it).
PERIODS: tuple[str, ...] = (*PERIOD_DAYS, "custom")


class PeriodError(ValueError):
    """An unknown period or a bad custom range; the message names what is accepted."""


@dataclass(frozen=True)
class Window:
    """The selected days [start, end] and the same number of days just before them."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous(self) -> Window:
        end = self.start - timedelta(days=1)
        return Window(end - timedelta(days=self.days - 1), end)

    def label(self) -> str:
        return f"{self.start:%b %-d, %Y} – {self.end:%b %-d, %Y}"


def preset_window(period: str, last: date) -> Window:
    """The days of a preset period (7d, 30d, 90d) ending on `last`, inclusive."""
    return Window(last - timedelta(days=PERIOD_DAYS[period] - 1), last)


def today_in(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date()


def resolve(
    period: str,
    timezone: str,
    *,
    start: str | None = None,
    end: str | None = None,
    today: date | None = None,
) -> Window:
    """The window for `period` ending today (inclusive) in `timezone`, or the custom [start, end]."""
    if period in PERIOD_DAYS:
        last = today or today_in(timezone)
        return preset_window(period, last)
    if period == "custom":
        try:
            window = Window(date.fromisoformat(start or ""), date.fromisoformat(end or ""))
        except ValueError:
            raise PeriodError("a custom period needs start and end dates as YYYY-MM-DD") from None
        if window.end < window.start:
            raise PeriodError(
                f"the custom period ends ({window.end}) before it starts ({window.start})"
            )
        return window
    raise PeriodError(f"unknown period {period!r}; accepted: 7d, 30d, 90d, custom")
