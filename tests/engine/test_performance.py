"""Generation timings (engine/performance.py): what engine.generate records, the store as the
shared copy between processes, the ring bound, and the summary's hand-computed figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import func, select, text

from datasources.registry import DataSources
from demo.generator import generate
from demo.schema import load_frames
from engine import performance
from engine.generate import generate as generate_report
from engine.generate import generate_widget
from engine.performance import PerformanceLog, Sample, percentile, summary
from engine.periods import Window
from engine.services import Services
from engine.spec import DashboardSpec
from security.users import Principal
from settings import Settings
from store import init_store
from store.models import ReportTiming

ADMIN = Principal(1, "admin", "admin")
SPEC = DashboardSpec.model_validate(
    {
        "key": "timed",
        "title": "Timed",
        "widgets": [
            {
                "id": "mrr",
                "type": "line",
                "title": "MRR",
                "metric": "mrr",
                "options": {"x": "date", "y": ["mrr"]},
            },
            {"id": "sessions", "type": "line", "title": "Sessions", "metric": "session_metrics"},
        ],
    }
)
T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def services(tmp_path):
    frames = generate("tiny", seed=3)
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    load_frames(url, frames)
    settings = Settings.from_env({"INSTANCE_PATH": str(tmp_path / "i"), "WAREHOUSE_URL": url})
    svc = Services(settings, init_store(settings.database_url), DataSources.from_settings(settings))
    end = pd.Timestamp(frames["events"]["timestamp"].max()).date()
    svc.window = Window(end.replace(day=1), end)  # the month of the data's last day
    yield svc
    svc.sources.close()
    svc.store.dispose()


def test_percentile_is_nearest_rank():
    assert percentile([40, 10, 30, 20], 50) == 20  # rank ceil(0.5 * 4) = 2
    assert percentile([40, 10, 30, 20], 95) == 40  # rank ceil(0.95 * 4) = 4
    assert percentile(list(range(1, 21)), 95) == 19  # rank ceil(0.95 * 20) = 19
    assert percentile([7.5], 50) == 7.5
    assert percentile([], 50) is None


def _w(wid, ms, rows=3, fetches=1, hits=0, error=None):
    return {
        "id": wid,
        "elapsed_ms": ms,
        "rows": rows,
        "fetches": fetches,
        "cache_hits": hits,
        "error": error,
    }


def test_summary_of_hand_made_samples():
    samples = [
        Sample("r", T0, 100.0, (_w("a", 60), _w("b", 90))),
        Sample("r", T0 + timedelta(minutes=1), 300.0, (_w("a", 20, hits=1), _w("b", 250))),
        # a dashboard widget load: widget figures only, not a generation
        Sample("r", T0 + timedelta(minutes=2), None, (_w("b", 5, rows=0, error="No data."),)),
        Sample("r", T0 + timedelta(minutes=3), 200.0, (_w("a", 40, rows=9, fetches=2, hits=2),)),
    ]
    out = summary("r", samples, ["b", "a", "gone"])
    assert out["samples"] == 4
    # generations 100, 300, 200 -> sorted 100, 200, 300: p50 rank 2, p95 rank 3
    assert out["generations"] == {"count": 3, "p50_ms": 200.0, "p95_ms": 300.0, "last_ms": 200.0}
    # fetches a: 1 + 1 + 2 = 4, hits 0 + 1 + 2 = 3; b: 3 fetches, 0 hits -> 3 / 7
    assert out["cache"] == {"fetches": 7, "hits": 3, "hit_ratio": round(3 / 7, 4)}
    by_id = {w["id"]: w for w in out["widgets"]}
    assert [w["id"] for w in out["widgets"]] == ["b", "a", "gone"]
    assert by_id["a"]["p50_ms"] == 40 and by_id["a"]["p95_ms"] == 60 and by_id["a"]["rows"] == 9
    assert by_id["a"]["hit_ratio"] == 0.75 and by_id["a"]["last_error"] is None
    assert by_id["b"]["last_error"] == "No data." and by_id["b"]["rows"] == 0
    assert by_id["gone"]["samples"] == 0 and by_id["gone"]["p50_ms"] is None
    assert out["last_error"] == {
        "widget_id": "b",
        "message": "No data.",
        "at": (T0 + timedelta(minutes=2)).isoformat(),
    }


def test_generate_records_times_rows_and_cache_hits_per_widget(services):
    first = generate_report(SPEC, services.window, ADMIN, services)
    generate_report(SPEC, services.window, ADMIN, services)  # the same queries: from the cache
    samples, source = performance.log_for(services).recent("timed")
    assert source == "store" and len(samples) == 2
    out = summary("timed", samples, [w.id for w in SPEC.widgets])
    assert out["generations"]["count"] == 2
    for widget, result in zip(out["widgets"], first, strict=True):
        assert widget["rows"] == result.row_count > 0
        assert widget["fetches"] >= 2 and widget["cache_hits"] == widget["fetches"] / 2
        assert widget["hit_ratio"] == 0.5
    assert out["last_error"] is None


def test_a_widget_load_is_a_widget_sample_not_a_generation(services):
    generate_widget(SPEC, "mrr", services.window, ADMIN, services)
    samples, _ = performance.log_for(services).recent("timed")
    assert [(s.elapsed_ms, [w["id"] for w in s.widgets]) for s in samples] == [(None, ["mrr"])]


def test_another_process_reads_the_same_timings_from_the_store(services):
    generate_report(SPEC, services.window, ADMIN, services)
    performance.log_for(services).flush()
    other_worker = PerformanceLog(services.store)  # nothing recorded in this one
    samples, source = other_worker.recent("timed")
    assert source == "store" and len(samples) == 1 and samples[0].elapsed_ms > 0


def test_a_failing_widget_is_the_last_error(services):
    import duckdb

    services.sources.get("warehouse").close()
    path = services.settings.warehouse_url.removeprefix("duckdb:///")
    con = duckdb.connect(path)
    con.execute("DROP TABLE sessions")
    con.close()
    generate_report(SPEC, services.window, ADMIN, services)
    out = summary("timed", performance.log_for(services).recent("timed")[0], ["mrr", "sessions"])
    assert out["last_error"]["widget_id"] == "sessions"
    assert out["last_error"]["message"] == "The query could not run against this data source."
    assert out["widgets"][0]["last_error"] is None


def test_the_ring_and_the_table_keep_the_newest_per_report(services, monkeypatch):
    monkeypatch.setattr(performance, "RING_SIZE", 3)
    log = PerformanceLog(services.store)
    for i in range(5):
        log.record(Sample("r", T0 + timedelta(seconds=i), float(i), ()))
    log.record(Sample("other", T0, 1.0, ()))
    log.flush()
    with services.store.session() as session:
        kept = session.scalars(
            select(ReportTiming.elapsed_ms)
            .where(ReportTiming.report_key == "r")
            .order_by(ReportTiming.id)
        ).all()
        others = session.scalar(select(func.count()).where(ReportTiming.report_key == "other"))
    assert kept == [2.0, 3.0, 4.0] and others == 1
    assert [s.elapsed_ms for s in log.recent("r")[0]] == [2.0, 3.0, 4.0]


def test_without_the_table_the_process_ring_answers(services):
    log = PerformanceLog(services.store)
    with services.store.engine.begin() as conn:
        conn.execute(text("DROP TABLE report_timings"))
    log.record(Sample("r", T0, 12.0, ()))
    samples, source = log.recent("r")
    assert source == "memory" and [s.elapsed_ms for s in samples] == [12.0]
