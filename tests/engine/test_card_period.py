"""A "this month" card shows the month so far with a label, or the latest month with a value."""

from __future__ import annotations

from datetime import date

import pandas as pd

from engine.generate import WidgetResult, _latest_period, period_label
from engine.periods import Window
from engine.spec import WidgetSpec

WIDGET = WidgetSpec(id="c", type="metric_card", title="Trial conversion", metric="trial_conversion")


def _rows(*values: float | None) -> pd.DataFrame:
    starts = [date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)][-len(values) :]
    return pd.DataFrame({"period_start": starts, "value": list(values)})


def test_period_labels_say_month_to_date_while_the_month_runs():
    assert period_label(date(2026, 12, 1), "month", date(2026, 12, 3)) == "month to date, Dec 1–3"
    assert period_label(date(2026, 11, 1), "month", date(2026, 11, 30)) == "November 2026"
    assert period_label(date(2026, 2, 1), "month", date(2026, 3, 2)) == "February 2026"
    assert (
        period_label(date(2026, 11, 30), "week", date(2026, 12, 2)) == "week to date, Nov 30–Dec 2"
    )
    assert period_label(date(2026, 11, 23), "week", date(2026, 12, 2)) == "week of Nov 23, 2026"


def test_a_card_early_in_the_month_shows_the_month_so_far():
    result = WidgetResult(widget=WIDGET, window=Window(date(2026, 11, 4), date(2026, 12, 3)))
    rows = _latest_period(result, _rows(0.4, 0.5), "value", "period_start", "month")
    assert rows["value"].iloc[-1] == 0.5
    assert result.meta["period_label"] == "month to date, Dec 1–3"


def test_a_month_without_a_value_yet_shows_the_latest_month_with_one_and_says_so():
    result = WidgetResult(widget=WIDGET, window=Window(date(2026, 11, 2), date(2026, 12, 1)))
    rows = _latest_period(result, _rows(0.3, 0.4, None), "value", "period_start", "month")
    assert rows["value"].iloc[-1] == 0.4
    assert result.meta["period_label"] == "November 2026 (no value yet for month to date, Dec 1)"
