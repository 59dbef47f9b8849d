"""SQL builders of the funnels in analytics/funnels.py: epoch times, step filter, ordered/strict/unordered CTEs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from analytics._product_sql import in_list, not_test_account

if TYPE_CHECKING:
    from analytics.funnels import FunnelParams


def micros(column: str, dialect: str) -> str:
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
        us = micros("e.timestamp", dialect)
        return f"{us} >= {lo} AND {us} <= {hi}"
    at = "TIMESTAMPTZ 'epoch' + ({}) * INTERVAL '1 microsecond'"
    return f"e.timestamp >= {at.format(lo)} AND e.timestamp <= {at.format(hi)}"


def joined(template: str, ks: range | list[int], sep: str = ", ") -> str:
    """`template` formatted with k (and j = k - 1) for each k, joined by `sep`."""
    return sep.join(template.format(k=k, j=k - 1) for k in ks)


def depth(n: int) -> str:
    """The step an attempt reached from its times u1..un (non-null for steps 1..depth)."""
    return "1" + "".join(
        f" + (CASE WHEN u{k} IS NOT NULL THEN 1 ELSE 0 END)" for k in range(2, n + 1)
    )


def step_filter(
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


def ordered_single(n: int, *, per_person: bool = True) -> list[str]:
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
    joins = joined("LEFT JOIN o{k} ON o{k}.pid = o1.pid", range(2, n + 1), " ")
    ctes.append(
        f"single AS (SELECT o1.pid, {joined('o{k}.u{k}', range(1, n + 1))} FROM o1 {joins})"
    )
    return ctes


def ordered_multi(n: int, many: str, flags: str, attempts: bool) -> list[str]:
    """Ordered funnel of the other persons (`many` picks them from `starts a`), from every
    step-1 event's greedy chain (`_chain_ctes`): `mdepth(pid, depth)`, or with `attempts`
    `multi(pid, u1..un)`, the attempt counted.

    That attempt is the UDF's: the first row (position) to reach the furthest step M advances
    the latest start whose chain meets step M there, so sort the starts by furthest step, then
    position reaching it, then latest start. Positions, not times: with a repeated event name,
    chains of different starts can end on two identical events at one instant.
    """
    reach = joined("w{k}", range(n, 1, -1)) + ", p"
    ctes = [
        f"""fe AS (
            SELECT f.pid, f.us AS es, {flags},
                   ROW_NUMBER() OVER (PARTITION BY f.pid ORDER BY f.us, f.ord) AS p
            FROM fs f JOIN starts a ON a.pid = f.pid AND {many} AND f.us >= a.s
        )""",
        *_chain_ctes(n),
        f"""xs AS (
            SELECT pid, p, es AS u1,
                   {joined("CASE WHEN c{k}_2 - es <= :win THEN c{k}_2 END AS u{k}", range(2, n + 1))},
                   {joined("CASE WHEN c{k}_2 - es <= :win THEN q{k}_2 END AS w{k}", range(2, n + 1))}
            FROM x{n - 1} WHERE m1
        )""",
    ]
    if not attempts:
        return [*ctes, f"mdepth AS (SELECT pid, MAX({depth(n)}) AS depth FROM xs GROUP BY pid)"]
    return [
        *ctes,
        f"""multi AS (
            SELECT pid, {joined("u{k}", range(1, n + 1))} FROM (
                SELECT xs.*, ROW_NUMBER() OVER (
                    PARTITION BY pid ORDER BY {depth(n)} DESC, COALESCE({reach}), p DESC) AS pick
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
    ms = joined("m{k}", range(1, n + 1))
    first = ", ".join(
        f"MIN(CASE WHEN m{k} THEN es END) {after} AS c{k}_{k}, "
        f"MIN(CASE WHEN m{k} THEN p END) {after} AS q{k}_{k}"
        for k in range(2, n + 1)
    )
    ctes = [f"x1 AS (SELECT pid, p, es, {ms}, {first} FROM fe)"]
    for layer in range(2, n):
        keep = joined("c{k}_2, q{k}_2", range(2, layer + 1))
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


def strict_single(n: int, steps_in: str, dialect: str) -> list[str]:
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
            SELECT pid, MIN(s) AS s, {joined("MIN(CASE WHEN ord = {k} THEN us END) AS r{k}", range(2, n + 1))}
            FROM sr GROUP BY pid
        )""",
        # Other events matter only up to the last r_j.
        f"""sx AS (
            SELECT f.pid, MIN({micros("e.timestamp", dialect)}) AS x
            FROM events e JOIN sf f ON f.pid = e.person_id
            WHERE e.timestamp >= :t0 AND e.timestamp < :t1
              AND (e.event IS NULL OR e.event NOT IN {steps_in})
              AND {_e_within("f.s", "GREATEST(" + joined("f.r{k}", range(2, n + 1)) + ")", dialect)}
            GROUP BY f.pid
        )""",
    ]
    joins = "LEFT JOIN sf f ON f.pid = a.pid LEFT JOIN sx x ON x.pid = a.pid"
    if n > 2:  # with two steps no step event can come late
        nxt = "CASE q.ord " + joined("WHEN {j} THEN f.r{k}", range(3, n + 1), " ") + " END"
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


def strict_multi(
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
    nulls = joined("NULL", range(1, n + 1))
    ms = joined("m{k}", range(1, n + 1))
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
                SELECT e.person_id, {micros("e.timestamp", dialect)}, {n + 1}, {nulls}
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
    furthest = "CASE " + joined("WHEN b{k} IS NOT NULL THEN {k}", range(n, 0, -1), " ") + " END"
    at_depth = "CASE {d}.depth " + joined("WHEN {k} THEN l.b{k}", range(1, n + 1), " ") + " END"
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
            SELECT a.pid, {joined("MIN(CASE WHEN l.b{k} = a.s AND a.depth >= {k} THEN l.es END) AS u{k}", range(1, n + 1))}
            FROM mstart a JOIN layers l ON l.pid = a.pid GROUP BY a.pid
        )""",
    ]


def unordered_ctes(n: int) -> list[str]:
    """`reached` of an unordered funnel (distinct step names).

    A person can reach at most d, the number of distinct steps they did, and reaches it when the
    window of their first event holds the first event of every step they did, or the window of
    the earliest last-of-a-step event holds all the last ones: one aggregate decides most
    persons. For the others, every event counts the steps whose next event at or after it is
    within the window (one window layer; among events at the same instant the first in the frame
    sees them all, so the maximum over events is exact).
    """
    agg = joined(
        "MIN(CASE WHEN ord = {k} THEN us END) AS f{k}, MAX(CASE WHEN ord = {k} THEN us END) AS l{k}",
        range(1, n + 1),
    )
    did = joined("(CASE WHEN f{k} IS NOT NULL THEN 1 ELSE 0 END)", range(1, n + 1), " + ")
    nxt = joined("MIN(CASE WHEN f.ord = {k} THEN f.us END) OVER w AS n{k}", range(1, n + 1))
    count = joined("(CASE WHEN n{k} - us <= :win THEN 1 ELSE 0 END)", range(1, n + 1), " + ")
    easy = (
        f"GREATEST({joined('f{k}', range(1, n + 1))}) - lo <= :win "
        f"OR hi - LEAST({joined('l{k}', range(1, n + 1))}) <= :win"
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
