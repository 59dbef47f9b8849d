"""SQL building blocks shared by the product metrics: local-time buckets, bounds, test-account filter."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pandas as pd

BucketInterval = Literal["day", "week", "month"]

_PROPERTY_NAME = re.compile(r"^[$A-Za-z0-9_.\-]{1,100}$")
_MONDAY_1970 = date(1970, 1, 5)
_EPOCH_DAY = date(1970, 1, 1)


def local(column: str) -> str:
    """`column` (TIMESTAMPTZ) as wall-clock time in the reporting zone bound to `:tz`."""
    return f"({column} AT TIME ZONE :tz)"


def bucket_sql(column: str, interval: BucketInterval) -> str:
    """An integer bucket index of `column` in `:tz`: days or Monday-weeks since 1970, or months since year 0.

    Integer buckets make "previous interval" plain `b - 1` and periods plain `b - cohort`, with the
    same arithmetic in DuckDB and PostgreSQL (weeks start on Monday, ISO).
    """
    day = f"CAST({local(column)} AS DATE)"
    if interval == "day":
        return f"({day} - DATE '1970-01-01')"
    if interval == "week":
        return f"CAST(FLOOR(({day} - DATE '1970-01-05') / 7.0) AS BIGINT)"
    return f"CAST(EXTRACT(YEAR FROM {local(column)}) * 12 + EXTRACT(MONTH FROM {local(column)}) - 1 AS BIGINT)"


def bucket_of(day: date, interval: BucketInterval) -> int:
    """The bucket index of a calendar day (the Python twin of `bucket_sql`)."""
    if interval == "day":
        return (day - _EPOCH_DAY).days
    if interval == "week":
        return (day - _MONDAY_1970).days // 7
    return day.year * 12 + day.month - 1


def bucket_start(index: int, interval: BucketInterval) -> date:
    """The first calendar day of bucket `index`."""
    if interval == "day":
        return _EPOCH_DAY + timedelta(days=index)
    if interval == "week":
        return _MONDAY_1970 + timedelta(days=7 * index)
    return date(index // 12, index % 12 + 1, 1)


def instant(day: date, tz: str) -> datetime:
    """Local midnight starting `day` in `tz`, as an aware datetime (DST-correct)."""
    return datetime.combine(day, time(), tzinfo=ZoneInfo(tz))


def day_range(start: date, end: date, tz: str) -> dict[str, datetime]:
    """Bind values `t0`, `t1` for the half-open instant range [start 00:00, end + 1 day 00:00) in `tz`."""
    return {"t0": instant(start, tz), "t1": instant(end + timedelta(days=1), tz)}


def not_test_account(person_column: str) -> str:
    """Keep rows whose person is not a user of a test customer (D.7.8); rows with no user are kept."""
    return (
        "NOT EXISTS (SELECT 1 FROM users tu JOIN customers tc ON tc.id = tu.customer_id "
        f"WHERE tu.id = {person_column} AND tc.is_test)"
    )


def epoch(column: str) -> str:
    """Seconds since 1970 as DOUBLE PRECISION in both engines."""
    return f"CAST(EXTRACT(EPOCH FROM {column}) AS DOUBLE PRECISION)"


def to_number(expr: str, dialect: str) -> str:
    """`expr` (text) as a float, NULL when not numeric (PostHog `toFloat` semantics)."""
    if dialect == "duckdb":
        return f"TRY_CAST({expr} AS DOUBLE)"
    pattern = r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"
    return f"CASE WHEN {expr} ~ '{pattern}' THEN CAST({expr} AS DOUBLE PRECISION) END"


def check_property(name: str) -> str:
    """Validate an event property name (it is bound as a parameter, but keep names sane)."""
    if not _PROPERTY_NAME.match(name):
        raise ValueError(f"property name {name!r}: use letters, digits, $ _ . - (at most 100)")
    return name


def in_list(prefix: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """`(:prefix_0, :prefix_1, ...)` and its bind values, for an IN list of distinct values."""
    unique = list(dict.fromkeys(values))
    names = [f"{prefix}_{i}" for i in range(len(unique))]
    return "(" + ", ".join(f":{n}" for n in names) + ")", dict(zip(names, unique, strict=True))


def ratio(numerator: Any, denominator: Any) -> float | None:
    """numerator / denominator as a float; None when the denominator is 0, None or NaN (D.7.10)."""
    if (
        denominator is None
        or pd.isna(denominator)
        or denominator == 0
        or numerator is None
        or pd.isna(numerator)
    ):
        return None
    return float(numerator) / float(denominator)


def optional_float(value: Any) -> float | None:
    """A float, or None for SQL NULL / NaN."""
    return None if value is None or pd.isna(value) else float(value)


def nullable(values: Sequence[Any]) -> pd.Series:
    """A column that keeps None for "no value" (object dtype) instead of pandas' NaN."""
    return pd.Series([optional_float(v) for v in values], dtype=object)
