"""Deterministic demo warehouse: every table of demo.schema.TABLES, two years of a growing SaaS.

`generate(scale, seed, today)` returns the same frames for the same arguments; the data ends at
midnight UTC of `today` (default: the current date), so a fresh demo always runs up to yesterday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd

from demo.activity import COUNTRY_OFFSETS, day_weights, local_hour_weights, simulate_activity
from demo.billing import FORCED, simulate_billing
from demo.goals import kpi_goals
from demo.ids import DAY_US, US, day_start_us, to_ts, uuid7
from demo.schema import TABLES
from demo.writer import write_warehouse

__all__ = ["SCALES", "Scale", "generate", "write_warehouse"]


@dataclass(frozen=True)
class Scale:
    name: str
    customers: int
    events: int  # target; the generated count lands within a few percent
    days: int = 730


SCALES: dict[str, Scale] = {
    "tiny": Scale("tiny", 200, 25_000),  # for tests
    "small": Scale("small", 1_500, 220_000),  # `make run` and the test suite
    "large": Scale("large", 100_000, 10_000_000),  # benchmarks
}

COUNTRIES = tuple(COUNTRY_OFFSETS)
COUNTRY_WEIGHTS = (0.38, 0.12, 0.09, 0.06, 0.06, 0.05, 0.04, 0.05, 0.04, 0.04, 0.03, 0.02, 0.02)
SEGMENTS = ("smb", "mid_market", "enterprise")
SEGMENT_WEIGHTS = (0.72, 0.21, 0.07)
DEPARTMENTS = ("Sales", "Marketing", "Operations", "Finance", "Customer Success")
DEPARTMENT_WEIGHTS = {
    "smb": (0.1, 0.35, 0.2, 0.05, 0.3),
    "mid_market": (0.35, 0.2, 0.15, 0.1, 0.2),
    "enterprise": (0.7, 0.05, 0.05, 0.15, 0.05),
}
USERS_PER_CUSTOMER = {  # probabilities of 1..5 users
    "smb": (0.45, 0.3, 0.15, 0.07, 0.03),
    "mid_market": (0.15, 0.25, 0.25, 0.2, 0.15),
    "enterprise": (0.05, 0.1, 0.2, 0.3, 0.35),
}
_ADJECTIVES = ("Blue", "Bright", "Northern", "Silver", "Golden", "Urban", "Coastal", "Summit", "Prime",
               "Open", "Crimson", "Rapid", "Green", "Bold", "Clear", "Vivid", "Alpine", "Harbor",
               "Lunar", "Solar", "Royal", "Metro", "Quiet", "Grand")  # fmt: skip
_NOUNS = ("Harbor", "Pixel", "Forge", "Stage", "Arena", "Circle", "Studio", "Works", "Collective",
          "Summit", "Gather", "Venue", "Spark", "Pulse", "Bridge", "Field", "Hall", "Loop", "Beacon",
          "Atlas", "Orbit", "Compass", "Anchor", "Lantern")  # fmt: skip
_SUFFIXES = (
    "Events",
    "Labs",
    "Group",
    "Media",
    "Live",
    "Conferences",
    "Society",
    "Club",
    "Agency",
    "Co",
)
_FIRST = ("Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Isla", "Jonas", "Kira",
          "Liam", "Maya", "Noah", "Olga", "Priya", "Quinn", "Rosa", "Sam", "Tara", "Umar", "Vera",
          "Wen", "Yusuf", "Zoe", "Leo", "Mia", "Omar", "Nina", "Theo")  # fmt: skip
_LAST = ("Smith", "Garcia", "Mueller", "Martin", "Rossi", "Kowalski", "Nguyen", "Silva", "Khan",
         "Jensen", "Brown", "Tanaka", "Dubois", "Novak", "Patel", "Cohen", "Larsen", "Meyer",
         "Walker", "Santos", "Ito", "Moreau", "Berg", "Quinn")  # fmt: skip


def generate(
    scale: str = "small", seed: int = 42, today: date | None = None
) -> dict[str, pd.DataFrame]:
    """Every table of demo.schema.TABLES for `scale`, identical for identical arguments.

    Args:
        scale: "tiny" (tests), "small" (~1,500 customers, ~220k events) or "large" (~100k, ~10M).
        seed: the random seed; each table family draws from its own stream of it.
        today: the data covers the `scale.days` days before midnight UTC of this date (default today).

    Returns:
        Table name -> frame with exactly that table's columns, timestamps UTC-aware.
    """
    try:
        spec = SCALES[scale]
    except KeyError:
        raise ValueError(f"unknown scale {scale!r}; accepted: {', '.join(SCALES)}") from None
    today = today or datetime.now(UTC).date()
    end_us = day_start_us(today)
    start_us = end_us - spec.days * DAY_US
    streams = [
        np.random.default_rng(s) for s in np.random.SeedSequence([seed, spec.customers]).spawn(5)
    ]

    customers, created_us = _customers(streams[0], spec, start_us)
    departments = _departments(streams[0], customers)
    forced = _forced(streams[0], customers, created_us, end_us)
    billing = simulate_billing(streams[1], customers, created_us // US, end_us // US, forced)
    users, user_created_us = _users(streams[2], customers, created_us, end_us)
    activity = simulate_activity(
        streams[3],
        users,
        user_created_us,
        customers,
        billing.active_until * US,
        start_us,
        end_us,
        spec.events,
    )
    frames = {
        "customers": customers,
        "users": users,
        **billing.frames,
        **activity,
        "customer_departments": departments,
    }
    frames["kpi_goals"] = kpi_goals(streams[4], frames, start_us, end_us)
    return {
        name: frames[name][[c for c, _ in TABLES[name]]].reset_index(drop=True) for name in TABLES
    }


def _customers(
    rng: np.random.Generator, spec: Scale, start_us: int
) -> tuple[pd.DataFrame, np.ndarray]:
    n = spec.customers
    weights = day_weights(start_us, spec.days, growth=np.log(4.0))
    day = np.sort(rng.choice(spec.days, size=n, p=weights / weights.sum()))
    country_idx = rng.choice(len(COUNTRIES), size=n, p=COUNTRY_WEIGHTS)
    created = start_us + day * DAY_US + _time_of_day(rng, country_idx)
    order = np.argsort(created, kind="stable")
    created, country_idx = created[order], country_idx[order]
    segment = np.array(SEGMENTS)[rng.choice(3, size=n, p=SEGMENT_WEIGHTS)]
    names = pd.Series(
        [
            f"{_ADJECTIVES[a]} {_NOUNS[b]} {_SUFFIXES[c]}"
            for a, b, c in zip(
                rng.integers(len(_ADJECTIVES), size=n),
                rng.integers(len(_NOUNS), size=n),
                rng.integers(len(_SUFFIXES), size=n),
                strict=True,
            )
        ]  # fmt: skip
    )
    repeat = names.groupby(names).cumcount().to_numpy()
    names = [name if k == 0 else f"{name} {k + 1}" for name, k in zip(names, repeat, strict=True)]
    is_test = np.zeros(n, dtype=bool)
    is_test[rng.choice(n, size=max(3, n // 100), replace=False)] = True
    for k, i in enumerate(np.flatnonzero(is_test)):
        names[i] = f"Nexpo QA {k + 1}"
        segment[i] = "smb"
    frame = pd.DataFrame({
        "id": np.arange(1, n + 1, dtype=np.int64),
        "account_name": names,
        "created_at": to_ts(created),
        "country": np.array(COUNTRIES)[country_idx],
        "plan_segment": segment,
        "is_test": is_test,
    })  # fmt: skip
    return frame, created


def _time_of_day(rng: np.random.Generator, country_idx: np.ndarray) -> np.ndarray:
    """Microseconds into the UTC day for people in these countries, following a local working day."""
    local = rng.choice(24, size=len(country_idx), p=local_hour_weights())
    offsets = np.array(list(COUNTRY_OFFSETS.values()))[country_idx]
    hour = (local - offsets) % 24
    return (hour * 3600 + rng.integers(0, 3600, size=len(country_idx))) * US


def _departments(rng: np.random.Generator, customers: pd.DataFrame) -> pd.DataFrame:
    segment = customers["plan_segment"].to_numpy()
    department = np.empty(len(customers), dtype=object)
    for name, weights in DEPARTMENT_WEIGHTS.items():
        mask = segment == name
        department[mask] = np.array(DEPARTMENTS)[
            rng.choice(len(DEPARTMENTS), size=mask.sum(), p=weights)
        ]
    return pd.DataFrame({"customer_id": customers["id"].to_numpy(), "department": department})


def _forced(
    rng: np.random.Generator, customers: pd.DataFrame, created_us: np.ndarray, end_us: int
) -> dict[int, str]:
    """A few old self-serve customers per rare behaviour, so every scale shows each of them."""
    eligible = np.flatnonzero(
        ~customers["is_test"].to_numpy()
        & (customers["plan_segment"].to_numpy() != "enterprise")
        & (created_us <= end_us - 400 * DAY_US)
    )
    per = max(2, len(customers) // 600)
    chosen = rng.choice(eligible, size=min(len(eligible), per * len(FORCED)), replace=False)
    return {int(i): FORCED[k % len(FORCED)] for k, i in enumerate(chosen)}


def _users(rng: np.random.Generator, customers: pd.DataFrame, created_us: np.ndarray,
           end_us: int) -> tuple[pd.DataFrame, np.ndarray]:  # fmt: skip
    segment = customers["plan_segment"].to_numpy()
    count = np.empty(len(customers), dtype=np.int64)
    for name, weights in USERS_PER_CUSTOMER.items():
        mask = segment == name
        count[mask] = 1 + rng.choice(5, size=mask.sum(), p=weights)
    cust_idx = np.repeat(np.arange(len(customers)), count)
    rank = np.arange(len(cust_idx)) - np.repeat(np.cumsum(count) - count, count)  # 0 = the owner
    invited = rng.exponential(25 * DAY_US, size=len(cust_idx)).astype(np.int64)
    created = created_us[cust_idx] + np.where(rank == 0, 0, invited)
    keep = created < end_us
    cust_idx, rank, created = cust_idx[keep], rank[keep], created[keep]
    order = np.lexsort((rank, cust_idx, created))
    cust_idx, rank, created = cust_idx[order], rank[order], created[order]
    n = len(created)
    role = np.where(
        rank == 0,
        "owner",
        np.array(["admin", "member", "viewer"])[rng.choice(3, size=n, p=(0.25, 0.55, 0.2))],
    )
    first = np.array(_FIRST)[rng.integers(len(_FIRST), size=n)]
    last = np.array(_LAST)[rng.integers(len(_LAST), size=n)]
    slugs = np.array([_slug(name) for name in customers["account_name"]], dtype=object)[cust_idx]
    is_test = customers["is_test"].to_numpy()[cust_idx]
    cust_ids = customers["id"].to_numpy()[cust_idx]
    email = [
        f"qa.{c}.{r}@nexpo.test" if t else f"{f.lower()}.{la.lower()}@{a}.example"
        for f, la, a, t, c, r in zip(first, last, slugs, is_test, cust_ids, rank, strict=True)
    ]
    frame = pd.DataFrame({
        "id": np.arange(1, n + 1, dtype=np.int64),
        "customer_id": cust_ids,
        "distinct_id": uuid7(rng, created),
        "email": email,
        "created_at": to_ts(created),
        "role": role,
    })  # fmt: skip
    return frame, created


def _slug(name: str) -> str:
    return "".join(ch for ch in name.lower().replace(" ", "-") if ch.isalnum() or ch == "-")
