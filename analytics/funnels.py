"""PostHog funnels (METRICS.md A.5.1) as set-based SQL: step counts, first-touch breakdown, time to convert.

How the SQL mirrors PostHog's funnel UDF (`funnel-udf/src/steps.rs`):
- ordered: the UDF keeps, per step k, the attempt (its step-1 timestamp) that most recently reached
  k; a step-k event advances the attempt held at step k-1 when `ts - start <= window`. That slot
  always holds the latest start that reached k-1, so per event row
  `b_k = running MAX(CASE WHEN step k AND ts - LAG(b_{k-1}) <= window THEN LAG(b_{k-1}) END)`;
  one window layer per step, no per-person loop. A person's furthest step is the largest k with
  a non-null b_k. LAG makes consecutive steps with the same event need two distinct events.
  The step counts use an equivalent, cheaper form (`_chain_ctes`: each step-1 event's greedy
  chain, n-1 window layers); time to convert keeps the b_k layers, which identify the attempt.
- strict: rows are all of the person's events; a row that does not match step k clears slot k, a
  row that matches it keeps it, so b_k is the running MAX of advances within each run of
  consecutive step-k rows.
- unordered: for every event of the person, the number of distinct steps with an event in
  [ts, ts + window]; the person's furthest step is the maximum (identical timestamps count, as
  in PostHog's sliding-window UDF).
- Identical timestamps (D.7.11): rows are ordered by (timestamp, step number), so a step-1
  and a step-2 event at the same instant convert; rows tied on both are the same event at the
  same instant, interchangeable. (PostHog also skips strict clearing among such
  ties; here a non-step event at the same instant sorts after the step events.)
- Every event of every step must lie in [start, end] (local days): a conversion after `end` does
  not count. Window inclusive, measured from the step-1 event, in seconds (window_days x 86,400).
"""

from __future__ import annotations

from typing import Literal

import pandas as pd
from pydantic import Field, field_validator, model_validator

from analytics._product_sql import (
    check_property,
    day_range,
    epoch,
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


def _funnel_ctes(params: FunnelParams, *, layers: bool = False) -> tuple[str, dict[str, object]]:
    """CTEs ending in `reached(pid, max_step)`; with `layers`, also `layers` (b_1..b_n per row).

    `fe` holds the funnel-step events in range of the persons who did step 1 in range: pid, es
    (epoch seconds), ord (first step the event matches), m1..mn; for strict funnels also `arn`,
    the row's position among all of the person's events in range. Rows tied on (es, ord) are the
    same event at the same instant, so their relative order never changes a result; no uuid
    tie-break is needed.
    """
    n = len(params.steps)
    steps_in, step_bind = in_list("step", params.steps)
    bind: dict[str, object] = {
        **step_bind,
        **{f"s{k}": name for k, name in enumerate(params.steps, start=1)},
        "win": float(params.window_days * 86400),
        **day_range(params.start, params.end, params.timezone),
    }
    flags = ", ".join(f"(e.event = :s{k}) AS m{k}" for k in range(1, n + 1))
    ms = ", ".join(f"m{k}" for k in range(1, n + 1))
    order = (
        "CASE "
        + " ".join(f"WHEN e.event = :s{k} THEN {k}" for k in range(1, n + 1))
        + f" ELSE {n + 1} END"
    )
    in_range = (
        "e.timestamp >= :t0 AND e.timestamp < :t1 AND e.person_id IS NOT NULL "
        f"AND {not_test_account('e.person_id')}"
    )
    if params.mode == "strict":
        # Any event of the person breaks a strict chain, but only events between the person's
        # first step-1 event and last step event can sit between two step events. Rank the step
        # events among those (ties in (timestamp, step) are identical rows, and other events
        # sort after step events at the same instant), then keep the step events: a gap in
        # `arn` means another event came in between.
        nulls = ", ".join("NULL" for _ in range(n))
        events = f"""
        fs AS (
            SELECT e.person_id AS pid, e.timestamp AS ts, {order} AS ord, {flags}
            FROM events e
            WHERE {in_range} AND e.event IN {steps_in}
        ),
        bounds AS (
            SELECT pid, MIN(CASE WHEN m1 THEN ts END) AS lo, MAX(ts) AS hi
            FROM fs GROUP BY pid HAVING MIN(CASE WHEN m1 THEN ts END) IS NOT NULL
        ),
        fr AS (
            SELECT pid, ts, ord, {ms}, ROW_NUMBER() OVER (PARTITION BY pid ORDER BY ts, ord) AS arn
            FROM (
                SELECT f.pid, f.ts, f.ord, {", ".join(f"f.m{k}" for k in range(1, n + 1))}
                FROM fs f JOIN bounds b ON b.pid = f.pid
                WHERE f.ts >= b.lo
                UNION ALL
                SELECT e.person_id, e.timestamp, {n + 1}, {nulls}
                FROM events e JOIN bounds b ON b.pid = e.person_id
                WHERE e.timestamp >= :t0 AND e.timestamp < :t1
                  AND e.timestamp >= b.lo AND e.timestamp <= b.hi
                  AND (e.event IS NULL OR e.event NOT IN {steps_in})
            ) u
        ),
        fe AS (SELECT pid, {epoch("ts")} AS es, ord, arn, {ms} FROM fr WHERE ord <= {n})"""
    elif params.mode == "ordered":
        events = f"""
        fs AS (
            SELECT e.person_id AS pid, {epoch("e.timestamp")} AS es, {order} AS ord, {flags}
            FROM events e
            WHERE {in_range} AND e.event IN {steps_in}
        ),
        fe AS (SELECT * FROM fs WHERE pid IN (SELECT pid FROM fs WHERE m1))"""
    else:
        events = f"""
        fe AS (
            SELECT e.person_id AS pid, {epoch("e.timestamp")} AS es, {order} AS ord, {flags}
            FROM events e
            WHERE {in_range} AND e.event IN {steps_in}
        )"""
    if params.mode == "unordered":
        has = ", ".join(f"MAX(CASE WHEN m{k} THEN 1 ELSE 0 END) AS h{k}" for k in range(1, n + 1))
        nxt = ", ".join(
            f"MIN(CASE WHEN h{k} = 1 THEN es END) OVER w AS n{k}" for k in range(1, n + 1)
        )
        count = " + ".join(
            f"(CASE WHEN n{k} - es <= :win THEN 1 ELSE 0 END)" for k in range(1, n + 1)
        )
        sql = f"""{events},
        points AS (SELECT pid, es, {has} FROM fe GROUP BY pid, es),
        ahead AS (
            SELECT pid, es, {nxt} FROM points
            WINDOW w AS (PARTITION BY pid ORDER BY es ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)
        ),
        reached AS (SELECT pid, MAX({count}) AS max_step FROM ahead GROUP BY pid)"""
        return sql, bind
    if params.mode == "ordered" and not layers:
        return f"{events},\n        {_chain_ctes(n)}", bind

    window = "PARTITION BY pid ORDER BY rn"
    running = f"{window} ROWS UNBOUNDED PRECEDING"
    if params.mode == "strict":
        # r_k counts the rows (of all events) that do not match step k: a run of consecutive
        # step-k rows shares one r_k. Non-step rows before this one: arn - rn.
        runs = "".join(
            f", SUM(CASE WHEN m{k} THEN 0 ELSE 1 END) OVER (PARTITION BY pid ORDER BY arn ROWS UNBOUNDED PRECEDING)"
            f" + arn - ROW_NUMBER() OVER (PARTITION BY pid ORDER BY arn) AS r{k}"
            for k in range(2, n + 1)
        )
        steps = [
            f"l1 AS (SELECT fe.*, ROW_NUMBER() OVER (PARTITION BY pid ORDER BY arn) AS rn, "
            f"CASE WHEN m1 THEN es END AS b1{runs} FROM fe)"
        ]
        for k in range(2, n + 1):
            # The previous row of all events is this row's previous step row only when adjacent.
            prev = f"CASE WHEN LAG(arn) OVER ({window}) = arn - 1 THEN LAG(b{k - 1}) OVER ({window}) END"
            steps.append(
                f"l{k} AS (SELECT q.*, CASE WHEN m{k} THEN MAX(a{k}) OVER (PARTITION BY pid, r{k} ORDER BY rn ROWS UNBOUNDED PRECEDING) END AS b{k} "
                f"FROM (SELECT l{k - 1}.*, CASE WHEN m{k} AND es - ({prev}) <= :win "
                f"THEN {prev} END AS a{k} FROM l{k - 1}) q)"
            )
    else:
        steps = [
            "l1 AS (SELECT fe.*, ROW_NUMBER() OVER (PARTITION BY pid ORDER BY es, ord) AS rn, "
            "MAX(CASE WHEN m1 THEN es END) OVER (PARTITION BY pid ORDER BY es, ord ROWS UNBOUNDED PRECEDING) AS b1 FROM fe)"
        ]
        for k in range(2, n + 1):
            steps.append(
                f"l{k} AS (SELECT q.*, MAX(CASE WHEN m{k} AND es - p{k} <= :win THEN p{k} END) OVER ({running}) AS b{k} "
                f"FROM (SELECT l{k - 1}.*, LAG(b{k - 1}) OVER ({window}) AS p{k} FROM l{k - 1}) q)"
            )
    furthest = (
        "CASE " + " ".join(f"WHEN b{k} IS NOT NULL THEN {k}" for k in range(n, 0, -1)) + " END"
    )
    sql = f"""{events},
        {", ".join(steps)},
        layers AS MATERIALIZED (SELECT * FROM l{n}),
        reached AS (SELECT pid, MAX({furthest}) AS max_step FROM layers GROUP BY pid HAVING MAX({furthest}) IS NOT NULL)"""
    return sql, bind


def _chain_ctes(n: int) -> str:
    """`reached` of an ordered funnel from each step-1 event's greedy chain (no per-step state).

    A person reaches step k iff some step-1 event s is followed by events of steps 2..k in that
    order with the step-k event within the window of s (the UDF's latest-start slots reach k
    exactly then). The greedy chain (first step-2 event after s, first step-3 event after that,
    ...) reaches each step earliest, and the time c_k^j(r) at which the chain that looks for step
    j strictly after row r meets step k is monotone in r, so c_k^j(r) = MIN over the later
    step-j rows q of c_k^(j+1)(q): one window layer per step, over the step events only. Later
    rows come first in the descending order, so every frame starts at the partition's start
    (incremental on both engines).
    """
    if n == 1:
        return "reached AS (SELECT pid, 1 AS max_step FROM fe WHERE m1 GROUP BY pid)"
    after = "OVER (PARTITION BY pid ORDER BY es DESC, ord DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
    ms = ", ".join(f"m{k}" for k in range(1, n + 1))
    first = ", ".join(
        f"MIN(CASE WHEN m{k} THEN es END) {after} AS c{k}_{k}" for k in range(2, n + 1)
    )
    ctes = [f"x1 AS (SELECT pid, es, ord, {ms}, {first} FROM fe)"]
    for layer in range(2, n):
        keep = ", ".join(f"c{k}_2" for k in range(2, layer + 1))
        cols = ", ".join(
            f"MIN(CASE WHEN m{k - layer + 1} THEN c{k}_{k - layer + 2} END) {after} AS c{k}_{k - layer + 1}"
            for k in range(layer + 1, n + 1)
        )
        # Only rows of step 1 (where the result is read) and of the steps this layer and later
        # ones look for (2..n-layer+1) matter from here on.
        needed = " OR ".join(f"m{j}" for j in [1, *range(2, n - layer + 2)])
        ctes.append(
            f"x{layer} AS (SELECT pid, es, ord, {ms}, {keep}, {cols} FROM x{layer - 1} WHERE {needed})"
        )
    reached = " + ".join(
        f"(CASE WHEN c{k}_2 - es <= :win THEN 1 ELSE 0 END)" for k in range(2, n + 1)
    )
    ctes.append(
        f"reached AS (SELECT pid, MAX(1 + {reached}) AS max_step FROM x{n - 1} WHERE m1 GROUP BY pid)"
    )
    return ",\n        ".join(ctes)


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
    ctes, bind = _funnel_ctes(params)
    found = source.fetch(
        Query(
            f"WITH {ctes} SELECT max_step, COUNT(*) AS persons FROM reached GROUP BY max_step", bind
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
    ctes, bind = _funnel_ctes(params)
    steps_in, _ = in_list("step", params.steps)
    sql = f"""
        WITH {ctes},
        touch AS (
            SELECT pid, value FROM (
                SELECT e.person_id AS pid, e.properties ->> :prop AS value,
                       ROW_NUMBER() OVER (PARTITION BY e.person_id ORDER BY e.timestamp, e.uuid) AS rn
                FROM events e
                WHERE e.timestamp >= :t0 AND e.timestamp < :t1 AND e.event IN {steps_in}
                  AND e.properties ->> :prop IS NOT NULL AND e.person_id IN (SELECT pid FROM reached)
            ) t WHERE rn = 1
        )
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
    ctes, bind = _funnel_ctes(params, layers=True)
    furthest_b = (
        "CASE r.max_step " + " ".join(f"WHEN {k} THEN l.b{k}" for k in range(1, n + 1)) + " END"
    )
    times = ", ".join(
        f"MIN(CASE WHEN l.b{k} = a.s AND a.max_step >= {k} THEN l.es END) AS t{k}"
        for k in range(1, n + 1)
    )
    gaps = " UNION ALL ".join(
        f"SELECT {k} AS step, t{k} - t{k - 1} AS gap FROM times WHERE t{k} IS NOT NULL"
        for k in range(2, n + 1)
    )
    sql = f"""
        WITH {ctes},
        first_rn AS (
            SELECT r.pid, r.max_step, MIN(CASE WHEN {furthest_b} IS NOT NULL THEN l.rn END) AS rn
            FROM reached r JOIN layers l ON l.pid = r.pid
            GROUP BY r.pid, r.max_step
        ),
        attempt AS (
            SELECT f.pid, f.max_step, {furthest_b.replace("r.max_step", "f.max_step")} AS s
            FROM first_rn f JOIN layers l ON l.pid = f.pid AND l.rn = f.rn
        ),
        times AS (
            SELECT a.pid, {times}
            FROM attempt a JOIN layers l ON l.pid = a.pid
            GROUP BY a.pid
        ),
        gaps AS ({gaps if n > 1 else "SELECT 2 AS step, CAST(NULL AS DOUBLE PRECISION) AS gap FROM times WHERE 1 = 0"})
        SELECT step, AVG(CASE WHEN gap > 0 THEN gap END) AS avg_seconds,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY CASE WHEN gap > 0 THEN gap END) AS median_seconds
        FROM gaps GROUP BY step
    """
    timing = source.fetch(Query(sql, bind)).set_index("step")
    timing.index = timing.index.astype(int)
    counts = funnel(source, params)
    for column in ("avg_seconds", "median_seconds"):
        counts[column] = nullable(
            [timing.at[k, column] if k in timing.index else None for k in counts["step"]]
        )
    return counts
