"""Export jobs: a request becomes an `exports` row, a long-lived worker pool renders it, the file is kept 7 days.

    row = create_export(services, principal, "revenue_overview", "excel", "30d", {})
    row = wait(services, row.id, timeout=30)          # or poll get_export(...)
    path, name, ctype = open_download(services, principal, row.id)

The flow (every step usable from the API, the dashboard UI and tests):

1. `create_export` validates the request (format, period, filters, widget), finds the report and
   checks `export` access up front (a 403 now rather than a failed job later), inserts a `pending`
   row, audits `export.create` and queues the job.
2. One `ExportManager` per app (per `Services`) owns a thread pool of REPORT_CONCURRENT_LIMIT
   workers in this process, so the warm kaleido server and the kept-open Chromium are reused by
   every job; no process is spawned per export.
3. A worker claims the row (`pending` -> `running`, only if nobody cancelled it), generates the report
   through `engine.generate(..., action="export")` (authorization, role date cap, row scope and
   masking happen there, again), in chunks of REPORT_CONCURRENT_LIMIT widgets so that progress
   moves and cancel/timeout are seen between chunks, then renders to
   `<instance>/exports/<id>/<file name>` (the renderers write atomically).
4. The row becomes `succeeded` only through a conditional update (`WHERE status = 'running'`): an
   export cancelled or timed out meanwhile never turns into a downloadable file — its file is
   deleted instead. Failures keep the renderer's safe `user_message`; anything else is logged and
   stored as a generic message.

Timeouts: REPORT_TIMEOUT_SECONDS bounds a job from the moment a worker takes it. The renderers stop
themselves at the deadline (ExportTimeoutError); for a stage that cannot be interrupted (a query
inside `generate`), the manager's monitor thread marks the job `failed` with the timeout message at
the deadline and the worker's late result is thrown away. Python threads cannot be killed.

Cancel: `cancel_export` sets the status to `cancelled` at once (any process sharing the database
can do it); the worker notices at its next checkpoint, and whatever it produces is discarded.

Retention: `purge_exports` deletes rows and files older than `security.audit.cutoff("export_files")`
(7 days), plus orphaned folders; the monitor runs it when the manager starts and hourly. Rows left
`pending`/`running` by a process that died are marked failed once they are clearly stale.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import shutil
import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update

from analytics.catalog import MetricError, get_metric, parse_params
from engine.generate import WidgetResult, authorize_spec, generate
from engine.periods import PERIOD_DAYS, PeriodError, Window, resolve
from engine.reports import FoundReport, find_report
from engine.services import Services
from engine.spec import FILTER_NAMES, DashboardSpec
from exports import (
    ExportError,
    ExportFormat,
    ExportLimits,
    ExportTimeoutError,
    ReportResult,
    content_type,
    file_name,
    render,
)
from security import audit
from security.policy import AccessDenied, ClampMode, Resource, authorize
from security.users import Principal
from store.models import Export

log = logging.getLogger(__name__)

PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED = (
    "pending",
    "running",
    "succeeded",
    "failed",
    "cancelled",
)
STATES = (PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED)
FINISHED = frozenset({SUCCEEDED, FAILED, CANCELLED})
EXPORT_DIR = "exports"
PURGE_INTERVAL_SECONDS = 3600
RESERVED_FILTERS = frozenset({"start", "end", "timezone", "interval"})
GENERIC_ERROR = "The export could not be produced. The error was logged."
INTERRUPTED = "The export was interrupted (the server stopped). Start it again."
CANCELLED_MESSAGE = "Cancelled."


class ExportRequestError(ExportError):
    """A request that cannot become an export: `status` is the HTTP status (400, 404, 409, 410)."""

    def __init__(self, status: int, code: str, user_message: str) -> None:
        super().__init__(user_message, user_message)
        self.status, self.code = status, code


class _Stop(Exception):  # noqa: N818  (control flow: the job was cancelled or timed out elsewhere)
    """The row left `running` (cancelled or timed out): stop and keep nothing."""


# -- requests ---------------------------------------------------------------------------------------


def parse_format(raw: str, settings: Any, allowed: tuple[str, ...] | None = None) -> ExportFormat:
    """`raw` as an ExportFormat: "image" means IMAGE_EXPORT_FORMAT; `allowed` (e.g. API_EXPORT_FORMATS)
    limits the choice. ExportRequestError (400) names the accepted ones."""
    value = str(raw or "").strip().lower()
    if value == "image":
        value = settings.image_export_format
    try:
        fmt = ExportFormat.parse(value)
    except ExportError as exc:
        raise ExportRequestError(400, "bad_format", exc.user_message) from None
    if allowed is not None and fmt.value not in allowed:
        names = ", ".join(allowed) + (
            ", image" if any(a in ("png", "svg", "jpg") for a in allowed) else ""
        )
        raise ExportRequestError(
            400,
            "bad_format",
            f"Export format {value!r} is not offered here; choose one of {names}.",
        )
    return fmt


def resolve_window(
    period: str, timezone: str, start: str | None = None, end: str | None = None
) -> Window:
    if not isinstance(period, str) or period not in (*PERIOD_DAYS, "custom"):
        raise ExportRequestError(
            400, "bad_period", f"Unknown period {period!r}; choose one of 7d, 30d, 90d or custom."
        )
    try:
        return resolve(period, timezone, start=start, end=end)
    except PeriodError as exc:
        raise ExportRequestError(400, "bad_period", str(exc).capitalize() + ".") from None


def dimension_filters(filters: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """The dashboard dimension filters (processor, plan, country, department, user_type) among
    `filters`, as lists of strings: what `engine.generate(filters=...)` takes."""
    out: dict[str, list[str]] = {}
    for name, value in (filters or {}).items():
        if name in FILTER_NAMES and value not in (None, "", []):
            values = value if isinstance(value, list) else [value]
            out[name] = [str(v) for v in values]
    return out


def apply_filters(
    spec: DashboardSpec, filters: Mapping[str, Any] | None, window: Window, timezone: str
) -> DashboardSpec:
    """`spec` with the filters set on the widgets that honour them.

    A dimension filter (processor, plan, country, department, user_type) goes into the `filters`
    parameter of every metric that has one (as `engine.generate(filters=...)` does); any other name
    is set as a parameter of every widget whose metric accepts it. A filter no widget honours, a
    reserved name (start, end, timezone, interval) or a value the metrics reject is an
    ExportRequestError (400): an export never claims a filter its numbers do not honour.
    """
    if not filters:
        return spec
    if not isinstance(filters, Mapping):
        raise ExportRequestError(400, "bad_filters", "filters must be a JSON object.")
    for name, value in filters.items():
        if name in RESERVED_FILTERS:
            raise ExportRequestError(
                400, "bad_filters", f"Filter {name!r} is set by the period, not by a filter."
            )
        if not (value is None or isinstance(value, str | int | float | bool | list)):
            raise ExportRequestError(
                400, "bad_filters", f"Filter {name!r} must be a string, number, boolean or list."
            )
    dimensions = dimension_filters(filters)
    others = {k: v for k, v in filters.items() if k not in FILTER_NAMES}
    widgets, used = [], set()
    for widget in spec.widgets:
        metric = get_metric(widget.metric)
        accepted = metric.params.model_fields
        mine = {k: v for k, v in others.items() if k in accepted}
        if dimensions and "filters" in accepted:
            mine["filters"] = {**(widget.params.get("filters") or {}), **dimensions}
            used.update(dimensions)
        if not mine:
            widgets.append(widget)
            continue
        used.update(k for k in mine if k != "filters")
        params = {**widget.params, **mine}
        base = {"start": window.start, "end": window.end, "timezone": timezone}
        try:
            parse_params(metric, {**{k: v for k, v in base.items() if k in accepted}, **params})
        except MetricError as exc:
            raise ExportRequestError(400, "bad_filters", f"Filter rejected: {exc}") from None
        widgets.append(widget.model_copy(update={"params": params}))
    unknown = sorted(set(filters) - used - {k for k in FILTER_NAMES if k not in dimensions})
    if unknown:
        raise ExportRequestError(
            400,
            "bad_filters",
            f"Filter {unknown[0]!r} is not accepted by any widget of {spec.key!r}.",
        )
    return spec.model_copy(update={"widgets": widgets})


# -- the public functions -----------------------------------------------------------------------------


def create_export(
    services: Services,
    principal: Principal,
    report_id: str,
    fmt: str | ExportFormat,
    period: str,
    filters: Mapping[str, Any] | None = None,
    widget_id: str | None = None,
    *,
    start: str | None = None,
    end: str | None = None,
    allowed_formats: tuple[str, ...] | None = None,
    cap: ClampMode = "clamp",
    ip: str | None = None,
) -> Export:
    """Validate, authorize and queue an export; the new `pending` row (detached, safe to read).

    Raises:
        ExportRequestError: 400 bad format/period/filters/widget, 403 exports disabled.
        ReportNotFound: no such report (404).
        AccessDenied: the principal may not export it (403; audited as denied).
    """
    settings = services.settings
    if not settings.enable_exports:
        raise ExportRequestError(
            403, "exports_disabled", "Exports are turned off (ENABLE_EXPORTS)."
        )
    fmt = fmt if isinstance(fmt, ExportFormat) else parse_format(fmt, settings, allowed_formats)
    tz = settings.report_timezone
    window = resolve_window(period, tz, start, end)
    if not isinstance(report_id, str) or not report_id.strip():
        raise ExportRequestError(400, "bad_request", "report_id must name a report.")
    found = find_report(services.store, report_id.strip())
    if widget_id is not None and widget_id not in {w.id for w in found.spec.widgets}:
        raise ExportRequestError(
            400, "bad_widget", f"Report {report_id!r} has no widget {widget_id!r}."
        )
    filters = dict(filters or {})
    apply_filters(found.spec, filters, window, tz)
    try:
        window = authorize_spec(
            found.spec, window, principal, action="export", cap=cap, resource=found.resource
        )
    except AccessDenied as exc:
        audit.record(services.store, principal=principal, action="export.create",
                     target=f"{found.resource.kind}:{found.resource.key}", outcome="denied", ip=ip,
                     detail={"format": fmt.value, "reason": exc.user_message},
                     enabled=settings.enable_audit_log)  # fmt: skip
        raise
    row = Export(
        id=uuid.uuid4().hex,
        report_ref=report_id.strip(),
        format=fmt.value,
        status=PENDING,
        progress=0,
        params={
            "period": period,
            "start": window.start.isoformat(),
            "end": window.end.isoformat(),
            "filters": filters,
            "widget_id": widget_id,
            "cap": cap,
            "max_rows": settings.report_max_rows,
            "timeout_seconds": settings.report_timeout_seconds,
        },
        owner_id=principal.id or None,
        created_at=datetime.now(UTC),
    )
    with services.store.session() as session:
        session.add(row)
    audit.record(services.store, principal=principal, action="export.create",
                 target=f"{found.resource.kind}:{found.resource.key}", ip=ip,
                 detail={"export_id": row.id, "format": fmt.value, "period": period,
                         "widget_id": widget_id, "filters": filters},
                 enabled=settings.enable_audit_log)  # fmt: skip
    manager(services).submit(row.id, principal)
    return row


def get_export(services: Services, export_id: str) -> Export | None:
    with services.store.session() as session:
        return session.get(Export, export_id)


def get_for(services: Services, principal: Principal, export_id: str) -> Export:
    """The export if `principal` owns it or is an admin; ExportRequestError 404 otherwise
    (someone else's export is indistinguishable from none, so ids cannot be probed)."""
    row = get_export(services, export_id) if isinstance(export_id, str) else None
    if row is None or not _may_see(principal, row):
        raise ExportRequestError(404, "not_found", f"No export {export_id!r}.")
    return row


def wait(services: Services, export_id: str, timeout: float) -> Export | None:
    """The row once it is finished, or as it is after `timeout` seconds."""
    manager(services).wait(export_id, timeout)
    return get_export(services, export_id)


def cancel_export(
    services: Services, principal: Principal, export_id: str, *, ip: str | None = None
) -> Export:
    """Cancel a pending or running export (owner or admin); a finished one is returned unchanged."""
    row = get_for(services, principal, export_id)
    now = datetime.now(UTC)
    with services.store.session() as session:
        changed = session.execute(
            update(Export)
            .where(Export.id == export_id, Export.status.in_((PENDING, RUNNING)))
            .values(status=CANCELLED, error=CANCELLED_MESSAGE, finished_at=now)
        ).rowcount
    if changed:
        manager(services).cancelled(export_id)
        audit.record(services.store, principal=principal, action="export.cancel",
                     target=f"export:{export_id}", ip=ip, detail={"report": row.report_ref},
                     enabled=services.settings.enable_audit_log)  # fmt: skip
    return get_export(services, export_id) or row


def open_download(
    services: Services, principal: Principal, export_id: str, *, ip: str | None = None
) -> tuple[Path, str, str]:
    """(path, file name, content type) of a finished export, after checking access again.

    Only the owner or an admin, and only while they still may export the report (the role or the
    report may have changed since). Raises ExportRequestError (404 none, 409 not finished, 410
    failed/cancelled/purged) or AccessDenied (403); every outcome is audited as export.download.
    """

    def audited(outcome: str, **detail: Any) -> None:
        audit.record(services.store, principal=principal, action="export.download",
                     target=f"export:{export_id}", outcome=outcome, ip=ip, detail=detail,
                     enabled=services.settings.enable_audit_log)  # fmt: skip

    row = get_export(services, export_id) if isinstance(export_id, str) else None
    if row is not None and not _may_see(principal, row):
        audited("denied", reason="not the owner")
        raise AccessDenied("Only its owner or an administrator may download this export.",
                           "export", Resource("export", export_id, owner_id=row.owner_id))  # fmt: skip
    if row is None:
        raise ExportRequestError(404, "not_found", f"No export {export_id!r}.")
    try:
        found = find_report(services.store, row.report_ref)
        authorize(principal, "export", found.resource)
    except AccessDenied as exc:
        audited("denied", reason=exc.user_message)
        raise
    except LookupError:
        raise ExportRequestError(
            410, "gone", "The report of this export no longer exists."
        ) from None
    if row.status in (PENDING, RUNNING):
        raise ExportRequestError(
            409, "not_ready", f"The export is still {row.status} ({row.progress} %)."
        )
    if row.status != SUCCEEDED:
        raise ExportRequestError(410, "gone", f"The export {row.status}: {row.error or 'no file'}")
    path = Path(row.path or "")
    root = export_root(services.settings).resolve()
    if not row.path or root not in path.resolve().parents or not path.is_file():
        raise ExportRequestError(410, "gone", "The export file is no longer kept (7 days).")
    audited("ok", format=row.format, filename=row.filename, report=row.report_ref)
    return path, row.filename or path.name, content_type(row.format)


def as_dict(row: Export, download_url: str | None = None) -> dict[str, Any]:
    """The API and UI view of a row."""
    params = row.params or {}
    detail = row.detail or {}
    return {
        "id": row.id,
        "status": row.status,
        "progress": int(row.progress or 0),
        "report_id": row.report_ref,
        "format": row.format,
        "widget_id": params.get("widget_id"),
        "period": {
            "name": params.get("period"),
            "start": params.get("start"),
            "end": params.get("end"),
        },
        "filters": params.get("filters") or {},
        "filename": row.filename,
        "content_type": content_type(row.format),
        "row_count": row.row_count,
        "truncated": bool(row.truncated),
        "truncations": detail.get("truncations", []),
        "message": detail.get("message"),
        "error": row.error,
        "created_at": _iso(row.created_at),
        "started_at": _iso(row.started_at),
        "finished_at": _iso(row.finished_at),
        "download_url": download_url if row.status == SUCCEEDED else None,
    }


def export_root(settings: Any) -> Path:
    return Path(settings.instance_path) / EXPORT_DIR


def purge_exports(services: Services, now: datetime | None = None) -> int:
    """Delete export rows and files created before the 7-day cutoff, and orphaned folders; the count."""
    now = now or datetime.now(UTC)
    before = audit.cutoff("export_files", now)
    root = export_root(services.settings)
    with services.store.session() as session:
        old = session.scalars(select(Export.id).where(Export.created_at < before)).all()
        if old:
            session.execute(delete(Export).where(Export.id.in_(old)))
        known = set(session.scalars(select(Export.id)).all())
    for export_id in old:
        _remove_dir(root / export_id)
    if root.is_dir():
        for folder in root.iterdir():
            mtime = datetime.fromtimestamp(folder.stat().st_mtime, UTC)
            if folder.is_dir() and folder.name not in known and mtime < before:
                _remove_dir(folder)
    if old:
        log.info("purged %d export(s) older than %s", len(old), before.isoformat())
        audit.record(services.store, principal=None, action="export.purge", target="exports",
                     detail={"count": len(old), "before": before.isoformat()},
                     enabled=services.settings.enable_audit_log)  # fmt: skip
    return len(old)


# -- the worker pool -----------------------------------------------------------------------------------


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
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, services.settings.report_concurrent_limit),
            thread_name_prefix="export-worker",
        )
        self._jobs: dict[str, _Job] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._monitor = threading.Thread(target=self._watch, name="export-monitor", daemon=True)
        self._monitor.start()
        threading.Thread(target=warm_renderers, name="export-warmup", daemon=True).start()

    @property
    def settings(self) -> Any:
        return self.services.settings

    # jobs
    def submit(self, export_id: str, principal: Principal) -> None:
        job = _Job(export_id, principal)
        with self._lock:
            self._jobs[export_id] = job
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

    def shutdown(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

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
                .values(status=RUNNING, started_at=now, progress=5)
            ).rowcount
            row = session.get(Export, job.export_id) if claimed else None
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
                filters=dict(params.get("filters") or {}),
                key=found.spec.key,
            )
            self._checkpoint(job, 75)
            name = file_name(result, fmt, widget_id)
            folder = export_root(settings) / job.export_id
            path = folder / name
            limits = ExportLimits(
                max_rows=int(params.get("max_rows") or settings.report_max_rows),
                timeout_seconds=max(0.001, job.deadline - time.monotonic()),
            )
            _wait_warm(fmt)
            limits = dataclasses.replace(
                limits, timeout_seconds=max(0.001, job.deadline - time.monotonic())
            )
            render(result, fmt, path, limits=limits, widget_id=widget_id)
            shown = _shown_widgets(result, fmt, widget_id)
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
            "message": "; ".join(f"{t.title}: {t.note()}" for t in truncations) or None,
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
        size = max(1, self.settings.report_concurrent_limit)
        chunks = [spec.widgets[i : i + size] for i in range(0, len(spec.widgets), size)] or [[]]
        results: list[WidgetResult] = []
        for n, chunk in enumerate(chunks, 1):
            part = spec.model_copy(update={"widgets": chunk})
            results += generate(part, window, job.principal, self.services, action="export",
                                cap=cap, resource=found.resource, filters=filters or None)  # fmt: skip
            self._checkpoint(job, 10 + 60 * n // len(chunks))
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
        if changed and principal is not None:
            audit.record(self.services.store, principal=principal, action="export.create",
                         target=f"export:{export_id}", outcome="failed",
                         detail={"report": report, "error": message},
                         enabled=self.settings.enable_audit_log)  # fmt: skip
        return bool(changed)

    # the monitor: timeouts of this process's jobs, stale rows of dead processes, the purge
    def _watch(self) -> None:
        interval = min(5.0, max(0.1, self.settings.report_timeout_seconds / 10))
        next_purge = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_purge:
                    purge_exports(self.services)
                    self._fail_stale()
                    next_purge = time.monotonic() + PURGE_INTERVAL_SECONDS
                self._time_out()
            except Exception:  # noqa: BLE001 - the monitor must keep running
                log.exception("export monitor failed")
            self._stop.wait(interval)

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

    def _fail_stale(self) -> None:
        """Rows left pending/running by a process that died: failed once twice their timeout passed."""
        now = datetime.now(UTC)
        with self.services.store.session() as session:
            rows = session.scalars(
                select(Export).where(Export.status.in_((PENDING, RUNNING)))
            ).all()
            stale = []
            for row in rows:
                seconds = float((row.params or {}).get("timeout_seconds") or 300)
                since = _aware(row.started_at or row.created_at)
                if since < now - timedelta(seconds=2 * seconds + 60):
                    stale.append(row.id)
            if stale:
                session.execute(
                    update(Export)
                    .where(Export.id.in_(stale), Export.status.in_((PENDING, RUNNING)))
                    .values(status=FAILED, error=INTERRUPTED, finished_at=now)
                )


_warm_lock = threading.Lock()
_warmed = threading.Event()
WARM_WAIT_SECONDS = 60


def warm_renderers() -> None:
    """Start this process's kaleido server and Chromium now, so the first PDF or image export does
    not pay their start-up (both are process-wide, idempotent, and kept for the process's life).

    PDF and image jobs wait for this to finish (`_wait_warm`): the printer's lazy start is not
    safe against a second start racing it, so only this one thread ever starts the browsers.
    """
    with _warm_lock:
        if _warmed.is_set():
            return
        for name, start in (("kaleido", _start_kaleido), ("chromium", _start_chromium)):
            try:
                start()
            except Exception as exc:  # noqa: BLE001 - a missing browser fails that export, not the app
                log.warning("could not warm %s for exports: %s", name, exc)
        _warmed.set()


def _wait_warm(fmt: ExportFormat) -> None:
    if fmt is ExportFormat.PDF or fmt.is_image:
        _warmed.wait(WARM_WAIT_SECONDS)


def _start_kaleido() -> None:
    from exports.images import start_image_server

    start_image_server()


def _start_chromium() -> None:
    from exports.chromium import printer

    printer().start()


_managers: dict[int, tuple[Services, ExportManager]] = {}
_managers_lock = threading.Lock()


def manager(services: Services) -> ExportManager:
    """The worker pool of `services` (one per app), started on first use."""
    with _managers_lock:
        entry = _managers.get(id(services))
        if entry is None or entry[0] is not services:
            entry = (services, ExportManager(services))
            _managers[id(services)] = entry
        return entry[1]


def shutdown_manager(services: Services) -> None:
    with _managers_lock:
        entry = _managers.pop(id(services), None)
    if entry is not None:
        entry[1].shutdown()


# -- helpers ---------------------------------------------------------------------------------------------


def _may_see(principal: Principal, row: Export) -> bool:
    return principal.role == "admin" or (row.owner_id is not None and row.owner_id == principal.id)


def _shown_widgets(
    result: ReportResult, fmt: ExportFormat, widget_id: str | None
) -> list[WidgetResult]:
    if fmt.is_image:
        from exports.images import pick_widget

        return [pick_widget(result, widget_id)]
    return result.only(widget_id).widgets if widget_id else list(result.widgets)


def _remove_dir(folder: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(folder)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return _aware(value).isoformat() if value is not None else None
