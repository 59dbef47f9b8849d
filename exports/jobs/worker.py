"""The worker pool of one app (`ExportManager`): claims a pending export, generates it in chunks
with progress, renders its file, and a monitor thread beats for its jobs, enforces timeouts, fails
the rows of processes that stopped and purges old exports."""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import click
from flask import Flask
from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError

from engine import performance
from engine.generate import WidgetResult, report_key
from engine.periods import Window
from engine.reports import FoundReport, find_report
from engine.services import Services
from engine.spec import DashboardSpec
from exports import (
    ExportError,
    ExportFormat,
    ExportLimits,
    ExportTimeoutError,
    ReportResult,
    file_name,
    jobs,
)
from exports.jobs.queue import ExportQueueList
from exports.jobs.request import applied_filters, apply_filters, dimension_filters
from exports.jobs.rows import (
    FAILED,
    FINISHED,
    GENERIC_ERROR,
    PENDING,
    RUNNING,
    STALE_AFTER_SECONDS,
    SUCCEEDED,
    _remove_dir,
    export_root,
    fail_interrupted,
    get_export,
    purge_exports,
)
from exports.jobs.warmup import _wait_warm, warm_renderers
from security import audit
from security.policy import AccessDenied, ClampMode
from security.users import Principal
from store.models import Export

# `jobs.generate` and `jobs.render` are looked up on the package at call time, so that patching
# them on `exports.jobs` (as tests do) reaches the workers.

log = logging.getLogger(__name__)

PURGE_INTERVAL_SECONDS = 3600
HEARTBEAT_SECONDS = 5.0  # how often a manager says its jobs are alive (rows.STALE_AFTER_SECONDS)


class _Stop(Exception):  # noqa: N818  (control flow: the job was cancelled or timed out elsewhere)
    """The row left `running` (cancelled or timed out): stop and keep nothing."""


@dataclass
class _Job:
    export_id: str
    principal: Principal
    done: threading.Event = field(default_factory=threading.Event)
    cancel: threading.Event = field(default_factory=threading.Event)
    deadline: float | None = None  # time.monotonic() when it must stop


class ExportManager:
    """The worker pool of one app: REPORT_CONCURRENT_LIMIT threads plus a monitor thread."""

    def __init__(self, services: Services) -> None:
        self.services = services
        # Written on the rows it holds: which process runs them (host:pid:random, pids get reused).
        self.instance_id = f"{socket.gethostname()[:50]}:{os.getpid()}:{secrets.token_hex(3)}"
        self.heartbeat_seconds = HEARTBEAT_SECONDS
        self.stale_after = STALE_AFTER_SECONDS
        self.pid = os.getpid()
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, services.settings.report_concurrent_limit),
            thread_name_prefix="export-worker",
        )
        self._jobs: dict[str, _Job] = {}
        # `redis-cli llen export_queue`: the pending exports, mirrored at each change of state.
        self.queue = ExportQueueList(services.settings.redis_url or None)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._monitor = threading.Thread(target=self._watch, name="export-monitor", daemon=True)
        self._monitor.start()
        self._warming = threading.Lock()
        self._warm_started = False

    def _warm_once(self) -> None:
        # On the first job, not at start-up: the monitor runs in every web process from its first
        # request, and not every process should start kaleido and Chromium.
        with self._warming:
            if self._warm_started:
                return
            self._warm_started = True
        threading.Thread(target=warm_renderers, name="export-warmup", daemon=True).start()

    @property
    def settings(self) -> Any:
        return self.services.settings

    # jobs
    def submit(self, export_id: str, principal: Principal) -> None:
        self._warm_once()
        job = _Job(export_id, principal)
        with self._lock:
            self._jobs[export_id] = job
        self.queue.queued(export_id)
        self._pool.submit(self._run, job)

    def wait(self, export_id: str, timeout: float) -> None:
        with self._lock:
            job = self._jobs.get(export_id)
        if job is not None:
            job.done.wait(timeout)
            return
        ends = time.monotonic() + timeout  # another process's job: poll the row
        while time.monotonic() < ends:
            row = get_export(self.services, export_id)
            if row is None or row.status in FINISHED:
                return
            time.sleep(0.2)

    def cancelled(self, export_id: str) -> None:
        with self._lock:
            job = self._jobs.get(export_id)
        if job is not None:
            job.cancel.set()
            job.done.set()
        self.queue.left(export_id)

    def shutdown(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.queue.close()

    # one job
    def _run(self, job: _Job) -> None:
        try:
            self._execute(job)
        except Exception:  # noqa: BLE001 - a worker must survive every job
            log.exception("export %s: worker failed", job.export_id)
            self._finish_failed(job.export_id, GENERIC_ERROR)
        finally:
            job.done.set()
            with self._lock:
                self._jobs.pop(job.export_id, None)

    def _execute(self, job: _Job) -> None:
        store, settings = self.services.store, self.settings
        now = datetime.now(UTC)
        with store.session() as session:
            claimed = session.execute(
                update(Export)
                .where(Export.id == job.export_id, Export.status == PENDING)
                .values(
                    status=RUNNING,
                    started_at=now,
                    progress=5,
                    worker_id=self.instance_id,
                    heartbeat_at=now,
                )
            ).rowcount
            row = session.get(Export, job.export_id) if claimed else None
        self.queue.left(job.export_id)  # claimed, or cancelled/purged before a worker was free
        if row is None:
            return  # cancelled (or purged) before a worker was free
        params = row.params or {}
        timeout = float(params.get("timeout_seconds") or settings.report_timeout_seconds)
        job.deadline = time.monotonic() + timeout
        fmt = ExportFormat.parse(row.format)
        widget_id = params.get("widget_id")
        try:
            found = find_report(store, row.report_ref)
            window = Window(date.fromisoformat(params["start"]), date.fromisoformat(params["end"]))
            spec = apply_filters(
                found.spec, params.get("filters"), window, settings.report_timezone
            )
            if widget_id is not None:
                spec = spec.model_copy(update={"widgets": [spec.widget(widget_id)]})
            results = self._generate(
                job, spec, window, found, params.get("cap", "clamp"),
                dimension_filters(params.get("filters")),
            )  # fmt: skip
            result = ReportResult(
                title=found.spec.title,
                period_label=(results[0].window if results else window).label(),
                generated_at=datetime.now(UTC),
                timezone=settings.report_timezone,
                currency=settings.report_currency,
                widgets=results,
                filters=applied_filters(results, params.get("filters")),
                key=found.spec.key,
            )
            self._checkpoint(job, 75)
            shown = _shown_widgets(result, fmt, widget_id)
            if shown and all(w.error for w in shown):  # a file of error notes is no export
                raise ExportError("every widget failed", _failures_message(shown))
            name = file_name(result, fmt, widget_id)
            folder = export_root(settings) / job.export_id
            path = folder / name
            limits = ExportLimits(
                max_rows=int(params.get("max_rows") or settings.report_max_rows),
                timeout_seconds=max(0.001, job.deadline - time.monotonic()),
                pdf_generator_url=settings.pdf_generator_url,
            )
            _wait_warm(fmt)
            limits = dataclasses.replace(
                limits, timeout_seconds=max(0.001, job.deadline - time.monotonic())
            )
            jobs.render(result, fmt, path, limits=limits, widget_id=widget_id)
        except _Stop:
            return
        except (ExportError, AccessDenied, LookupError) as exc:
            message = getattr(exc, "user_message", None) or str(exc)
            log.warning("export %s failed: %s", job.export_id, exc)
            self._finish_failed(
                job.export_id, message, principal=job.principal, report=row.report_ref
            )
            return
        if time.monotonic() > job.deadline:
            _remove_dir(export_root(settings) / job.export_id)
            self._finish_failed(job.export_id, ExportTimeoutError(timeout).user_message)
            return
        max_rows = limits.max_rows
        if fmt is ExportFormat.PDF:
            from exports.pdf import PDF_MAX_ROWS

            max_rows = min(max_rows, PDF_MAX_ROWS)
        truncations = [t for w in shown if (t := result.table(w, max_rows)[1]) is not None]
        rows_in_file = sum(
            len(frame) for w in shown if (frame := result.table(w, max_rows)[0]) is not None
        )
        detail = {
            "truncations": [
                {"widget_id": t.widget_id, "title": t.title, "kept": t.kept, "total": t.total,
                 "note": t.note()} for t in truncations
            ],
            "rows_total": sum(max(w.row_count, 0 if w.frame is None else len(w.frame)) for w in shown),
            "widget_errors": {w.widget.id: w.error for w in shown if w.error},
            "message": "; ".join([f"{t.title}: {t.note()}" for t in truncations]
                                 + _failures_note(shown)) or None,
        }  # fmt: skip
        with store.session() as session:
            done = session.execute(
                update(Export)
                .where(Export.id == job.export_id, Export.status == RUNNING)
                .values(status=SUCCEEDED, progress=100, path=str(path), filename=name,
                        row_count=rows_in_file, truncated=bool(truncations), detail=detail,
                        error=None, finished_at=datetime.now(UTC))
            ).rowcount  # fmt: skip
        if not done:  # cancelled or timed out while rendering: keep nothing
            _remove_dir(export_root(settings) / job.export_id)

    def _generate(
        self,
        job: _Job,
        spec: DashboardSpec,
        window: Window,
        found: FoundReport,
        cap: ClampMode,
        filters: dict[str, list[str]],
    ) -> list[WidgetResult]:
        """generate() in chunks of REPORT_CONCURRENT_LIMIT widgets: progress 10-70 %, checkpoints."""
        self._checkpoint(job, 10)
        started = time.perf_counter()
        size = max(1, self.settings.report_concurrent_limit)
        chunks = [spec.widgets[i : i + size] for i in range(0, len(spec.widgets), size)] or [[]]
        results: list[WidgetResult] = []
        for n, chunk in enumerate(chunks, 1):
            part = spec.model_copy(update={"widgets": chunk})
            results += jobs.generate(part, window, job.principal, self.services, action="export",
                                     cap=cap, resource=found.resource, filters=filters or None,
                                     record=False)  # fmt: skip
            self._checkpoint(job, 10 + 60 * n // len(chunks))
        # The chunks are one generation (a one-widget export is a widget sample, not a generation).
        whole = len(spec.widgets) == len(found.spec.widgets)
        elapsed = (time.perf_counter() - started) * 1000 if whole else None
        performance.record(self.services, report_key(spec, found.resource), results, elapsed)
        return results

    def _checkpoint(self, job: _Job, progress: int) -> None:
        """Store progress; stop (_Stop) if the job was cancelled or timed out, here or elsewhere."""
        if job.cancel.is_set():
            raise _Stop
        if job.deadline is not None and time.monotonic() > job.deadline:
            self._finish_failed(job.export_id, ExportTimeoutError(
                float((self._row_params(job.export_id) or {}).get("timeout_seconds") or
                      self.settings.report_timeout_seconds)).user_message)  # fmt: skip
            raise _Stop
        with self.services.store.session() as session:
            still = session.execute(
                update(Export)
                .where(Export.id == job.export_id, Export.status == RUNNING)
                .values(progress=progress)
            ).rowcount
        if not still:
            raise _Stop

    def _row_params(self, export_id: str) -> dict[str, Any] | None:
        row = get_export(self.services, export_id)
        return row.params if row is not None else None

    def _finish_failed(
        self,
        export_id: str,
        message: str,
        *,
        principal: Principal | None = None,
        report: str | None = None,
    ) -> bool:
        with self.services.store.session() as session:
            changed = session.execute(
                update(Export)
                .where(Export.id == export_id, Export.status.in_((PENDING, RUNNING)))
                .values(status=FAILED, error=message, finished_at=datetime.now(UTC))
            ).rowcount
        _remove_dir(export_root(self.settings) / export_id)
        if changed:
            self.queue.left(export_id)
        if changed and principal is not None:
            audit.record(self.services.store, principal=principal, action="export.create",
                         target=f"export:{export_id}", outcome="failed",
                         detail={"report": report, "error": message},
                         enabled=self.settings.enable_audit_log)  # fmt: skip
        return bool(changed)

    # the monitor: heartbeats and timeouts of this process's jobs, rows of dead processes, the purge
    def _watch(self) -> None:
        interval = min(self.heartbeat_seconds, max(0.1, self.settings.report_timeout_seconds / 10))
        next_purge = next_beat = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_beat:
                    self._beat()
                    fail_interrupted(self.services, self.stale_after)
                    next_beat = time.monotonic() + self.heartbeat_seconds
                if time.monotonic() >= next_purge:
                    purge_exports(self.services)
                    self.queue.reconcile(self.services.store)
                    next_purge = time.monotonic() + PURGE_INTERVAL_SECONDS
                self._time_out()
            except Exception:  # noqa: BLE001 - the monitor must keep running
                log.exception("export monitor failed")
            self._stop.wait(interval)

    def _beat(self) -> None:
        """This process is alive: refresh `heartbeat_at` of the rows it holds."""
        with self._lock:
            held = list(self._jobs)
        if not held:
            return
        with self.services.store.session() as session:
            session.execute(
                update(Export)
                .where(Export.id.in_(held), Export.status.in_((PENDING, RUNNING)))
                .values(heartbeat_at=datetime.now(UTC), worker_id=self.instance_id)
            )

    def _time_out(self) -> None:
        now = time.monotonic()
        with self._lock:
            late = [j for j in self._jobs.values() if j.deadline is not None and now > j.deadline]
        for job in late:
            params = self._row_params(job.export_id) or {}
            seconds = float(params.get("timeout_seconds") or self.settings.report_timeout_seconds)
            if self._finish_failed(job.export_id, ExportTimeoutError(seconds).user_message):
                log.warning("export %s stopped after %ss", job.export_id, seconds)
            job.cancel.set()
            job.done.set()


_managers: dict[int, tuple[Services, ExportManager]] = {}
_managers_lock = threading.Lock()


def manager(services: Services) -> ExportManager:
    """The worker pool of `services` (one per app and process), started on first use."""
    with _managers_lock:
        entry = _managers.get(id(services))
        # A forked process (gunicorn --preload) inherits the entry but not its threads.
        if entry is None or entry[0] is not services or entry[1].pid != os.getpid():
            entry = (services, ExportManager(services))
            _managers[id(services)] = entry
        return entry[1]


def shutdown_manager(services: Services) -> None:
    with _managers_lock:
        entry = _managers.pop(id(services), None)
    if entry is not None:
        entry[1].shutdown()


def init_app(server: Flask, services: Services) -> None:
    """At start-up, fail the exports whose process stopped (a killed or restarted worker); from
    this process's first request on, its monitor keeps doing so (outside `flask` commands)."""
    try:
        fail_interrupted(services)
    except SQLAlchemyError:
        log.exception("could not check for interrupted exports at start-up")

    @server.before_request
    def _start_export_monitor() -> None:
        if click.get_current_context(silent=True) is None:
            manager(services)


def _failures_message(failed: list[WidgetResult]) -> str:
    """Why an export whose every widget failed has no file: the sources' safe messages."""
    messages = list(dict.fromkeys(w.error or "" for w in failed))
    if len(messages) == 1:  # typically the warehouse is down: its message says it all
        return messages[0]
    return "No widget could be computed: " + "; ".join(
        f"{w.widget.title}: {w.error}" for w in failed
    )


def _failures_note(shown: list[WidgetResult]) -> list[str]:
    """The row's note when some widgets failed (the file says so in their place)."""
    failed = [w for w in shown if w.error]
    if not failed:
        return []
    which = "; ".join(f"{w.widget.title}: {w.error}" for w in failed)
    return [f"{len(failed)} of {len(shown)} widgets failed and are marked in the file ({which})"]


def _shown_widgets(
    result: ReportResult, fmt: ExportFormat, widget_id: str | None
) -> list[WidgetResult]:
    if fmt.is_image:
        from exports.images import pick_widget

        return [pick_widget(result, widget_id)]
    return result.only(widget_id).widgets if widget_id else list(result.widgets)
