"""The schedule operations for one caller (`Ops`), their access checks and audit, and the
download of a run's files.

Who may do what (security/policy.py, resource kind "schedule", with the owner's department):
creating a schedule, changing its report or running it needs `schedule` on the report; seeing one
needs `read` on the schedule, changing, pausing, resuming, running and deleting it need `update` /
`delete` on it. Every change is audited (schedule.create, schedule.update, schedule.pause,
schedule.resume, schedule.run, schedule.delete), denied attempts too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import scheduler as sched
from engine.reports import FoundReport, find_report
from engine.schedule_service.fields import FieldError
from engine.schedule_service.validation import schedule_fields
from engine.schedule_service.views import as_dict, portal_users, run_dict
from engine.services import Services
from security import audit
from security.policy import AccessDenied, Resource, authorize, masks_pii, row_scope
from security.users import Principal, load_principal
from store.models import Schedule, ScheduleRun, User


class RunFilePurged(LookupError):
    """A run's file deleted by the retention purge (a 410): the run stays in the history."""

    def __init__(self, name: str, purged_at: str | None) -> None:
        super().__init__(name)
        day = (purged_at or "")[:10]
        self.user_message = (
            f"{name!r} is no longer available: scheduled report files are kept for "
            f"{audit.RETENTION['export_files'].days} days"
            + (f" and this one was deleted on {day}" if day else "")
            + ". The run is still listed in the schedule's history; run the schedule again for a "
            "fresh copy."
        )


class ScheduleNotFound(LookupError):
    def __init__(self, schedule_id: int) -> None:
        super().__init__(schedule_id)
        self.user_message = f"No schedule {schedule_id}."


def schedule_resource(session: Session, schedule: Schedule) -> Resource:
    department = None
    if schedule.owner_id is not None:
        department = session.scalar(select(User.department).where(User.id == schedule.owner_id))
    return Resource(
        "schedule",
        str(schedule.id),
        department=department,
        owner_id=schedule.owner_id,
        report=schedule.report_ref,
    )


def may(principal: Principal, action: str, session: Session, schedule: Schedule) -> bool:
    try:
        authorize(principal, action, schedule_resource(session, schedule))
    except AccessDenied:
        return False
    return True


class Ops:
    """The schedule operations for one caller: `Ops(services, principal, ip)`."""

    def __init__(
        self,
        services: Services,
        principal: Principal,
        ip: str | None = None,
        *,
        kick: Callable[[], None] | None = None,
    ) -> None:
        self.services, self.principal, self.ip, self.kick = services, principal, ip, kick

    def _audit(self, action: str, target: str, outcome: str = "ok", **detail: Any) -> None:
        audit.record(
            self.services.store,
            principal=self.principal,
            action=action,
            target=target,
            outcome=outcome,  # type: ignore[arg-type]
            ip=self.ip,
            detail=detail,
            enabled=self.services.settings.enable_audit_log,
        )

    def _check(
        self, action: str, audit_action: str, target: str, check: Callable[[], None]
    ) -> None:
        try:
            check()
        except AccessDenied as exc:
            self._audit(audit_action, target, "denied", reason=exc.user_message)
            raise

    def _load(self, session: Session, schedule_id: int, action: str, audit_action: str) -> Schedule:
        schedule = session.get(Schedule, schedule_id)
        if schedule is None or not may(self.principal, "read", session, schedule):
            raise ScheduleNotFound(schedule_id)
        if action != "read":
            resource = schedule_resource(session, schedule)
            self._check(
                action,
                audit_action,
                f"schedule:{schedule_id}",
                lambda: authorize(self.principal, action, resource),
            )
        return schedule

    # -- queries ---------------------------------------------------------------------------

    def list(self, page: int = 1, per_page: int = 20) -> tuple[list[dict[str, Any]], int]:
        with self.services.store.session() as session:
            rows = session.execute(
                select(Schedule, User.username)
                .outerjoin(User, User.id == Schedule.owner_id)
                .order_by(Schedule.name, Schedule.id)
            ).all()
            visible = [(s, u) for s, u in rows if may(self.principal, "read", session, s)]
            chosen = visible[(page - 1) * per_page : page * per_page]
            last = _last_runs(session, [s.id for s, _ in chosen])
            return [as_dict(s, owner=u, last_run=last.get(s.id)) for s, u in chosen], len(visible)

    def get(self, schedule_id: int) -> dict[str, Any]:
        with self.services.store.session() as session:
            schedule = self._load(session, schedule_id, "read", "schedule.view")
            return self._dict(session, schedule)

    def runs(self, schedule_id: int, page: int = 1, per_page: int = 20) -> tuple[list[dict], int]:
        from sqlalchemy.orm import selectinload

        with self.services.store.session() as session:
            self._load(session, schedule_id, "read", "schedule.view")
            total = session.scalar(
                select(func.count()).where(ScheduleRun.schedule_id == schedule_id)
            )
            runs = session.scalars(
                select(ScheduleRun)
                .where(ScheduleRun.schedule_id == schedule_id)
                .options(selectinload(ScheduleRun.deliveries))
                .order_by(ScheduleRun.due_at.desc(), ScheduleRun.id.desc())
                .offset((page - 1) * per_page)
                .limit(per_page)
            ).all()
            users = portal_users(session, list(runs))
            return [run_dict(r, users=users) for r in runs], int(total or 0)

    def _dict(self, session: Session, schedule: Schedule) -> dict[str, Any]:
        owner = (
            session.scalar(select(User.username).where(User.id == schedule.owner_id))
            if schedule.owner_id
            else None
        )
        last = _last_runs(session, [schedule.id]).get(schedule.id)
        return as_dict(schedule, owner=owner, last_run=last)

    # -- changes ---------------------------------------------------------------------------

    def _may_schedule(self, found: FoundReport, audit_action: str, target: str) -> None:
        self._check(
            "schedule",
            audit_action,
            target,
            lambda: authorize(self.principal, "schedule", found.resource),
        )

    def create(self, data: Mapping[str, Any]) -> dict[str, Any]:
        self._scheduling_enabled()
        fields, found = schedule_fields(self.services, data)
        self._may_schedule(found, "schedule.create", f"report:{fields['report_ref']}")
        with self.services.store.session() as session:
            schedule = sched.create_schedule(session, owner_id=self.principal.id, **fields)
            out = self._dict(session, schedule)
        self._audit(
            "schedule.create",
            f"schedule:{out['id']}",
            report=out["report"],
            cron=out["cron"],
            timezone=out["timezone"],
            formats=out["formats"],
            channels=sorted(out["recipients"]),
        )
        return out

    def update(self, schedule_id: int, data: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
        self._scheduling_enabled()
        with self.services.store.session() as session:
            schedule = self._load(session, schedule_id, "update", "schedule.update")
            if not partial:
                missing = [f for f in ("report",) if f not in data]
                if missing:
                    raise FieldError(missing[0], "required (PUT replaces the whole schedule)")
            fields, found = schedule_fields(self.services, data, current=schedule)
            self._may_schedule(found, "schedule.update", f"schedule:{schedule_id}")
            changed = sorted(
                k for k, v in fields.items() if getattr(schedule, k) != v and k != "starts_at"
            )
            for key, value in fields.items():
                setattr(schedule, key, value)
            sched.prepare_schedule(schedule)
            session.flush()
            out = self._dict(session, schedule)
        self._audit("schedule.update", f"schedule:{schedule_id}", changed=changed)
        return out

    def delete(self, schedule_id: int) -> None:
        with self.services.store.session() as session:
            schedule = self._load(session, schedule_id, "delete", "schedule.delete")
            name = schedule.name
            session.delete(schedule)
        self._audit("schedule.delete", f"schedule:{schedule_id}", name=name)

    def pause(self, schedule_id: int) -> dict[str, Any]:
        with self.services.store.session() as session:
            self._load(session, schedule_id, "update", "schedule.pause")
            schedule = sched.pause(session, schedule_id)
            out = self._dict(session, schedule)
        self._audit("schedule.pause", f"schedule:{schedule_id}")
        return out

    def resume(self, schedule_id: int) -> dict[str, Any]:
        with self.services.store.session() as session:
            self._load(session, schedule_id, "update", "schedule.resume")
            schedule = sched.resume(session, schedule_id)
            out = self._dict(session, schedule)
        self._audit("schedule.resume", f"schedule:{schedule_id}")
        return out

    def run(self, schedule_id: int) -> dict[str, Any]:
        self._scheduling_enabled()
        with self.services.store.session() as session:
            schedule = self._load(session, schedule_id, "update", "schedule.run")
            try:
                found = find_report(self.services.store, schedule.report_ref)
            except LookupError as exc:
                raise FieldError("report", getattr(exc, "user_message", str(exc))) from None
            self._may_schedule(found, "schedule.run", f"schedule:{schedule_id}")
            run = sched.run_now(session, schedule_id)
            session.flush()
            out = run_dict(run, deliveries=False)
        self._audit("schedule.run", f"schedule:{schedule_id}", run_id=out["id"])
        if self.kick is not None:
            self.kick()
        return out

    def _scheduling_enabled(self) -> None:
        off = self.services.settings.off_message("scheduled_reports")
        if off:
            raise AccessDenied(
                off,
                "schedule",
                None,
            )


def _last_runs(session: Session, ids: list[int]) -> dict[int, ScheduleRun]:
    if not ids:
        return {}
    latest = (
        select(ScheduleRun.schedule_id, func.max(ScheduleRun.id).label("run_id"))
        .where(ScheduleRun.schedule_id.in_(ids))
        .group_by(ScheduleRun.schedule_id)
        .subquery()
    )
    runs = session.scalars(select(ScheduleRun).join(latest, latest.c.run_id == ScheduleRun.id))
    return {r.schedule_id: r for r in runs}


def reader_covers_owner(services: Services, reader: Principal, schedule: Schedule) -> bool:
    """Whether a recipient may open a file generated with the schedule owner's rights: the file
    holds the owner's rows, masked or not as the owner sees them, so the reader must still be
    allowed to read the report and see at least those rows and that much personal data."""
    owner = load_principal(services.store, str(schedule.owner_id)) if schedule.owner_id else None
    if owner is None:
        return False
    try:
        authorize(reader, "read", find_report(services.store, schedule.report_ref).resource)
    except (AccessDenied, LookupError):
        return False
    mine, theirs = row_scope(reader), row_scope(owner)
    if not mine.unrestricted and (theirs.unrestricted or theirs.department != mine.department):
        return False
    enabled = services.settings.enable_pii_masking
    return masks_pii(owner, enabled=enabled) or not masks_pii(reader, enabled=enabled)


def download(services: Services, principal: Principal, run_id: int, name: str):  # noqa: ANN201
    """(path, content type) of a run's file if `principal` may see it: they may read the schedule
    (its owner, an admin), or the run is in their portal history and their own rights cover the
    owner's (`reader_covers_owner`). LookupError otherwise (a 404: nothing is revealed);
    RunFilePurged (a 410) for a file of a run they may see that the retention purge deleted."""
    from pathlib import Path

    from store.models import PortalItem

    with services.store.session() as session:
        run = session.get(ScheduleRun, run_id)
        if run is None:
            raise LookupError(name)
        schedule = session.get(Schedule, run.schedule_id)
        allowed = schedule is not None and may(principal, "read", session, schedule)
        if not allowed and schedule is not None:
            delivered = session.scalar(
                select(PortalItem.id).where(
                    PortalItem.run_id == run_id, PortalItem.user_id == principal.id
                )
            )
            allowed = delivered is not None and reader_covers_owner(services, principal, schedule)
        if not allowed:
            raise LookupError(name)
        for f in run.files or []:
            if f.get("name") == name and f.get("purged_at"):
                raise RunFilePurged(name, str(f["purged_at"]))
            if f.get("name") == name:
                path = Path(str(f.get("path")))
                root = (services.settings.instance / "schedules").resolve()
                if path.resolve().is_relative_to(root) and path.is_file():
                    return path, str(f.get("content_type") or "application/octet-stream")
        raise LookupError(name)
