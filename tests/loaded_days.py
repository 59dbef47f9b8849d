"""How many days of a window the demo warehouse has loaded rows for: series stop at the last
loaded day (analytics/freshness.py), which depends on when the demo data was generated."""

from __future__ import annotations

from datetime import UTC

from engine.generate import data_freshness
from engine.periods import Window
from security.users import Principal

ADMIN = Principal(1, "admin", "admin")


def loaded_days(services, window: Window, table: str = "payments") -> int:
    """Days of `window` up to the warehouse's last loaded day of `table`."""
    last = data_freshness(services, ADMIN).last_day(services.settings.report_timezone, table)
    end = window.end if last is None else min(window.end, last)
    return max(0, (end - window.start).days + 1)


def loaded_days_at(warehouse_url: str, window: Window, table: str = "payments") -> int:
    """`loaded_days` for a served app's DuckDB warehouse file, read beside it (read-only)."""
    import duckdb

    column = {"payments": "created_at", "events": "timestamp"}[table]
    path = warehouse_url.removeprefix("duckdb:///")
    with duckdb.connect(path, read_only=True) as conn:
        (last,) = conn.execute(f"SELECT max({column}) FROM {table}").fetchone()
    if last is not None and last.tzinfo is not None:
        last = last.astimezone(UTC)
    end = window.end if last is None else min(window.end, last.date())
    return max(0, (end - window.start).days + 1)
