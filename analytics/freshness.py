"""How fresh the warehouse is (its last loaded event and payment), and series cut to that day."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

from datasources.base import Fetcher, Query
from datasources.errors import DataSourceError

# The tables whose last row says up to when data is loaded, and the instant column of each.
TABLES: dict[str, str] = {"events": "timestamp", "payments": "created_at"}


def table_of(group: str, filters: Iterable[str]) -> str | None:
    """The freshness table a metric's days come from: events for product metrics, payments for
    the collected-revenue ones (those honouring revenue_type); None for stocks and movements of
    subscriptions (MRR on a day after the last payment is still the MRR of that day)."""
    if group == "product":
        return "events"
    return "payments" if "revenue_type" in filters else None


@dataclass(frozen=True)
class Freshness:
    """The instant (UTC) of the last row of each freshness table; a table missing or empty is absent."""

    last: Mapping[str, datetime] = field(default_factory=dict)

    def until(self, table: str | None = None) -> datetime | None:
        """Up to when `table` is loaded (None when it has no rows); without a table, the earliest
        of the tables: the instant up to which everything is loaded."""
        if table is not None:
            return self.last.get(table)
        return min(self.last.values(), default=None)

    def last_day(self, timezone: str, table: str | None = None) -> date | None:
        """The local day (in `timezone`) of `until(table)`: the last day with loaded data."""
        instant = self.until(table)
        return None if instant is None else instant.astimezone(ZoneInfo(timezone)).date()

    def label(self, timezone: str) -> str:
        """ "Data up to Dec 8, 2026 14:05 UTC" (in `timezone`), or "" when nothing is known."""
        instant = self.until()
        if instant is None:
            return ""
        local = instant.astimezone(ZoneInfo(timezone))
        return f"Data up to {local:%b %-d, %Y %H:%M} {local.tzname()}"


def freshness(source: Fetcher) -> Freshness:
    """The last row's instant of each table in TABLES, one cheap query each (cached by the source).

    Args:
        source: the (cached) warehouse.

    Returns:
        A Freshness without the tables the source does not have, or that are empty.
    """
    last: dict[str, datetime] = {}
    for table, column in TABLES.items():
        try:
            frame = source.fetch(Query(f"SELECT MAX(t.{column}) AS last FROM {table} AS t"))
        except DataSourceError:
            continue  # no such table here: that part of the data says nothing
        value = frame["last"].iloc[0] if len(frame) else None
        if value is None or pd.isna(value):
            continue
        stamp = pd.Timestamp(value)
        stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
        last[table] = stamp.to_pydatetime()
    return Freshness(last)


def trim_after(frame: pd.DataFrame, column: str, last_day: date | None) -> pd.DataFrame:
    """`frame` without the rows dated (in `column`) after `last_day`: days with no loaded data
    are not days with nothing in them. Unchanged without a last day or such a column."""
    if last_day is None or column not in frame.columns or frame.empty:
        return frame
    days = pd.to_datetime(frame[column]).dt.date
    return frame[(days <= last_day).to_numpy()].reset_index(drop=True)


def blank_unfinished(
    frame: pd.DataFrame,
    cohort: str,
    period: str,
    values: Iterable[str],
    interval: str,
    last_day: date | None,
) -> pd.DataFrame:
    """Cohort rows whose period k (k >= 1) has not fully elapsed by the end of `last_day` get
    null `values`: a week that is still running is unknown, not 0% retained. Period 0 (the
    cohort itself) is kept."""
    if last_day is None or frame.empty or cohort not in frame.columns:
        return frame
    starts = pd.to_datetime(frame[cohort])
    ks = pd.to_numeric(frame[period])
    if interval == "month":
        ends = [
            (s + pd.DateOffset(months=int(k) + 1)).date() for s, k in zip(starts, ks, strict=True)
        ]
    else:
        step = 7 if interval == "week" else 1
        ends = [
            (s + timedelta(days=step * (int(k) + 1))).date()
            for s, k in zip(starts, ks, strict=True)
        ]
    unfinished = [
        k >= 1 and end > last_day + timedelta(days=1) for k, end in zip(ks, ends, strict=True)
    ]
    if not any(unfinished):
        return frame
    out = frame.copy()
    for name in values:
        if name in out.columns:
            out[name] = out[name].astype("float64").mask(pd.Series(unfinished, index=out.index))
    return out
