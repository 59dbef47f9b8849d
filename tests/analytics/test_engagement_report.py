"""The seed's engagement report on hand-made users and sessions, on DuckDB and PostgreSQL.

Window: the 30 days ending 31 Jan 2024 = 2..31 Jan (UTC). Every number below is counted by hand.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from analytics.catalog import run_metric
from datasources.sql import SQLSource
from tests.analytics._product_rows import events

END = "2024-01-31"


def _sessions(person: int, days: list[date], seconds: int, hour: int = 10) -> list[dict]:
    return [
        {
            "session_id": f"s{person}-{d.isoformat()}-{hour}",
            "person_id": person,
            "start_ts": f"{d.isoformat()} {hour:02d}:00Z",
            "duration_s": seconds,
        }
        for d in days
    ]


def _days(first: str, n: int) -> list[date]:
    start = date.fromisoformat(first)
    return [start + timedelta(days=i) for i in range(n)]


def _frames() -> dict[str, pd.DataFrame]:
    rows = [
        # u1: 20 days x 60 s, and a second session of 270 s on 5 Jan: 21 sessions, mean 70 s. High.
        *_sessions(1, _days("2024-01-02", 20), 60),
        *_sessions(1, [date(2024, 1, 5)], 270, hour=15),
        # u2: 10 days x 30 s. Medium.
        *_sessions(2, _days("2024-01-10", 10), 30),
        # u7: 19 days x 50 s. Medium (19 < 20).
        *_sessions(7, _days("2024-01-02", 19), 50),
        # u3: two sessions on 31 Jan (10 s, 20 s): 1 active day, mean 15 s. Low. One on 1 Feb
        # 00:00 is after the window.
        *_sessions(3, [date(2024, 1, 31)], 10, hour=1),
        *_sessions(3, [date(2024, 1, 31)], 20, hour=23),
        *_sessions(3, [date(2024, 2, 1)], 999, hour=0),
        # u8: 9 days x 100 s. Low.
        *_sessions(8, _days("2024-01-20", 9), 100),
        # u4: one session on 1 Jan, before the window: Inactive with 0 sessions.
        *_sessions(4, [date(2024, 1, 1)], 500),
        # u9 belongs to the test account: 25 days, never counted.
        *_sessions(9, _days("2024-01-02", 25), 40),
    ]
    return {
        "customers": pd.DataFrame(
            {"id": [1, 2], "account_name": ["Real", "Test"], "is_test": [False, True]}
        ),
        # u6 exists but never had a session (Inactive); u5 was created after the window.
        "users": pd.DataFrame(
            {
                "id": [1, 2, 3, 4, 5, 6, 7, 8, 9],
                "customer_id": [1, 1, 1, 1, 1, 1, 1, 1, 2],
                "created_at": ["2023-06-01 00:00Z"] * 4
                + ["2024-02-05 00:00Z", "2024-01-03 00:00Z"]
                + ["2023-06-01 00:00Z"] * 3,
                "role": [
                    "admin",
                    "member",
                    "member",
                    "member",
                    "member",
                    "admin",
                    "admin",
                    "member",
                    "admin",
                ],
            }
        ),
        "sessions": pd.DataFrame(rows),
        # Events make persons "active" (user_type=active): u1, u2, u3 in the window; u4 only before it.
        "events": events(
            (1, "app_opened", "2024-01-03 10:00Z"),
            (2, "$pageview", "2024-01-12 10:00Z"),
            (3, "app_opened", "2024-01-31 01:00Z"),
            (4, "app_opened", "2024-01-01 10:00Z"),
        ),
    }


def _report(url: str, **filters: list[str]) -> list[tuple]:
    source = SQLSource("t", url)
    try:
        frame = run_metric("engagement_report", source, {"end": END, "filters": filters})
    finally:
        source.close()
    return [
        tuple(None if isinstance(v, float) and pd.isna(v) else v for v in row)
        for row in frame.itertuples(index=False)
    ]


def test_engagement_report_levels_in_the_seed_order_with_inactive_users_counted(warehouse):
    url = warehouse(_frames())
    # 7 users counted: u1 | u2, u7 | u3, u8 | u4, u6 (u5 created later, u9 a test account).
    assert _report(url) == [
        ("High", 1, 21.0, 70.0, 14.29),  # 1/7 = 14.2857 %
        ("Medium", 2, 14.5, 40.0, 28.57),  # (10 + 19) / 2 sessions; (30 + 50) / 2 s
        ("Low", 2, 5.5, 57.5, 28.57),  # (2 + 9) / 2; (15 + 100) / 2
        ("Inactive", 2, 0.0, None, 28.57),
    ]


def test_engagement_report_for_active_users_only(warehouse):
    url = warehouse(_frames())
    # Active in the window: u1, u2, u3 (u4's event is on 1 Jan, before it).
    assert _report(url, user_type=["active"]) == [
        ("High", 1, 21.0, 70.0, 33.33),
        ("Medium", 1, 10.0, 30.0, 33.33),
        ("Low", 1, 2.0, 15.0, 33.33),
        ("Inactive", 0, None, None, 0.0),
    ]


def test_engagement_report_by_user_role_and_with_nobody(warehouse):
    url = warehouse(_frames())
    # Admins of the real account: u1 (High), u6 (Inactive), u7 (Medium).
    assert [r[:2] for r in _report(url, user_role=["admin"])] == [
        ("High", 1),
        ("Medium", 1),
        ("Low", 0),
        ("Inactive", 1),
    ]
    assert _report(url, user_role=["nobody"]) == [
        (level, 0, None, None, None) for level in ("High", "Medium", "Low", "Inactive")
    ]
