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

How the SQL computes it (`_funnel_ctes`):
- Times are integer epoch microseconds (`_micros`), so window comparisons are exact. The step
  events in range are read once (`fs`); test accounts are dropped per person, not per event.
- ordered and strict: on DuckDB, a person with one step-1 event in range (nearly everyone) has a
  single attempt, found with one join and MIN per step and no sort (`_ordered_single`,
  `_strict_single`). Persons with several step-1 events, everyone when a step name repeats, and
  everyone on PostgreSQL (`_JOIN_FORM`) take window layers (`_ordered_multi`: every step-1
  event's greedy chain; `_strict_multi`: a replay of the UDF's slots). Each gives per person
  the furthest step, and for time to convert the attempt counted and its step times.
- unordered: one aggregate decides most persons, a window layer the rest (`_unordered_ctes`).
- Dialects differ in `_micros`, the step-name filter (`_step_filter`), `_JOIN_FORM` and the
  breakdown's first-touch aggregate; the tests run both forms on both engines.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd
from pydantic import Field, field_validator, model_validator

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


def _micros(column: str, dialect: str) -> str:
    """`column` (TIMESTAMPTZ) as BIGINT microseconds since 1970: exact window arithmetic.

    Integers compare exactly where seconds as DOUBLE could round at the window's edge, and DuckDB's
    `epoch_us` is far cheaper than EXTRACT (PostgreSQL's EXTRACT is numeric, exact to the us).
    """
    if dialect == "duckdb":
        return f"epoch_us({column})"
    return f"CAST(EXTRACT(EPOCH FROM {column}) * 1000000 AS BIGINT)"


def _e_within(lo: str, hi: str, dialect: str) -> str:
    """`e.timestamp` in [lo, hi], bounds in epoch microseconds; compared as timestamps on
    PostgreSQL, so its (person_id, timestamp) index serves the range."""
    if dialect == "duckdb":
        us = _micros("e.timestamp", dialect)
        return f"{us} >= {lo} AND {us} <= {hi}"
    at = "TIMESTAMPTZ 'epoch' + ({}) * INTERVAL '1 microsecond'"
    return f"e.timestamp >= {at.format(lo)} AND e.timestamp <= {at.format(hi)}"


def _list(template: str, ks: range | list[int], sep: str = ", ") -> str:
    """`template` formatted with k (and j = k - 1) for each k, joined by `sep`."""
    return sep.join(template.format(k=k, j=k - 1) for k in ks)


def _depth(n: int) -> str:
    """The step an attempt reached from its times u1..un (non-null for steps 1..depth)."""
    return "1" + "".join(
        f" + (CASE WHEN u{k} IS NOT NULL THEN 1 ELSE 0 END)" for k in range(2, n + 1)
    )


def _step_filter(
    params: FunnelParams, dialect: str, *, exact: bool
) -> tuple[str, dict[str, object]]:
    """A condition on `e.event` keeping the step events (`exact`) or a superset, and its binds.

    On DuckDB a range of names is a filter the scan applies itself (an IN list is only evaluated
    after the scan), so it comes first. PostgreSQL gets the IN list, which its (event, timestamp)
    index serves.
    """
    steps_in, bind = in_list("step", params.steps)
    if dialect != "duckdb":
        return f"e.event IN {steps_in}", bind
    names = sorted(params.steps)
    bind = {"ev_lo": names[0], "ev_hi": names[-1], **(bind if exact else {})}
    return "e.event BETWEEN :ev_lo AND :ev_hi" + (
        f" AND e.event IN {steps_in}" if exact else ""
    ), bind


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
        + _list("WHEN e.event = :s{k} THEN {k}", range(1, n + 1), " ")
        + f" ELSE {n + 1} END"
    )
    distinct = len(set(params.steps)) == n
    # Step k matches: ord = k when the names are distinct, flags m1..mn when one repeats.
    flags = "" if distinct else ", " + _list("(ev = :s{k}) AS m{k}", range(1, n + 1))
    fe_flags = _list("(f.ord = {k}) AS m{k}" if distinct else "f.m{k}", range(1, n + 1))
    which, names = _step_filter(params, dialect, exact=False)
    bind |= names
    ctes = [
        f"""fs AS (
            SELECT pid, us, ord{flags} FROM (
                SELECT e.person_id AS pid, {_micros("e.timestamp", dialect)} AS us, {order} AS ord,
                       e.event AS ev
                FROM events e
                WHERE e.timestamp >= :t0 AND e.timestamp < :t1 AND e.person_id IS NOT NULL
                  AND {which}
            ) s WHERE ord <= {n}
        )"""
    ]
    if params.mode == "unordered":
        ctes += _unordered_ctes(n)
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
            ctes += _ordered_single(n, per_person=not direct) if single else []
            ctes += _ordered_multi(n, many, fe_flags, attempts)
        else:
            ctes += _strict_single(n, steps_in, dialect) if single else []
            ctes += _strict_multi(n, many, fe_flags, steps_in, dialect, attempts)
    # Per person: one row from `single` (its only attempt) or `multi`/`mdepth` (the others).
    paths = (["single"] if single or n == 1 else []) + (["multi"] if n > 1 else [])
    if attempts:
        cols = f"{_depth(n)} AS depth, {_list('u{k}', range(1, n + 1))}"
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
            "single": f"SELECT pid, {_depth(n)} AS max_step FROM single",
            "multi": "SELECT pid, depth AS max_step FROM mdepth",
        }
        ctes.append(f"reached AS ({' UNION ALL '.join(rows[path] for path in paths)})")
        if output == "tally":
            ctes.append(_TALLY)
    return ",\n        ".join(ctes), bind


def _ordered_single(n: int, *, per_person: bool = True) -> list[str]:
    """`o1..on` (persons reaching step k, at u_k) and with `per_person` `single(pid, u1..un)`:
    ordered attempts of the persons with one step-1 event.

    Their only attempt is that event's greedy chain: step k is the first step-k event at or after
    step k-1 (a later step number at the same instant comes after it) and within the window of
    the start. Each step is a join and a MIN, no sort; u_k is NULL once the chain stops.
    """
    ctes = ["o1 AS (SELECT pid, s AS u1 FROM starts WHERE n1 = 1)"]
    for k in range(2, n + 1):
        ctes.append(
            f"""o{k} AS (
            SELECT a.pid, a.u1, MIN(f.us) AS u{k}
            FROM o{k - 1} a JOIN fs f ON f.pid = a.pid AND f.ord = {k}
             AND f.us >= a.u{k - 1} AND f.us <= a.u1 + :win
            GROUP BY a.pid, a.u1
        )"""
        )
    if not per_person:
        return ctes
    joins = _list("LEFT JOIN o{k} ON o{k}.pid = o1.pid", range(2, n + 1), " ")
    ctes.append(f"single AS (SELECT o1.pid, {_list('o{k}.u{k}', range(1, n + 1))} FROM o1 {joins})")
    return ctes


def _ordered_multi(n: int, many: str, flags: str, attempts: bool) -> list[str]:
    """Ordered funnel of the other persons (`many` picks them from `starts a`), from every
    step-1 event's greedy chain (`_chain_ctes`): `mdepth(pid, depth)`, or with `attempts`
    `multi(pid, u1..un)`, the attempt counted.

    That attempt is the UDF's: the first row (position) to reach the furthest step M advances
    the latest start whose chain meets step M there, so sort the starts by furthest step, then
    position reaching it, then latest start. Positions, not times: with a repeated event name,
    chains of different starts can end on two identical events at one instant.
    """
    reach = _list("w{k}", range(n, 1, -1)) + ", p"
    ctes = [
        f"""fe AS (
            SELECT f.pid, f.us AS es, {flags},
                   ROW_NUMBER() OVER (PARTITION BY f.pid ORDER BY f.us, f.ord) AS p
            FROM fs f JOIN starts a ON a.pid = f.pid AND {many} AND f.us >= a.s
        )""",
        *_chain_ctes(n),
        f"""xs AS (
            SELECT pid, p, es AS u1,
                   {_list("CASE WHEN c{k}_2 - es <= :win THEN c{k}_2 END AS u{k}", range(2, n + 1))},
                   {_list("CASE WHEN c{k}_2 - es <= :win THEN q{k}_2 END AS w{k}", range(2, n + 1))}
            FROM x{n - 1} WHERE m1
        )""",
    ]
    if not attempts:
        return [*ctes, f"mdepth AS (SELECT pid, MAX({_depth(n)}) AS depth FROM xs GROUP BY pid)"]
    return [
        *ctes,
        f"""multi AS (
            SELECT pid, {_list("u{k}", range(1, n + 1))} FROM (
                SELECT xs.*, ROW_NUMBER() OVER (
                    PARTITION BY pid ORDER BY {_depth(n)} DESC, COALESCE({reach}), p DESC) AS pick
                FROM xs
            ) r WHERE pick = 1
        )""",
    ]


def _chain_ctes(n: int) -> list[str]:
    """x1..x(n-1) over `fe`: at each step-1 row, c{k}_2 (time) and q{k}_2 (position `p`) of the
    row where its greedy chain meets step k.

    A person reaches step k iff some step-1 event s is followed by events of steps 2..k in that
    order with the step-k event within the window of s (the UDF's latest-start slots reach k
    exactly then). The greedy chain (first step-2 event after s, first step-3 event after that,
    ...) reaches each step earliest, and the row at which the chain that looks for step j
    strictly after row r meets step k is monotone in r, so c_k^j(r) = MIN over the later
    step-j rows q of c_k^(j+1)(q) (and the same for positions): one window layer per step. Later
    rows come first in the descending order, so every frame starts at the partition's start
    (incremental on both engines).
    """
    after = (
        "OVER (PARTITION BY pid ORDER BY p DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
    )
    ms = _list("m{k}", range(1, n + 1))
    first = ", ".join(
        f"MIN(CASE WHEN m{k} THEN es END) {after} AS c{k}_{k}, "
        f"MIN(CASE WHEN m{k} THEN p END) {after} AS q{k}_{k}"
        for k in range(2, n + 1)
    )
    ctes = [f"x1 AS (SELECT pid, p, es, {ms}, {first} FROM fe)"]
    for layer in range(2, n):
        keep = _list("c{k}_2, q{k}_2", range(2, layer + 1))
        cols = ", ".join(
            f"MIN(CASE WHEN m{k - layer + 1} THEN {c}{k}_{k - layer + 2} END) {after} AS {c}{k}_{k - layer + 1}"
            for k in range(layer + 1, n + 1)
            for c in "cq"
        )
        # Only rows of step 1 (where the result is read) and of the steps this layer and later
        # ones look for (2..n-layer+1) matter from here on.
        needed = " OR ".join(f"m{j}" for j in [1, *range(2, n - layer + 2)])
        ctes.append(
            f"x{layer} AS (SELECT pid, p, es, {ms}, {keep}, {cols} FROM x{layer - 1} WHERE {needed})"
        )
    return ctes


def _strict_single(n: int, steps_in: str, dialect: str) -> list[str]:
    """`single(pid, u1..un)`: strict attempts of the persons with one step-1 event s.

    Only the events after s and within its window can be part of its attempt. With r_j the
    first step-j event there, x the first other event and v the first "late" step event (a
    step-j event after r_(j+1)), the events from s to r_k run 2..2 3..3 ... k (the only strict
    chain) iff r_2 <= r_3 <= ... <= r_k (step numbers break ties), r_k <= every later r_j, r_k <=
    x (other events sort last at an instant) and r_k < v. Joins and MINs, no sort.
    """
    ctes = [
        "ss AS (SELECT pid, s FROM starts WHERE n1 = 1)",
        """sr AS (
            SELECT f.pid, a.s, f.us, f.ord FROM fs f JOIN ss a ON a.pid = f.pid
            WHERE f.ord > 1 AND f.us >= a.s AND f.us <= a.s + :win
        )""",
        f"""sf AS (
            SELECT pid, MIN(s) AS s, {_list("MIN(CASE WHEN ord = {k} THEN us END) AS r{k}", range(2, n + 1))}
            FROM sr GROUP BY pid
        )""",
        # Other events matter only up to the last r_j.
        f"""sx AS (
            SELECT f.pid, MIN({_micros("e.timestamp", dialect)}) AS x
            FROM events e JOIN sf f ON f.pid = e.person_id
            WHERE e.timestamp >= :t0 AND e.timestamp < :t1
              AND (e.event IS NULL OR e.event NOT IN {steps_in})
              AND {_e_within("f.s", "GREATEST(" + _list("f.r{k}", range(2, n + 1)) + ")", dialect)}
            GROUP BY f.pid
        )""",
    ]
    joins = "LEFT JOIN sf f ON f.pid = a.pid LEFT JOIN sx x ON x.pid = a.pid"
    if n > 2:  # with two steps no step event can come late
        nxt = "CASE q.ord " + _list("WHEN {j} THEN f.r{k}", range(3, n + 1), " ") + " END"
        ctes.append(
            f"""sv AS (
            SELECT q.pid, MIN(q.us) AS v FROM sr q JOIN sf f ON f.pid = q.pid
            WHERE q.us > {nxt} GROUP BY q.pid
        )"""
        )
        joins += " LEFT JOIN sv v ON v.pid = a.pid"

    def reach(k: int) -> str:
        conds = [f"f.r{j} IS NOT NULL" for j in range(2, k + 1)]
        conds += [f"f.r{j - 1} <= f.r{j}" for j in range(3, k + 1)]
        conds += [f"(f.r{j} IS NULL OR f.r{k} <= f.r{j})" for j in range(k + 1, n + 1)]
        conds.append(f"(x.x IS NULL OR f.r{k} <= x.x)")
        if n > 2:
            conds.append(f"(v.v IS NULL OR f.r{k} < v.v)")
        return " AND ".join(conds)

    times = ", ".join(f"CASE WHEN {reach(k)} THEN f.r{k} END AS u{k}" for k in range(2, n + 1))
    ctes.append(f"single AS (SELECT a.pid, a.s AS u1, {times} FROM ss a {joins})")
    return ctes


def _strict_multi(
    n: int, many: str, flags: str, steps_in: str, dialect: str, attempts: bool
) -> list[str]:
    """Strict funnel of the other persons (`many` picks them from `starts a`), replaying the
    UDF's slots with window layers: `mdepth(pid, depth)`, or with `attempts` `multi(pid,
    u1..un)`, the attempt counted.

    Rows are all of the person's events between their first step-1 event and last step event;
    `arn` ranks them (other events sort after step events at the same instant), so a gap in
    `arn` between two step rows means another event came in between. b_k (slot k after the row)
    is the running MAX of advances within each run of consecutive step-k rows. The attempt
    counted is b_M at the first row where it is set (M the furthest step); u_k is the first
    row where b_k holds it.
    """
    window = "PARTITION BY pid ORDER BY rn"
    nulls = _list("NULL", range(1, n + 1))
    ms = _list("m{k}", range(1, n + 1))
    ctes = [
        f"""mb AS (
            SELECT f.pid, MIN(a.s) AS lo, MAX(f.us) AS hi
            FROM fs f JOIN starts a ON a.pid = f.pid AND {many} GROUP BY f.pid
        )""",
        f"""fr AS (
            SELECT pid, us, ord, {ms}, ROW_NUMBER() OVER (PARTITION BY pid ORDER BY us, ord) AS arn
            FROM (
                SELECT f.pid, f.us, f.ord, {flags}
                FROM fs f JOIN mb b ON b.pid = f.pid
                WHERE f.us >= b.lo
                UNION ALL
                SELECT e.person_id, {_micros("e.timestamp", dialect)}, {n + 1}, {nulls}
                FROM events e JOIN mb b ON b.pid = e.person_id
                WHERE e.timestamp >= :t0 AND e.timestamp < :t1
                  AND {_e_within("b.lo", "b.hi", dialect)}
                  AND (e.event IS NULL OR e.event NOT IN {steps_in})
            ) u
        )""",
        f"fe AS (SELECT pid, us AS es, ord, arn, {ms} FROM fr WHERE ord <= {n})",
    ]
    # r_k counts the rows (of all events) that do not match step k: a run of consecutive
    # step-k rows shares one r_k. Non-step rows before this one: arn - rn.
    runs = "".join(
        f", SUM(CASE WHEN m{k} THEN 0 ELSE 1 END) OVER (PARTITION BY pid ORDER BY arn ROWS UNBOUNDED PRECEDING)"
        f" + arn - ROW_NUMBER() OVER (PARTITION BY pid ORDER BY arn) AS r{k}"
        for k in range(2, n + 1)
    )
    ctes.append(
        f"l1 AS (SELECT fe.*, ROW_NUMBER() OVER (PARTITION BY pid ORDER BY arn) AS rn, "
        f"CASE WHEN m1 THEN es END AS b1{runs} FROM fe)"
    )
    for k in range(2, n + 1):
        # The previous row of all events is this row's previous step row only when adjacent.
        prev = (
            f"CASE WHEN LAG(arn) OVER ({window}) = arn - 1 THEN LAG(b{k - 1}) OVER ({window}) END"
        )
        ctes.append(
            f"l{k} AS (SELECT q.*, CASE WHEN m{k} THEN MAX(a{k}) OVER (PARTITION BY pid, r{k} ORDER BY rn ROWS UNBOUNDED PRECEDING) END AS b{k} "
            f"FROM (SELECT l{k - 1}.*, CASE WHEN m{k} AND es - ({prev}) <= :win "
            f"THEN {prev} END AS a{k} FROM l{k - 1}) q)"
        )
    furthest = "CASE " + _list("WHEN b{k} IS NOT NULL THEN {k}", range(n, 0, -1), " ") + " END"
    at_depth = "CASE {d}.depth " + _list("WHEN {k} THEN l.b{k}", range(1, n + 1), " ") + " END"
    if not attempts:
        return [*ctes, f"mdepth AS (SELECT pid, MAX({furthest}) AS depth FROM l{n} GROUP BY pid)"]
    return [
        *ctes,
        f"layers AS MATERIALIZED (SELECT * FROM l{n})",
        f"md AS (SELECT pid, MAX({furthest}) AS depth FROM layers GROUP BY pid)",
        f"""mfirst AS (
            SELECT r.pid, r.depth, MIN(CASE WHEN {at_depth.format(d="r")} IS NOT NULL THEN l.rn END) AS rn
            FROM md r JOIN layers l ON l.pid = r.pid GROUP BY r.pid, r.depth
        )""",
        f"""mstart AS (
            SELECT f.pid, f.depth, {at_depth.format(d="f")} AS s
            FROM mfirst f JOIN layers l ON l.pid = f.pid AND l.rn = f.rn
        )""",
        f"""multi AS (
            SELECT a.pid, {_list("MIN(CASE WHEN l.b{k} = a.s AND a.depth >= {k} THEN l.es END) AS u{k}", range(1, n + 1))}
            FROM mstart a JOIN layers l ON l.pid = a.pid GROUP BY a.pid
        )""",
    ]


def _unordered_ctes(n: int) -> list[str]:
    """`reached` of an unordered funnel (distinct step names).

    A person can reach at most d, the number of distinct steps they did, and reaches it when the
    window of their first event holds the first event of every step they did, or the window of
    the earliest last-of-a-step event holds all the last ones: one aggregate decides most
    persons. For the others, every event counts the steps whose next event at or after it is
    within the window (one window layer; among events at the same instant the first in the frame
    sees them all, so the maximum over events is exact).
    """
    agg = _list(
        "MIN(CASE WHEN ord = {k} THEN us END) AS f{k}, MAX(CASE WHEN ord = {k} THEN us END) AS l{k}",
        range(1, n + 1),
    )
    did = _list("(CASE WHEN f{k} IS NOT NULL THEN 1 ELSE 0 END)", range(1, n + 1), " + ")
    nxt = _list("MIN(CASE WHEN f.ord = {k} THEN f.us END) OVER w AS n{k}", range(1, n + 1))
    count = _list("(CASE WHEN n{k} - us <= :win THEN 1 ELSE 0 END)", range(1, n + 1), " + ")
    easy = (
        f"GREATEST({_list('f{k}', range(1, n + 1))}) - lo <= :win "
        f"OR hi - LEAST({_list('l{k}', range(1, n + 1))}) <= :win"
    )
    return [
        f"""up AS (
            SELECT g.pid, {did} AS did, ({easy}) AS easy
            FROM (SELECT pid, MIN(us) AS lo, MAX(us) AS hi, {agg} FROM fs GROUP BY pid) g
            WHERE {not_test_account("g.pid")}
        )""",
        f"""ua AS (
            SELECT f.pid, f.us, {nxt}
            FROM fs f JOIN up p ON p.pid = f.pid AND NOT p.easy
            WINDOW w AS (PARTITION BY f.pid ORDER BY f.us ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)
        )""",
        f"""reached AS (
            SELECT pid, did AS max_step FROM up WHERE easy
            UNION ALL
            SELECT pid, MAX({count}) FROM ua GROUP BY pid
        )""",
    ]


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
    steps, _ = _step_filter(params, source.dialect, exact=True)
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
