"""Number formats shared by cards, tables, axes and exports: money, percent, large numbers."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def money(value: float | None, currency: str = "USD", *, compact: bool = False) -> str:
    if _missing(value):
        return "—"
    symbol = CURRENCY_SYMBOLS.get(currency, currency + " ")
    sign = "-" if value < 0 else ""
    if compact and abs(value) >= 1000:
        return f"{sign}{symbol}{compact_number(abs(value))}"
    return f"{sign}{symbol}{cents(abs(value)):,}"


def cents(value: float) -> Decimal:
    """Round half up to cents, after absorbing binary noise: 175362.475 is shown as .48, never .47."""
    return Decimal(repr(round(value, 6))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def percent(value: float | None, digits: int = 1) -> str:
    if _missing(value):
        return "—"
    return f"{value * 100:.{digits}f}%"


def number(value: float | None) -> str:
    if _missing(value):
        return "—"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def compact_number(value: float) -> str:
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= threshold:
            return f"{value / threshold:.1f}{suffix}"
    return f"{value:,.0f}"


def format_value(value: float | None, kind: str, currency: str = "USD") -> str:
    """Format by the widget's declared format: money, percent or number."""
    if kind == "money":
        return money(value, currency)
    if kind == "percent":
        return percent(value)
    return number(value)


def change_text(change: float | None) -> str:
    if _missing(change):
        return "no previous value"
    arrow = "▲" if change > 0 else "▼" if change < 0 else "■"
    return f"{arrow} {abs(change) * 100:.1f}% vs previous period"
