"""Retention of run files: delete those past the export-file retention (7 days) and mark them
`purged_at` on their runs, which stay in the history."""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, update

from engine.schedules import as_utc
from security import audit
from store import Store
from store.models import ScheduleRun

log = logging.getLogger(__name__)

FINAL_STATES = ("succeeded", "failed", "skipped")


def purge_run_files(
    store: Store, instance: Path, now: datetime, *, audit_enabled: bool = True
) -> list[int]:
    """Delete the files of runs that finished before the export-file retention cutoff (7 days).

    The runs stay (the history); each of their files is marked `purged_at`, so its download link
    answers 410 instead of 404. Only files inside `<instance>/schedules/` are deleted (storage
    deliveries are the recipient's copies). Folders there that belong to no run (a deleted schedule,
    a render outside the scheduler) go too once they are older than the cutoff. Returns the ids of
    the runs whose files were purged now."""
    now = as_utc(now)
    before = audit.cutoff("export_files", now)
    root = (Path(instance) / "schedules").resolve()
    purged: list[int] = []
    with store.session() as session:
        old = session.execute(
            select(ScheduleRun.id, ScheduleRun.files).where(
                ScheduleRun.state.in_(FINAL_STATES), ScheduleRun.finished_at < before
            )
        ).all()
        for run_id, files in old:
            if not files or all(f.get("purged_at") for f in files):
                continue
            for f in files:
                path = Path(str(f.get("path") or ""))
                if f.get("path") and path.resolve().is_relative_to(root):
                    path.unlink(missing_ok=True)
            _remove_dir(root / str(run_id), root)
            marked = [
                f if f.get("purged_at") else {**f, "purged_at": now.isoformat()} for f in files
            ]
            session.execute(
                update(ScheduleRun)
                .where(ScheduleRun.id == run_id)
                .values(files=marked)
                .execution_options(synchronize_session=False)
            )
            purged.append(run_id)
        known = {str(i) for i in session.scalars(select(ScheduleRun.id)).all()}
    if root.is_dir():
        for folder in root.iterdir():
            mtime = datetime.fromtimestamp(folder.stat().st_mtime, UTC)
            if folder.is_dir() and folder.name not in known and mtime < before:
                _remove_dir(folder, root)
    if purged:
        log.info("purged the files of %d run(s) older than %s", len(purged), before.isoformat())
        audit.record(
            store,
            principal=None,
            username="system",
            action="schedule.purge_files",
            target="schedule_runs",
            detail={"runs": len(purged), "before": before.isoformat()},
            enabled=audit_enabled,
        )
    return purged


def _remove_dir(folder: Path, root: Path) -> None:
    if folder.is_dir() and folder.resolve().is_relative_to(root) and folder.resolve() != root:
        shutil.rmtree(folder, ignore_errors=True)
