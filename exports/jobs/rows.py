"""Export rows and their files: the states, reading a row (and who may see it), its API view,
where its file lives, and the purge of rows and files past the 7-day retention."""

from __future__ import annotations

import contextlib
import logging
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update

from engine.services import Services
from exports import content_type
from exports.jobs.request import ExportRequestError
from security import audit
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
GENERIC_ERROR = "The export could not be produced. The error was logged."
INTERRUPTED = (
    "Interrupted: the worker running this export stopped (restarted or killed). Start it again."
)
STALE_AFTER_SECONDS = 30.0  # a pending/running row whose process has not beaten for this long died
CANCELLED_MESSAGE = "Cancelled."
TIMEOUT_SETTING = "REPORT_TIMEOUT_SECONDS"  # named in every timeout's message (ExportTimeoutError)


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


def timed_out(row: Export) -> bool:
    """The export failed because it ran past REPORT_TIMEOUT_SECONDS (ExportTimeoutError's message)."""
    return row.status == FAILED and TIMEOUT_SETTING in (row.error or "")


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


def fail_interrupted(
    services: Services, stale_after: float = STALE_AFTER_SECONDS, now: datetime | None = None
) -> list[str]:
    """Fail the pending/running exports whose process stopped beating `stale_after` seconds ago
    (killed, crashed, restarted); rows from before heartbeats count from when they started. The ids.

    Every live ExportManager beats for its jobs (`heartbeat_at`) every few seconds, so a stale row
    has nobody left to finish it; the worker's own late update would find it no longer running.
    """
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(seconds=stale_after)
    last_sign = func.coalesce(Export.heartbeat_at, Export.started_at, Export.created_at)
    live = (Export.status.in_((PENDING, RUNNING)),)
    with services.store.session() as session:
        stale = list(session.scalars(select(Export.id).where(*live, last_sign < cutoff)))
        if stale:  # the conditions again: a row that beat or finished meanwhile is left alone
            session.execute(
                update(Export)
                .where(Export.id.in_(stale), *live, last_sign < cutoff)
                .values(status=FAILED, error=INTERRUPTED, finished_at=now)
            )
            stale = list(session.scalars(select(Export.id).where(
                Export.id.in_(stale), Export.status == FAILED, Export.finished_at == now
            )))  # fmt: skip
    for export_id in stale:
        _remove_dir(export_root(services.settings) / export_id)
    if stale:
        log.warning("failed %d interrupted export(s): %s", len(stale), ", ".join(stale))
    return stale


def _may_see(principal: Principal, row: Export) -> bool:
    return principal.role == "admin" or (row.owner_id is not None and row.owner_id == principal.id)


def _remove_dir(folder: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(folder)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return _aware(value).isoformat() if value is not None else None
