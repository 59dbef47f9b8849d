"""Recent generation timings per report: a ring per process, written behind to the metadata store.

`engine.generate` records every whole generation (its time and each widget's) and every single
widget load (a dashboard loads its widgets one request each). Samples go to an in-memory ring of
the newest RING_SIZE per report and, about once a second, to the `report_timings` table, which
keeps the newest RING_SIZE per report as well. Reading flushes this process's pending samples
first and then reads the table, so under several gunicorn workers every worker answers the same;
when the store cannot be read the process's own ring answers (`source: "memory"`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from store import Store
from store.models import ReportTiming

if TYPE_CHECKING:
    from engine.generate import WidgetResult
    from engine.services import Services

log = logging.getLogger(__name__)

RING_SIZE = 100  # samples kept per report, in memory and in the store
FLUSH_SECONDS = 1.0


@dataclass(frozen=True)
class Sample:
    """One generation (`elapsed_ms` set) or one load of single widgets (`elapsed_ms` None)."""

    report: str
    at: datetime
    elapsed_ms: float | None
    widgets: tuple[dict[str, Any], ...]


def sample_of(
    report: str, results: Sequence[WidgetResult], elapsed_ms: float | None = None
) -> Sample:
    """The sample of `results`: per widget its time, rows, cache outcome and safe error."""
    widgets = tuple(
        {
            "id": r.widget.id,
            "elapsed_ms": round(r.elapsed_ms, 1),
            "rows": r.row_count,
            "fetches": r.fetches,
            "cache_hits": r.cache_hits,
            "error": r.error,
        }
        for r in results
    )
    elapsed = None if elapsed_ms is None else round(elapsed_ms, 1)
    return Sample(report, datetime.now(UTC), elapsed, widgets)


class PerformanceLog:
    """The rings of one app and their write-behind to `store` (None: memory only)."""

    def __init__(self, store: Store | None) -> None:
        self.store = store
        self._rings: dict[str, deque[Sample]] = {}
        self._pending: list[Sample] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._writer: threading.Thread | None = None

    def record(self, sample: Sample) -> None:
        with self._lock:
            self._rings.setdefault(sample.report, deque(maxlen=RING_SIZE)).append(sample)
            if self.store is None:
                return
            self._pending.append(sample)
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_behind, name="report-timings", daemon=True
                )
                self._writer.start()

    def recent(self, report: str) -> tuple[list[Sample], str]:
        """The newest samples of `report`, oldest first, and where they come from."""
        if self.store is not None:
            try:
                self.flush()
                return self._read(report), "store"
            except Exception:  # noqa: BLE001 - the process's own ring still answers
                log.warning("report timings unreadable from the store", exc_info=True)
        with self._lock:
            return list(self._rings.get(report, ())), "memory"

    def flush(self) -> None:
        """Write the pending samples, then cut each touched report to its newest RING_SIZE."""
        with self._flush_lock:
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch or self.store is None:
                return
            try:
                with self.store.session() as session:
                    session.add_all(
                        ReportTiming(
                            report_key=s.report[:200],
                            elapsed_ms=s.elapsed_ms,
                            widgets=list(s.widgets),
                            created_at=s.at,
                        )
                        for s in batch
                    )
                    session.flush()
                    for report in {s.report[:200] for s in batch}:
                        _prune(session, report)
            except Exception:
                # Dropped from the store, still in the ring: timings are a diagnostic, never a failure.
                log.warning("could not store %d report timing(s)", len(batch), exc_info=True)
                raise

    def _read(self, report: str) -> list[Sample]:
        assert self.store is not None
        with self.store.session() as session:
            rows = session.scalars(
                select(ReportTiming)
                .where(ReportTiming.report_key == report)
                .order_by(ReportTiming.id.desc())
                .limit(RING_SIZE)
            ).all()
        return [
            Sample(report, row.created_at, row.elapsed_ms, tuple(row.widgets or ()))
            for row in reversed(rows)
        ]

    def _write_behind(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            with contextlib.suppress(Exception):  # logged in flush; the writer must go on
                self.flush()


def _prune(session: Any, report: str) -> None:
    oldest_kept = session.scalar(
        select(ReportTiming.id)
        .where(ReportTiming.report_key == report)
        .order_by(ReportTiming.id.desc())
        .offset(RING_SIZE - 1)
        .limit(1)
    )
    if oldest_kept is not None:
        session.execute(
            delete(ReportTiming).where(
                ReportTiming.report_key == report, ReportTiming.id < oldest_kept
            )
        )


_logs: dict[int, tuple[Services, PerformanceLog]] = {}
_logs_lock = threading.Lock()


def log_for(services: Services) -> PerformanceLog:
    """The performance log of `services` (one per app), created on first use."""
    with _logs_lock:
        entry = _logs.get(id(services))
        if entry is None or entry[0] is not services:
            entry = (services, PerformanceLog(services.store))
            _logs[id(services)] = entry
        return entry[1]


def record(
    services: Services,
    report: str,
    results: Sequence[WidgetResult],
    elapsed_ms: float | None = None,
) -> None:
    """Record one generation (with `elapsed_ms`) or widget load of `report`; never raises."""
    try:
        log_for(services).record(sample_of(report, results, elapsed_ms))
    except Exception:  # noqa: BLE001 - a diagnostic must not break a report
        log.warning("could not record the timing of %s", report, exc_info=True)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank `q` percentile (0 < q <= 100) of `values`; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def summary(report: str, samples: Sequence[Sample], widget_ids: Sequence[str]) -> dict[str, Any]:
    """What GET /api/reports/performance/<id> answers, from `samples` (oldest first).

    Generation times are those of whole generations; widget times, rows, the cache hit ratio and
    the last error come from every sample. Widgets are listed in `widget_ids` order, then any
    other widget that was recorded (a widget since removed from the report).
    """
    generations = [s.elapsed_ms for s in samples if s.elapsed_ms is not None]
    per_widget: dict[str, list[tuple[datetime, dict[str, Any]]]] = {w: [] for w in widget_ids}
    for s in samples:
        for w in s.widgets:
            per_widget.setdefault(str(w.get("id")), []).append((s.at, w))
    widgets = [_widget_summary(wid, seen) for wid, seen in per_widget.items()]
    fetches = sum(w["fetches"] for w in widgets)
    hits = sum(w["cache_hits"] for w in widgets)
    errors = [
        (at, wid, w["error"]) for wid, seen in per_widget.items() for at, w in seen if w["error"]
    ]
    last = max(errors, key=lambda e: _aware(e[0]), default=None)
    return {
        "report_id": report,
        "samples": len(samples),
        "generations": {
            "count": len(generations),
            "p50_ms": percentile(generations, 50),
            "p95_ms": percentile(generations, 95),
            "last_ms": generations[-1] if generations else None,
        },
        "cache": {"fetches": fetches, "hits": hits, "hit_ratio": _ratio(hits, fetches)},
        "widgets": widgets,
        "last_error": (
            None
            if last is None
            else {"widget_id": last[1], "message": last[2], "at": _iso(last[0])}
        ),
    }


def _widget_summary(widget_id: str, seen: list[tuple[datetime, dict[str, Any]]]) -> dict[str, Any]:
    times = [float(w["elapsed_ms"]) for _, w in seen]
    fetches = sum(int(w.get("fetches") or 0) for _, w in seen)
    hits = sum(int(w.get("cache_hits") or 0) for _, w in seen)
    failed = [(at, w["error"]) for at, w in seen if w.get("error")]
    return {
        "id": widget_id,
        "samples": len(seen),
        "p50_ms": percentile(times, 50),
        "p95_ms": percentile(times, 95),
        "last_ms": times[-1] if times else None,
        "rows": int(seen[-1][1].get("rows") or 0) if seen else None,
        "fetches": fetches,
        "cache_hits": hits,
        "hit_ratio": _ratio(hits, fetches),
        "last_error": failed[-1][1] if failed else None,
        "last_error_at": _iso(failed[-1][0]) if failed else None,
    }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _iso(value: datetime) -> str:
    return _aware(value).isoformat(timespec="seconds")
