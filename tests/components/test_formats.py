"""Number formats: money, percent and large numbers, with a dash for missing values."""

import math

from components.formats import change_text, compact_number, format_value, money, percent
from engine.generate import change_ratio


def test_money_percent_and_numbers():
    assert money(1234567.891) == "$1,234,567.89"
    assert money(-12.5, "EUR") == "-€12.50"
    assert money(2_500_000, compact=True) == "$2.5M"
    # Half a cent rounds up whichever side of .475 the binary float landed on.
    assert money(175362.47499999999) == money(175362.4750000001) == "$175,362.48"
    assert money(0.005) == "$0.01"
    assert percent(0.0345) == "3.5%"
    assert format_value(1234.0, "number") == "1,234"
    assert compact_number(15300) == "15.3k"


def test_missing_values_show_a_dash_never_zero():
    assert money(None) == "—"
    assert percent(math.nan) == "—"
    assert format_value(None, "number") == "—"


def test_change_against_previous_period():
    assert change_ratio(110.0, 100.0) == 0.1
    assert change_ratio(90.0, -100.0) == 1.9
    assert change_ratio(5.0, 0.0) is None
    assert change_ratio(None, 3.0) is None
    assert change_text(0.1) == "▲ 10.0% vs previous period"
    assert change_text(-0.025) == "▼ 2.5% vs previous period"
    assert change_text(None) == "no previous value"
