"""The export operations callers use: create (validate, authorize, queue), wait, cancel and
download, each audited."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import update

from engine.reports import find_report
from engine.request import ReportRequest, RequestError, resolve
from engine.services import Services
from exports import ExportFormat, content_type, jobs
from exports.jobs.request import (
    ExportNotReady,
    ExportRequestError,
    apply_filters,
    dimension_filters,
    parse_format,
)
from exports.jobs.rows import (
    CANCELLED,
    CANCELLED_MESSAGE,
    PENDING,
    RUNNING,
    SUCCEEDED,
    _may_see,
    export_root,
    get_export,
    get_for,
)
from exports.jobs.worker import manager
from security import audit
from security.policy import AccessDenied, ClampMode, Resource
from security.users import Principal
from store.models import Export

# `jobs.authorize` is looked up on the package at call time, so that patching it on `exports.jobs`
# (as tests do) reaches `open_download`.


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
        ExportRequestError: 400 bad format/period/filters/widget, 404 format turned off (the
            message names the variable: ENABLE_PDF_EXPORT, API_EXPORT_FORMATS...).
        ReportNotFound: no such report (404).
        AccessDenied: the principal may not export it (403; audited as denied).
    """
    settings = services.settings
    fmt = fmt if isinstance(fmt, ExportFormat) else parse_format(fmt, settings, allowed_formats)
    tz = settings.report_timezone
    if not isinstance(report_id, str) or not report_id.strip():
        raise ExportRequestError(400, "bad_request", "report_id must name a report.")
    found = find_report(services.store, report_id.strip())
    filters = dict(filters or {})
    try:
        req = ReportRequest.parse(
            {"report": report_id, "period": period, "start": start, "end": end,
             "filters": dimension_filters(filters), "format": fmt.value, "widget": widget_id},
        )  # fmt: skip
        resolved = resolve(req, principal, services, action="export", cap=cap, found=found,
                           default_filters=False)  # fmt: skip
    except RequestError as exc:
        code = {"period": "bad_period", "start": "bad_period", "end": "bad_period"}.get(
            exc.field, f"bad_{exc.field.split('.')[0]}"
        )
        raise ExportRequestError(400, code, exc.user_message) from None
    except AccessDenied as exc:
        audit.record(services.store, principal=principal, action="export.create",
                     target=f"{found.resource.kind}:{found.resource.key}", outcome="denied", ip=ip,
                     detail={"format": fmt.value, "reason": exc.user_message},
                     enabled=settings.enable_audit_log)  # fmt: skip
        raise
    window = resolved.window
    apply_filters(found.spec, filters, window, tz)
    pool = manager(services)
    now = datetime.now(UTC)
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
        created_at=now,
        worker_id=pool.instance_id,  # queued in this process: its monitor beats for it
        heartbeat_at=now,
    )
    with services.store.session() as session:
        session.add(row)
    audit.record(services.store, principal=principal, action="export.create",
                 target=f"{found.resource.kind}:{found.resource.key}", ip=ip,
                 detail={"export_id": row.id, "format": fmt.value, "period": period,
                         "widget_id": widget_id, "filters": filters},
                 enabled=settings.enable_audit_log)  # fmt: skip
    pool.submit(row.id, principal)
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
    report may have changed since). Raises ExportNotReady (202, pending or running),
    ExportRequestError (404 none, 409 failed or cancelled, 410 file purged or report deleted) or
    AccessDenied (403); every outcome is audited as export.download.
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
        jobs.authorize(principal, "export", found.resource)
    except AccessDenied as exc:
        audited("denied", reason=exc.user_message)
        raise
    except LookupError:
        raise ExportRequestError(
            410, "gone", "The report of this export no longer exists."
        ) from None
    if row.status in (PENDING, RUNNING):
        raise ExportNotReady(row.id, row.status, int(row.progress or 0))
    if row.status != SUCCEEDED:  # failed or cancelled: no file will come, asking again won't help
        raise ExportRequestError(
            409, row.status, f"The export {row.status}: {row.error or 'no file'}"
        )
    path = Path(row.path or "")
    root = export_root(services.settings).resolve()
    if not row.path or root not in path.resolve().parents or not path.is_file():
        raise ExportRequestError(410, "gone", "The export file is no longer kept (7 days).")
    audited("ok", format=row.format, filename=row.filename, report=row.report_ref)
    return path, row.filename or path.name, content_type(row.format)
