"""Metric speed at --scale large on DuckDB and PostgreSQL, beside naive pandas, plus a cached repeat.

Usage:
    .venv/bin/python bench/bench_metrics.py [--duckdb PATH] [--postgres URL] [--runs 3]
        [--only LABEL,...] [--no-postgres] [--no-pandas] [--write-readme]

Every case is timed on each engine, one engine after the other: one warm-up run, then the
median of `--runs` warm runs of `analytics.catalog.run_metric` (query + shaping). The naive pandas version of a case (see
bench/naive_pandas.py) runs on frames preloaded from the DuckDB warehouse (the load is timed
once, separately) and its result is compared with the SQL metric's. The cached repeat is the
same metric through CachedSource (diskcache) after one miss. Days are UTC; the range ends on
the warehouse's last day of events.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analytics.catalog import list_metrics, run_metric  # noqa: E402
from bench import naive_pandas as naive  # noqa: E402
from datasources.cache import CachedSource, DiskCacheBackend, QueryCache  # noqa: E402
from datasources.sql import SQLSource  # noqa: E402

DEFAULT_DUCKDB = ROOT / "instance" / "warehouse-large.duckdb"
DEFAULT_POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432/nexpo_large"
README = ROOT / "bench" / "README.md"
SECTION = "## Analytics metrics"
PLACEHOLDER = "ANALYTICS_TABLE_PLACEHOLDER"
FUNNEL = ["signup_started", "signup_completed", "event_registered"]
LOAD: dict[str, float] = {}  # 1-minute load average when the run started and ended
BUILT: list[tuple[str, float]] = []  # derived tables built during the run: (table, ms)


class _DerivedBuilds(logging.Handler):
    """Collects SQLSource's "built derived table <source>.<name> in <ms> ms" records."""

    PATTERN = re.compile(r"built derived table \S+?\.(\w+?)_[0-9a-f]{16} in (\d+) ms")

    def emit(self, record: logging.LogRecord) -> None:
        match = self.PATTERN.match(record.getMessage())
        if match:
            BUILT.append((match.group(1), float(match.group(2))))


SLOW_SECONDS = 20.0  # a warm-up slower than this is timed once, not `runs` times


@dataclass
class Case:
    label: str
    metric: str
    params: dict[str, Any]
    reference: float | None = None  # DuckDB reference point of issue 3 (seconds)
    naive: Callable[[naive.Frames], Any] | None = None
    compare: Callable[[pd.DataFrame, Any], bool] | None = None
    results: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _close(a: Any, b: Any) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-9, atol=1e-6, equal_nan=True))


def _same_columns(*cols: str, keys: tuple[str, ...] = ()) -> Callable[[pd.DataFrame, Any], bool]:
    """Same number of rows, the same labels in `keys` and close numbers in `cols`."""

    def labels(values: Any) -> list[str | None]:
        return [None if pd.isna(v) else str(v) for v in values]

    def check(sql: pd.DataFrame, other: pd.DataFrame) -> bool:
        if len(sql) != len(other):
            return False
        return all(labels(sql[k]) == labels(other[k]) for k in keys) and all(
            _close(pd.to_numeric(sql[c], errors="coerce"), pd.to_numeric(other[c], errors="coerce"))
            for c in cols
        )

    return check


def _same_counts(sql: pd.DataFrame, counts: list[int]) -> bool:
    return list(sql["count"]) == counts


def cases(end: date) -> list[Case]:
    """The benchmarked metrics; the issue's reference points where it gives one."""
    d90, d365, w12 = end - timedelta(days=89), end - timedelta(days=364), end - timedelta(days=83)
    months = date(end.year - 1, end.month, 1)
    p90 = {"start": d90.isoformat(), "end": end.isoformat()}
    p365 = {"start": d365.isoformat(), "end": end.isoformat()}
    p13m = {"start": months.isoformat(), "end": end.isoformat()}
    m13 = {**p13m, "interval": "month"}
    y1 = {**p365, "interval": "day"}
    steps = ",".join(FUNNEL)
    movement_cols = (
        "start_mrr", "new", "expansion", "contraction", "churn", "reactivation", "net_new", "end_mrr",
    )  # fmt: skip
    out = [
        # ------------------------------------------------------------------ product
        Case("DAU, 90 days ($pageview)", "trends", {**p90, "event": "$pageview", "math": "dau"}, 0.25,
             lambda fr: naive.dau(fr, "$pageview", d90, end), _same_columns("value", keys=("date",))),
        Case("rolling MAU, 90 days ($pageview)", "trends", {**p90, "event": "$pageview", "math": "monthly_active"}, 0.7,
             lambda fr: naive.rolling_active(fr, "$pageview", d90, end, 30).rename(columns={"active": "value"}),
             _same_columns("value", keys=("date",))),
        Case("DAU/MAU, 90 days (any event)", "dau_mau", p90, 0.7,
             lambda fr: naive.rolling_active(fr, None, d90, end, 30).rename(columns={"active": "mau"}),
             _same_columns("dau", "mau", keys=("date",))),
        Case("dau_mau_summary, 90 days (any event)", "dau_mau_summary", p90, None,
             lambda fr: naive.dau_mau_summary(fr, None, d90, end), _same_columns("avg_dau", "avg_mau", "ratio")),
        Case("stickiness, 90 days (app_opened)", "stickiness", {**p90, "event": "app_opened"}, None,
             lambda fr: naive.stickiness(fr, "app_opened", d90, end), _same_columns("days", "persons")),
        Case("lifecycle, daily, 90 days (app_opened)", "lifecycle", {**p90, "event": "app_opened"}, None,
             lambda fr: naive.lifecycle(fr, "app_opened", d90, end, "day"),
             _same_columns("new", "returning", "resurrecting", "dormant", keys=("date",))),
        Case("engagement_segments, 30 days (any event)", "engagement_segments", {"end": end.isoformat()}, None,
             lambda fr: naive.engagement_segments(fr, None, end),
             _same_columns("users", "share", "avg_active_days", "avg_events", keys=("segment",))),
        Case("session_metrics, 90 days", "session_metrics", p90, None,
             lambda fr: naive.session_metrics(fr, d90, end),
             _same_columns("sessions", "avg_duration_s", "bounce_rate", "pageviews_per_session", keys=("date",))),
        Case("3-step funnel, ordered, 90 days", "funnel", {**p90, "steps": steps}, 0.05,
             lambda fr: naive.funnel_ordered(fr, FUNNEL, d90, end, 14), _same_counts),
        Case("3-step funnel, strict, 90 days", "funnel", {**p90, "steps": steps, "mode": "strict"}, None,
             lambda fr: naive.funnel_strict(fr, FUNNEL, d90, end, 14), _same_counts),
        Case("3-step funnel, unordered, 90 days", "funnel", {**p90, "steps": steps, "mode": "unordered"}, None,
             lambda fr: naive.funnel_unordered(fr, FUNNEL, d90, end, 14), _same_counts),
        Case("funnel breakdown ($browser), 90 days", "funnel_breakdown",
             {**p90, "steps": steps, "breakdown": "$browser"}, None,
             lambda fr: naive.funnel_breakdown(fr, FUNNEL, d90, end, 14, "$browser"),
             _same_columns("step", "count", keys=("breakdown", "event"))),
        Case("funnel time to convert, 90 days", "funnel_time_to_convert", {**p90, "steps": steps}, None,
             lambda fr: naive.funnel_time_to_convert(fr, FUNNEL, d90, end, 14),
             _same_columns("step", "count", "avg_seconds", "median_seconds", keys=("event",))),
        Case("retention, 12 weeks (first time)", "retention",
             {"start": w12.isoformat(), "end": end.isoformat(), "start_event": "signup_completed",
              "return_event": "app_opened", "interval": "week", "periods": 12}, 0.3,
             lambda fr: naive.retention_weekly(fr, "signup_completed", "app_opened", w12, end, 12),
             _same_columns("period", "count", keys=("cohort",))),
        Case("retention, 12 weeks (recurring)", "retention",
             {"start": w12.isoformat(), "end": end.isoformat(), "start_event": "app_opened",
              "return_event": "app_opened", "interval": "week", "periods": 12, "type": "recurring"}, None,
             lambda fr: naive.retention_weekly(fr, "app_opened", "app_opened", w12, end, 12, recurring=True),
             _same_columns("period", "count", keys=("cohort",))),
        # ------------------------------------------------------------------ revenue
        Case("daily MRR, 1 year", "mrr", p365, 0.04, lambda fr: naive.mrr_daily(fr, d365, end),
             _same_columns("mrr", keys=("date",))),
        Case("arr, daily, 1 year", "arr", y1, None, lambda fr: naive.arr_daily(fr, d365, end),
             _same_columns("arr", keys=("date",))),
        Case("paying_customers, daily, 1 year", "paying_customers", y1, None,
             lambda fr: naive.paying_customers_daily(fr, d365, end), _same_columns("value", keys=("date",))),
        Case("arpa, daily, 1 year", "arpa", y1, None, lambda fr: naive.arpa_daily(fr, d365, end),
             _same_columns("value", keys=("date",))),
        Case("monthly MRR movements, 13 months", "mrr_movements", p13m, 0.35,
             lambda fr: naive.mrr_movements_monthly(fr, months, end),
             _same_columns(*movement_cols, keys=("period_start",))),
        *[
            Case(f"{name}, monthly, 13 months", name, m13, None,
                 lambda fr, fn=fn: fn(fr, months, end), _same_columns("value", keys=("period_start",)))
            for name, fn in (
                ("net_new_mrr", naive.net_new_mrr), ("customer_churn_rate", naive.customer_churn_rate),
                ("gross_mrr_churn_rate", naive.gross_mrr_churn_rate),
                ("net_mrr_churn_rate", naive.net_mrr_churn_rate), ("nrr", naive.nrr), ("grr", naive.grr),
                ("quick_ratio", naive.quick_ratio),
            )
        ],
        Case("ltv, monthly, 13 months (3-month window)", "ltv", p13m, None,
             lambda fr: naive.ltv(fr, months, end, 3),
             _same_columns("arpa", "churn_rate", "value", keys=("period_start",))),
        Case("kpi_progress (mrr), 13 months", "kpi_progress", {**p13m, "kpi": "mrr"}, None,
             lambda fr: naive.kpi_progress_mrr(fr, months, end),
             _same_columns("value", "goal", "attainment", "on_track", "previous", "change",
                           keys=("period_start", "kpi"))),
        Case("cohort_mrr_retention, 1 year", "cohort_mrr_retention", p365, None,
             lambda fr: naive.cohort_mrr_retention(fr, d365, end),
             _same_columns("months_since", "customers", "start_mrr", "mrr", "value", keys=("cohort",))),
        Case("cohort_ltv, 1 year", "cohort_ltv", p365, None, lambda fr: naive.cohort_ltv(fr, d365, end),
             _same_columns("months_since", "customers", "revenue", "value", keys=("cohort",))),
        Case("revenue by processor, 1 year", "revenue_by_processor", p365, 0.03,
             lambda fr: naive.revenue_by_processor(fr, d365, end),
             _same_columns("revenue", "payments", keys=("processor",))),
        Case("revenue_by_plan, 1 year", "revenue_by_plan", p365, None,
             lambda fr: naive.revenue_by_plan(fr, d365, end),
             _same_columns("revenue", "mrr", keys=("plan_id", "plan"))),
        Case("revenue trend + 7-day average, 1 year", "revenue_trend", p365, 0.03,
             lambda fr: naive.revenue_trend(fr, d365, end),
             _same_columns("revenue", "revenue_ma7", keys=("date",))),
        Case("trial conversion (cohort, monthly), 13 months", "trial_conversion", p13m, None,
             lambda fr: naive.trial_conversion_cohort(fr, months, end),
             _same_columns("converted", "not_converted", "pending", "value", keys=("period_start",))),
    ]  # fmt: skip
    # A metric added to the catalog later is still timed (SQL only) until it gets a naive version.
    covered = {c.metric for c in out}
    for spec in list_metrics():
        if spec.name in covered:
            continue
        params = dict(p13m)
        if "interval" in spec.params.model_fields:
            params["interval"] = "month"
        out.append(Case(spec.name, spec.name, params))
    return out


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """Median seconds of `runs` calls after one warm-up call (one call only when the warm-up is slow)."""
    started = time.perf_counter()
    result = fn()
    first = time.perf_counter() - started
    if first > SLOW_SECONDS:
        return first, result
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), result


def last_event_day(duckdb_path: Path) -> date:
    import duckdb

    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        last = con.execute("SELECT MAX(timestamp) FROM events").fetchone()[0]
    finally:
        con.close()
    return pd.Timestamp(last).tz_convert("UTC").date()


def machine() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(
            line.split(":", 1)[1].strip()
            for line in out.splitlines()
            if line.startswith("Model name")
        )
    except Exception:  # noqa: BLE001
        model = platform.processor() or "unknown CPU"
    return f"{model}, {os.cpu_count()} cores"


def fmt(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds * 1000:.1f} ms" if seconds < 0.1 else f"{seconds:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duckdb", default=str(DEFAULT_DUCKDB))
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated substrings of case labels")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-pandas", action="store_true")
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()

    LOAD["start"] = os.getloadavg()[0]
    sql_log = logging.getLogger("datasources.sql")
    sql_log.setLevel(logging.INFO)
    sql_log.addHandler(_DerivedBuilds())
    duck_path = Path(args.duckdb)
    end = last_event_day(duck_path)
    todo = cases(end)
    if args.only:
        wanted = [w.strip().lower() for w in args.only.split(",")]
        todo = [c for c in todo if any(w in c.label.lower() for w in wanted)]
    engines = {"duckdb": SQLSource("duckdb", f"duckdb:///{duck_path}")}
    if not args.no_postgres:
        engines["postgresql"] = SQLSource("postgresql", args.postgres)

    # One pass per engine (all DuckDB cases, then all PostgreSQL cases): interleaving them let a
    # PostgreSQL query evict DuckDB's working set right before each DuckDB measurement.
    for engine, source in engines.items():
        for case in todo:
            try:
                seconds, frame = timed(
                    lambda s=source, c=case: run_metric(c.metric, s, c.params), args.runs
                )
            except Exception as exc:  # noqa: BLE001
                seconds, frame = None, None
                case.notes.append(
                    f"{engine}: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
                )
            case.results[engine] = seconds
            if engine == "duckdb":
                case.results["_frame"] = frame
            print(f"{case.label:<48} {engine:<10} {fmt(seconds):>9}", flush=True)

    # The cached repeat: the same metric through CachedSource on diskcache, after one miss.
    with tempfile.TemporaryDirectory() as tmp:
        cache = QueryCache(DiskCacheBackend(Path(tmp) / "cache"), ttl=600)
        fetcher = CachedSource(engines["duckdb"], cache, scope="bench")
        for case in todo:
            try:
                run_metric(case.metric, fetcher, case.params)
            except Exception:  # noqa: BLE001 - already reported above
                continue
            samples = []
            for _ in range(max(args.runs, 5)):
                started = time.perf_counter()
                run_metric(case.metric, fetcher, case.params)
                samples.append(time.perf_counter() - started)
            case.results["cached"] = statistics.median(samples)
        cache.backend.close()

    load_seconds = None
    if not args.no_pandas and any(c.naive for c in todo):
        started = time.perf_counter()
        raw = engines["duckdb"].engine.raw_connection()
        try:
            frames = naive.load_frames(raw.driver_connection)
        finally:
            raw.close()
        load_seconds = time.perf_counter() - started
        print(f"pandas: tables loaded from DuckDB in {load_seconds:.1f} s", flush=True)
        for case in todo:
            if case.naive is None:
                continue
            try:
                seconds, result = timed(lambda c=case: c.naive(frames), args.runs)
            except Exception as exc:  # noqa: BLE001
                case.notes.append(f"pandas: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
                print(f"{case.label:<48} pandas failed: {exc!r}", flush=True)
                continue
            case.results["pandas"] = seconds
            sql = case.results.get("_frame")
            same = case.compare(sql, result) if (case.compare and sql is not None) else None
            case.results["same"] = same
            print(
                f"{case.label:<48} {'pandas':<10} {fmt(seconds):>9}  same result: {same}",
                flush=True,
            )
        del frames

    LOAD["end"] = os.getloadavg()[0]
    table = render(todo, engines, load_seconds)
    print()
    print(table)
    if args.write_readme:
        write_readme(table, args.runs)


def render(todo: list[Case], engines: dict[str, SQLSource], load_seconds: float | None) -> str:
    header = "| metric | DuckDB | PostgreSQL | pandas (preloaded) | vs pandas (DuckDB / PG) | cached repeat | reference (DuckDB) | targets |"
    lines = [header, "|---|---|---|---|---|---|---|---|"]
    for case in todo:
        duck, pg = case.results.get("duckdb"), case.results.get("postgresql")
        pdt, cached = case.results.get("pandas"), case.results.get("cached")
        speedups = "–"
        if pdt and duck:
            speedups = f"{pdt / duck:.1f}×" + (f" / {pdt / pg:.1f}×" if pg else "")
            if case.results.get("same") is False:
                speedups += " (results differ!)"
        met = []
        if duck is not None:
            met.append("<1 s ✓" if duck < 1 else "<1 s ✗")
            if case.reference:
                met.append("≤1.5× ref ✓" if duck <= 1.5 * case.reference else "≤1.5× ref ✗")
            if pdt:
                met.append("≥3× pandas ✓" if pdt >= 3 * duck else "≥3× pandas ✗")
        if cached is not None:
            met.append("cache <10 ms ✓" if cached < 0.01 else "cache <10 ms ✗")
        lines.append(
            f"| {case.label} | {fmt(duck)} | {fmt(pg) if 'postgresql' in engines else 'not run'} | {fmt(pdt)} | {speedups} "
            f"| {fmt(cached)} | {fmt(case.reference)} | {', '.join(met)} |"
        )
    for case in todo:
        for note in case.notes:
            lines.append(f"\n- {case.label}: {note}")
    if BUILT:
        built = ", ".join(f"{name} {ms:.0f} ms" for name, ms in BUILT)
        lines.append(
            f"\nDuckDB derived tables, each built once when the first metric that reads it ran "
            f"(in that metric's warm-up run, not in the figures): {built}; "
            f"{sum(ms for _, ms in BUILT):.0f} ms in all."
        )
    if load_seconds is not None:
        lines.append(
            f"\npandas: loading the tables it needs from the DuckDB file took {load_seconds:.1f} s (not in the figures)."
        )
    return "\n".join(lines)


def write_readme(table: str, runs: int) -> None:
    text = README.read_text() if README.exists() else "# Benchmarks\n"
    stamp = (
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine()} "
        f"(`bench/bench_metrics.py --runs {runs}`, medians of {runs} warm runs; load average "
        f"{LOAD['start']:.1f} at the start, {LOAD['end']:.1f} at the end).\n\n"
    )
    marker_start, marker_end = "<!-- bench_metrics:start -->", "<!-- bench_metrics:end -->"
    block = f"{marker_start}\n{stamp}{table}\n{marker_end}"
    if PLACEHOLDER in text:
        text = text.replace(PLACEHOLDER, block)
    elif marker_start in text:
        before, rest = text.split(marker_start, 1)
        after = rest.split(marker_end, 1)[1]
        text = before + block + after
    elif SECTION in text:
        head, tail = text.split(SECTION, 1)
        text = head + SECTION + "\n\n" + block + "\n" + tail
    else:
        text = text.rstrip() + f"\n\n{SECTION}\n\n{block}\n"
    README.write_text(text)


if __name__ == "__main__":
    main()
