"""PostHog funnels (METRICS.md A.5.1) as set-based SQL: step counts, first-touch breakdown, time to convert.

What is counted, as in PostHog's funnel UDF (`funnel-udf/src/steps.rs`):
- ordered: the UDF keeps, per step k, the attempt (its step-1 timestamp) that most recently reached
  k; a step-k event advances the attempt held at step k-1 when `ts - start <= window`. A person's
  furthest step is the largest k an attempt reached; time to convert reads the first attempt
  that reached it. Consecutive steps with the same event need two distinct events.
- strict: rows are all of the person's events; a row that does not match step k clears slot k, a
  row that matches it keeps it.
- unordered: for every event of the person, the number of distinct steps with an event in
  [ts, ts + window]; the person's furthest step is the maximum (identical timestamps count, as
  in PostHog's sliding-window UDF).
- Identical timestamps (D.7.11): rows are ordered by (timestamp, step number), so a step-1
  and a step-2 event at the same instant convert; rows tied on both are the same event at the
  same instant, interchangeable. (PostHog also skips strict clearing among such
  ties; here a non-step event at the same instant sorts after the step events.)
- Every event of every step must lie in [start, end] (local days): a conversion after `end` does
  not count. Window inclusive, measured from the step-1 event, in seconds (window_days x 86,400).

How the SQL computes it (`_funnel_ctes`, builders in analytics/_funnel_sql.py):
- Times are integer epoch microseconds (`micros`), so window comparisons are exact. The step
  events in range are read once (`fs`); test accounts are dropped per person, not per event.
- ordered and strict: on DuckDB, a person with one step-1 event in range (nearly everyone) has a
  single attempt, found with one join and MIN per step and no sort (`ordered_single`,
  `strict_single`). Persons with several step-1 events, everyone when a step name repeats, and
  everyone on PostgreSQL (`_JOIN_FORM`) take window layers (`ordered_multi`: every step-1
  event's greedy chain; `strict_multi`: a replay of the UDF's slots). Each gives per person
  the furthest step, and for time to convert the attempt counted and its step times.
- unordered: one aggregate decides most persons, a window layer the rest (`unordered_ctes`).
- Dialects differ in `micros`, the step-name filter (`step_filter`), `_JOIN_FORM` and the
  breakdown's first-touch aggregate; the tests run both forms on both engines.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd
from pydantic import Field, field_validator, model_validator

from analytics._funnel_sql import (
    depth,
    joined,
    micros,
    ordered_multi,
    ordered_single,
    step_filter,
    strict_multi,
    strict_single,
    unordered_ctes,
)
from analytics._product_sql import (
    check_property,
    day_range,
    in_list,
    not_test_account,
    nullable,
    property_key,
)
from analytics.catalog import metric
from analytics.params import PeriodParams
from datasources.base import Fetcher, Query

FunnelMode = Literal["ordered", "strict", "unordered"]
MAX_STEPS = 20

# Dialects whose ordered and strict funnels take the join form for persons with one step-1 event.
# DuckDB always hashes those joins; PostgreSQL's row estimates for CTEs are poor enough to pick
# nested loops over them, so there everyone takes the window layers. Tests switch it to run each
# form on each engine.
_JOIN_FORM = frozenset({"duckdb"})

Output = Literal["reached", "tally", "attempts"]
_TALLY = "tally AS (SELECT max_step, COUNT(*) AS persons FROM reached GROUP BY max_step)"


class FunnelParams(PeriodParams):
    """Steps, period, conversion window and step order of a PostHog funnel."""

    steps: list[str] = Field(
        description="Event names in order, as a list or a comma-separated string"
    )
    window_days: int = Field(
        14, ge=1, le=3650, description="Conversion window from the step-1 event, days (inclusive)"
    )
    mode: FunnelMode = Field("ordered", description="ordered | strict | unordered")

    @field_validator("steps", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",")]
        return value

    @model_validator(mode="after")
    def _valid_steps(self) -> FunnelParams:
        if not 1 <= len(self.steps) <= MAX_STEPS or any(not s for s in self.steps):
            raise ValueError(
                f"steps: give 1 to {MAX_STEPS} non-empty event names, e.g. signup_started,signup_completed"
            )
        if self.mode == "unordered" and len(set(self.steps)) != len(self.steps):
            raise ValueError("steps: an unordered funnel cannot repeat an event name")
        return self


class FunnelBreakdownParams(FunnelParams):
    """A funnel broken down by an event property, first-touch attribution."""

    breakdown: str = Field(description="Event property, e.g. utm_source ($browser, ...)")

    @field_validator("breakdown")
    @classmethod
    def _property(cls, value: str) -> str:
        return check_property(value)


class TimeToConvertParams(FunnelParams):
    """An ordered or strict funnel whose conversion times are reported."""

    mode: Literal["ordered", "strict"] = Field("ordered", description="ordered | strict")


def step_labels(params: FunnelParams) -> list[str]:
    """Event name per step; unordered funnels use PostHog's 'Completed N steps' labels."""
    if params.mode == "unordered":
        return [
            f"Completed {k} step{'s' if k > 1 else ''}" for k in range(1, len(params.steps) + 1)
        ]
    return list(params.steps)


def _funnel_ctes(
    params: FunnelParams, dialect: str, *, output: Output = "reached"
) -> tuple[str, dict[str, object]]:
    """CTEs ending in `output`: `reached(pid, max_step)` (each person's furthest step),
    `tally(max_step, persons)` (persons per furthest step; a value may come in several rows) or,
    for ordered and strict funnels, `attempts(pid, depth, u1..un)`: per person, the attempt
    counted (the first to reach the furthest step) and its step times in epoch microseconds
    (NULL past `depth`).

    `fs` holds the funnel-step events in range: pid, us (epoch microseconds), ord (the first step
    the event matches) and, when a step name repeats, flags m1..mn. Rows tied on (us, ord) are
    the same event at the same instant, so their relative order never changes a result.
    """
    n = len(params.steps)
    steps_in, step_bind = in_list("step", params.steps)
    bind: dict[str, object] = {
        **step_bind,
        **{f"s{k}": name for k, name in enumerate(params.steps, start=1)},
        "win": params.window_days * 86_400_000_000,
        **day_range(params.start, params.end, params.timezone),
    }
    order = (
        "CASE "
        + joined("WHEN e.event = :s{k} THEN {k}", range(1, n + 1), " ")
        + f" ELSE {n + 1} END"
    )
    distinct = len(set(params.steps)) == n
    # Step k matches: ord = k when the names are distinct, flags m1..mn when one repeats.
    flags = "" if distinct else ", " + joined("(ev = :s{k}) AS m{k}", range(1, n + 1))
    fe_flags = joined("(f.ord = {k}) AS m{k}" if distinct else "f.m{k}", range(1, n + 1))
    which, names = step_filter(params, dialect, exact=False)
    bind |= names
    ctes = [
        f"""fs AS (
            SELECT pid, us, ord{flags} FROM (
                SELECT e.person_id AS pid, {micros("e.timestamp", dialect)} AS us, {order} AS ord,
                       e.event AS ev
                FROM events e
                WHERE e.timestamp >= :t0 AND e.timestamp < :t1 AND e.person_id IS NOT NULL
                  AND {which}
            ) s WHERE ord <= {n}
        )"""
    ]
    if params.mode == "unordered":
        ctes += unordered_ctes(n)
        if output == "tally":
            ctes.append(_TALLY)
        return ",\n        ".join(ctes), bind
    # Persons who did step 1 (test accounts and filtered-out accounts dropped here, once per
    # person): n1 step-1 events, the first at s.
    ctes.append(
        f"""starts AS (
            SELECT g.pid, g.n1, g.s
            FROM (SELECT pid, COUNT(*) AS n1, MIN(us) AS s FROM fs WHERE ord = 1 GROUP BY pid) g
            WHERE {not_test_account("g.pid")}
        )"""
    )
    # The join form needs each event to match one step: with a repeated event name every
    # person takes the window form.
    single = n > 1 and distinct and dialect in _JOIN_FORM
    attempts = output == "attempts"
    # Ordered persons with one step-1 event are tallied from the chain's steps directly.
    direct = single and params.mode == "ordered" and output == "tally"
    if n == 1:
        ctes.append("single AS (SELECT pid, s AS u1 FROM starts)")
    else:
        many = "a.n1 > 1" if single else "a.n1 >= 1"
        if params.mode == "ordered":
            ctes += ordered_single(n, per_person=not direct) if single else []
            ctes += ordered_multi(n, many, fe_flags, attempts)
        else:
            ctes += strict_single(n, steps_in, dialect) if single else []
            ctes += strict_multi(n, many, fe_flags, steps_in, dialect, attempts)
    # Per person: one row from `single` (its only attempt) or `multi`/`mdepth` (the others).
    paths = (["single"] if single or n == 1 else []) + (["multi"] if n > 1 else [])
    if attempts:
        cols = f"{depth(n)} AS depth, {joined('u{k}', range(1, n + 1))}"
        union = " UNION ALL ".join(f"SELECT pid, {cols} FROM {path}" for path in paths)
        ctes.append(f"attempts AS ({union})")
    elif direct:
        # o_k holds the persons reaching step k: those who stop at k are o_k less o_(k+1).
        reach = " UNION ALL ".join(
            f"SELECT {k} AS k, COUNT(*) AS c FROM o{k}" for k in range(1, n + 1)
        )
        ctes.append(
            "tally AS (SELECT k AS max_step, c - COALESCE(LEAD(c) OVER (ORDER BY k), 0) AS persons "
            f"FROM ({reach}) o UNION ALL SELECT depth, COUNT(*) FROM mdepth GROUP BY depth)"
        )
    else:
        rows = {
            "single": f"SELECT pid, {depth(n)} AS max_step FROM single",
            "multi": "SELECT pid, depth AS max_step FROM mdepth",
        }
        ctes.append(f"reached AS ({' UNION ALL '.join(rows[path] for path in paths)})")
        if output == "tally":
            ctes.append(_TALLY)
    return ",\n        ".join(ctes), bind


def _cumulative(found: pd.DataFrame, n: int) -> list[int]:
    """Persons per furthest step -> persons who reached at least step k, k = 1..n (A.5.1)."""
    by_step = {int(s): int(c) for s, c in zip(found["max_step"], found["persons"], strict=True)}
    return [sum(c for s, c in by_step.items() if s >= k) for k in range(1, n + 1)]


@metric(
    "funnel",
    params=FunnelParams,
    columns=("step", "event", "count"),
    definition="PostHog funnel: persons reaching each step (cumulative), window from the step-1 event, all events inside the period",
    group="product",
)
def funnel(source: Fetcher, params: FunnelParams) -> pd.DataFrame:
    """Persons whose furthest attempt reached step k or further, k = 1..len(steps).

    Args:
        source: warehouse holding the D.1 tables.
        params: steps, start, end, window_days, mode (ordered | strict | unordered), timezone.

    Returns:
        DataFrame with columns step (1-based), event (step label), count.
    """
    ctes, bind = _funnel_ctes(params, source.dialect, output="tally")
    found = source.fetch(
        Query(
            f"WITH {ctes} SELECT max_step, SUM(persons) AS persons FROM tally GROUP BY max_step",
            bind,
        )
    )
    n = len(params.steps)
    return pd.DataFrame(
        {
            "step": list(range(1, n + 1)),
            "event": step_labels(params),
            "count": _cumulative(found, n),
        }
    )


@metric(
    "funnel_breakdown",
    params=FunnelBreakdownParams,
    columns=("breakdown", "step", "event", "count"),
    definition="Funnel per value of an event property, first-touch: a person's first non-null value among their funnel events",
    group="product",
)
def funnel_breakdown(source: Fetcher, params: FunnelBreakdownParams) -> pd.DataFrame:
    """The funnel split by `breakdown`, attribution first_touch (one value per person).

    A person's value is the property on their earliest funnel-step event in the period that has
    it; persons with no value are grouped under breakdown None. Values are ordered by step-1
    count, largest first.

    Args:
        source: warehouse holding the D.1 tables.
        params: the funnel parameters plus breakdown (event property name).

    Returns:
        DataFrame with columns breakdown, step, event, count.
    """
    ctes, bind = _funnel_ctes(params, source.dialect)
    steps, _ = step_filter(params, source.dialect, exact=True)
    rows = f"""FROM events e
                WHERE e.timestamp >= :t0 AND e.timestamp < :t1 AND {steps}
                  AND e.properties ->> :prop IS NOT NULL AND e.person_id IN (SELECT pid FROM reached)"""
    if source.dialect == "duckdb":  # an aggregate, cheaper than a window there
        touch = f"""SELECT e.person_id AS pid, arg_min(e.properties ->> :prop, (e.timestamp, e.uuid)) AS value
                {rows}
                GROUP BY e.person_id"""
    else:
        touch = f"""SELECT pid, value FROM (
                SELECT e.person_id AS pid, e.properties ->> :prop AS value,
                       ROW_NUMBER() OVER (PARTITION BY e.person_id ORDER BY e.timestamp, e.uuid) AS rn
                {rows}
            ) t WHERE rn = 1"""
    sql = f"""
        WITH {ctes},
        touch AS ({touch})
        SELECT t.value AS breakdown, r.max_step, COUNT(*) AS persons
        FROM reached r LEFT JOIN touch t ON t.pid = r.pid
        GROUP BY t.value, r.max_step
    """
    prop = property_key(params.breakdown, source.dialect)
    found = source.fetch(Query(sql, {**bind, "prop": prop}))
    n = len(params.steps)
    labels = step_labels(params)
    found["breakdown"] = [None if v is None or pd.isna(v) else str(v) for v in found["breakdown"]]
    groups = []
    for value, rows in found.groupby("breakdown", dropna=False, sort=False):
        groups.append((None if pd.isna(value) else value, _cumulative(rows, n)))
    groups.sort(key=lambda g: (-g[1][0], g[0] is None, g[0] or ""))
    out = [
        {"breakdown": value, "step": k, "event": labels[k - 1], "count": counts[k - 1]}
        for value, counts in groups
        for k in range(1, n + 1)
    ]
    return pd.DataFrame(out, columns=["breakdown", "step", "event", "count"])


@metric(
    "funnel_time_to_convert",
    params=TimeToConvertParams,
    columns=("step", "event", "count", "avg_seconds", "median_seconds"),
    definition="Funnel with mean and median seconds from the previous step, over persons reaching the step (0-second gaps excluded)",
    group="product",
)
def funnel_time_to_convert(source: Fetcher, params: TimeToConvertParams) -> pd.DataFrame:
    """Per step k > 1: average and median of (t_k - t_{k-1}) over persons whose furthest attempt reached k.

    As in PostHog, a person's timings come from the first attempt that reached their furthest
    step, and 0-second gaps are left out (`groupArrayIf(t, t > 0)`). The median is exact
    (percentile_cont 0.5, interpolated) where ClickHouse's is approximate.

    Args:
        source: warehouse holding the D.1 tables.
        params: steps, start, end, window_days, mode (ordered | strict), timezone.

    Returns:
        DataFrame with columns step, event, count (persons reaching the step), avg_seconds and
        median_seconds (None for step 1 and when no person has a positive gap).
    """
    n = len(params.steps)
    ctes, bind = _funnel_ctes(params, source.dialect, output="attempts")
    per_step = [
        "SELECT 1 AS step, COUNT(*) AS persons, CAST(NULL AS DOUBLE PRECISION) AS avg_seconds, "
        "CAST(NULL AS DOUBLE PRECISION) AS median_seconds FROM attempts"
    ]
    for k in range(2, n + 1):
        per_step.append(
            f"SELECT {k}, COUNT(*), AVG(CASE WHEN gap > 0 THEN gap END), "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY CASE WHEN gap > 0 THEN gap END) "
            f"FROM (SELECT CAST(u{k} - u{k - 1} AS DOUBLE PRECISION) / 1000000 AS gap "
            f"FROM attempts WHERE u{k} IS NOT NULL) g{k}"
        )
    sql = f"WITH {ctes}\n" + "\nUNION ALL ".join(per_step)
    found = source.fetch(Query(sql, bind)).sort_values("step")
    return pd.DataFrame(
        {
            "step": list(range(1, n + 1)),
            "event": step_labels(params),
            "count": [int(c) for c in found["persons"]],
            "avg_seconds": nullable(list(found["avg_seconds"])),
            "median_seconds": nullable(list(found["median_seconds"])),
        }
    )
