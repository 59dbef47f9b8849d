"""Vectorised helpers for the generator: UUIDv7 strings, UTC timestamp columns and calendar maths."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd

US = 1_000_000  # microseconds per second
DAY_US = 86_400 * US
NAT = np.iinfo(np.int64).min  # int64 view of NaT


def uuid7(rng: np.random.Generator, ts_us: np.ndarray) -> np.ndarray:
    """UUIDv7 strings (object array) whose 48-bit prefix is the millisecond of each timestamp.

    Time-ordered like PostHog's event and session ids; the 74 random bits come from `rng`.
    """
    n = len(ts_us)
    if n == 0:
        return np.array([], dtype=object)
    ms = (np.asarray(ts_us, dtype=np.int64) // 1000).astype(">u8")
    raw = np.empty((n, 16), dtype=np.uint8)
    raw[:, :6] = ms.view(np.uint8).reshape(n, 8)[:, 2:]
    raw[:, 6:] = np.frombuffer(rng.bytes(n * 10), dtype=np.uint8).reshape(n, 10)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x70  # version 7
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    hexed = np.empty((n, 32), dtype=np.uint8)
    hexed[:, 0::2] = raw >> 4
    hexed[:, 1::2] = raw & 0x0F
    hexed += 48  # "0"
    hexed += (hexed > 57) * np.uint8(39)  # 10..15 -> "a".."f"
    text = np.full((n, 36), ord("-"), dtype=np.uint8)
    for dst, src in (((0, 8), (0, 8)), ((9, 13), (8, 12)), ((14, 18), (12, 16)),
                     ((19, 23), (16, 20)), ((24, 36), (20, 32))):  # fmt: skip
        text[:, dst[0] : dst[1]] = hexed[:, src[0] : src[1]]
    flat = text.tobytes().decode("ascii")
    return np.array([flat[i : i + 36] for i in range(0, n * 36, 36)], dtype=object)


def to_ts(us: np.ndarray | list[int | None]) -> pd.Series:
    """UTC-aware timestamps from int64 microseconds since the epoch (NAT or None = missing)."""
    arr = (
        np.array([NAT if v is None else v for v in us], dtype=np.int64)
        if isinstance(us, list)
        else us
    )
    return pd.Series(np.asarray(arr, dtype=np.int64).view("datetime64[us]")).dt.tz_localize("UTC")


def day_start_us(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * US


class Calendar:
    """Month arithmetic on epoch seconds, fast enough for a per-subscription loop."""

    def __init__(self, first_year: int, last_year: int):
        self.base = first_year * 12
        self.month_start: list[int] = []  # epoch seconds of the 1st of each month
        self.month_days: list[int] = []
        for year in range(first_year, last_year + 1):
            for month in range(1, 13):
                self.month_start.append(calendar.timegm((year, month, 1, 0, 0, 0)))
                self.month_days.append(calendar.monthrange(year, month)[1])

    def split(self, ts: int) -> tuple[int, int, int]:
        """(month index, day of month - 1, second of day) of epoch seconds `ts`."""
        t = datetime.fromtimestamp(ts, UTC)
        return (t.year * 12 + t.month - 1 - self.base, t.day - 1, ts % 86_400)

    def add_months(self, anchor: tuple[int, int, int], months: int) -> int:
        """Epoch seconds `months` after the split anchor, clipping the day like Stripe's billing cycle."""
        index, day, second = anchor
        index += months
        return self.month_start[index] + min(day, self.month_days[index] - 1) * 86_400 + second
