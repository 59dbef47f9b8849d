"""SQL building blocks shared by the product metrics: local-time buckets, bounds, test-account filter."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pandas as pd

from analytics.filters import current_filter, person_condition
from datasources.base import Fetcher

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


_US_PER_DAY = 86_400_000_000
_BIAS_DAYS = 1_000_000  # keeps integer division on positive numbers (floor) for any timestamp


@lru_cache(maxsize=256)
def utc_offsets(tz: str, lo: datetime, hi: datetime) -> tuple[tuple[int, int], ...]:
    """The UTC offsets of `tz` over [lo, hi): ((first instant in epoch us, offset in us), ...).

    Offsets are sampled every 6 hours (daily over spans longer than 20 years) and each change
    is located to the second (zone rules change offsets on whole seconds), so every instant in
    [lo, hi) maps to its exact offset.
    """
    zone, utc = ZoneInfo(tz), ZoneInfo("UTC")

    def offset(seconds: int) -> int:
        moment = datetime.fromtimestamp(seconds, tz=utc).astimezone(zone)
        return int(moment.utcoffset().total_seconds() * 1_000_000)  # type: ignore[union-attr]

    first, last = int(lo.timestamp()), int(hi.timestamp())
    out = [(first * 1_000_000, offset(first))]
    step = 6 * 3600 if last - first < 20 * 366 * 86400 else 86400
    prev = first
    for probe in [*range(first + step, last, step), last]:
        if offset(probe) != out[-1][1]:
            a, b = prev, probe  # offset(a) is the current one, offset(b) differs: bisect
            while b - a > 1:
                mid = (a + b) // 2
                if offset(mid) == out[-1][1]:
                    a = mid
                else:
                    b = mid
            out.append((b * 1_000_000, offset(b)))
        prev = probe
    return tuple(out)


def _offset_sql(us: str, segments: Sequence[tuple[int, int]]) -> str:
    """The offset of instant `us` (epoch microseconds) as a binary tree of CASEs over `segments`."""
    if len(segments) == 1:
        return str(segments[0][1])
    mid = len(segments) // 2
    return (
        f"CASE WHEN {us} < {segments[mid][0]} THEN {_offset_sql(us, segments[:mid])} "
        f"ELSE {_offset_sql(us, segments[mid:])} END"
    )


def fast_day_index(column: str, tz: str, lo: datetime, hi: datetime) -> tuple[str, str] | None:
    """DuckDB: (condition "column in [lo, hi)", local day index of `column` since 1970 there).

    DuckDB's `AT TIME ZONE` (ICU) costs ~0.15 us per row; inside [lo, hi) the local day is plain
    integer arithmetic on epoch microseconds plus the zone's offset, which changes only at the
    DST transitions of the span (a CASE tree on precomputed instants). None when lo or hi is not
    a whole second (callers then keep `AT TIME ZONE`).
    """
    if lo.timestamp() != int(lo.timestamp()) or hi.timestamp() != int(hi.timestamp()):
        return None
    us = f"epoch_us({column})"
    offset = _offset_sql(us, utc_offsets(tz, lo, hi))
    day = f"(({us} + {offset} + {_BIAS_DAYS * _US_PER_DAY}) // {_US_PER_DAY} - {_BIAS_DAYS})"
    lo_us, hi_us = int(lo.timestamp()) * 1_000_000, int(hi.timestamp()) * 1_000_000
    return f"{us} >= {lo_us} AND {us} < {hi_us}", day


def local_day_sql(
    column: str, interval: BucketInterval, dialect: str, tz: str, lo: datetime, hi: datetime
) -> str:
    """`bucket_sql(column, interval)`, the same values, faster on DuckDB for days and weeks.

    Instants in [lo, hi) use `fast_day_index`; others keep the exact `AT TIME ZONE` expression.
    PostgreSQL's own conversion is fast: unchanged there.
    """
    fast = (
        fast_day_index(column, tz, lo, hi) if dialect == "duckdb" and interval != "month" else None
    )
    if fast is None:
        return bucket_sql(column, interval)
    inside, day = fast
    if interval == "week":  # Monday weeks since 1970-01-05 (day 4)
        day = f"(({day} - 4 + {7 * _BIAS_DAYS}) // 7 - {_BIAS_DAYS})"
    return f"(CASE WHEN {inside} THEN {day} ELSE {bucket_sql(column, interval)} END)"


def local_day_within(column: str, dialect: str, tz: str, lo: datetime, hi: datetime) -> str:
    """`bucket_sql(column, "day")` for a query whose WHERE already keeps `column` in [lo, hi).

    On DuckDB this is the integer day of `fast_day_index` without `local_day_sql`'s per-row range
    CASE (the WHERE makes it always true); elsewhere, or when lo or hi is not a whole second,
    `bucket_sql` itself. Only for such queries: outside [lo, hi) the value is wrong.
    """
    fast = fast_day_index(column, tz, lo, hi) if dialect == "duckdb" else None
    return bucket_sql(column, "day") if fast is None else fast[1]


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


def day_sql(
    source: Fetcher, column: str, interval: BucketInterval, tz: str, first: date, last: date
) -> str:
    """The bucket index of `column` (exactly `bucket_sql`), fast inside the days first..last."""
    span = day_range(first, last, tz)
    return local_day_sql(column, interval, source.dialect, tz, span["t0"], span["t1"])


def day_within_sql(source: Fetcher, column: str, tz: str, first: date, last: date) -> str:
    """The local day index of `column` for a query whose WHERE keeps it in the days first..last
    (`:t0 <= column < :t1` of `day_range(first, last, tz)`): `day_sql` without its range check."""
    span = day_range(first, last, tz)
    return local_day_within(column, source.dialect, tz, span["t0"], span["t1"])


def event_condition(event: str | None, alias: str = "e") -> str:
    """`AND alias.event = :event`, or nothing when `event` is None (any event counts)."""
    return "" if event is None else f"AND {alias}.event = :event"


# The users of test customers: a small set (users.id is the primary key, never NULL).
TEST_PERSONS = (
    "SELECT tu.id FROM users tu JOIN customers tc ON tc.id = tu.customer_id WHERE tc.is_test"
)


def not_test_account(person_column: str) -> str:
    """Keep rows whose person is not a user of a test customer (D.7.8); rows with no user are kept.

    With a dimension filter active (analytics/filters.py), keep only users of the kept accounts.
    Written as `NOT IN` the small set of test users: both engines hash that set once, where a
    correlated NOT EXISTS made DuckDB deduplicate and join every row's person first, and made
    PostgreSQL probe an index per person when it underestimated the rows. `NOT IN` alone would
    drop rows without a person, so they are kept explicitly.
    """
    rule = f"({person_column} IS NULL OR {person_column} NOT IN ({TEST_PERSONS}))"
    filters = current_filter()
    if filters is None:
        return rule
    return f"({rule} AND {person_condition(filters, person_column)})"


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


def property_key(name: str, dialect: str) -> str:
    """The bind value for `properties ->> :prop` that reads the top-level key `name`.

    DuckDB reads a text starting with `$` as a JSONPath, so PostHog's `$browser` must be bound as
    the path `$."$browser"` there (names are checked by `check_property`: no quotes).
    """
    return f'$."{check_property(name)}"' if dialect == "duckdb" else name


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
