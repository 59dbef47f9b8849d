"""Schedule operations for the API and the UI: create, validate, pause, resume, run now, preview
the next runs, read the history. They take a session and commit with it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from engine.scheduler.runs import utcnow
from engine.schedules import (
    ScheduleError,
    as_utc,
    first_fire,
    format_fire,
    parse_recipients,
    upcoming,
    validate_cron,
    zone,
)
from store.models import Schedule, ScheduleRun


def prepare_schedule(schedule: Schedule, now: datetime | None = None) -> Schedule:
    """Validate cron, time zone, dates and recipients, and set `next_run_at`. Call after every
    create or edit; raises ScheduleError with a message for the form."""
    schedule.cron = validate_cron(schedule.cron)
    zone(schedule.timezone)
    parse_recipients(schedule.recipients)
    if (
        schedule.starts_at
        and schedule.ends_at
        and as_utc(schedule.ends_at) <= as_utc(schedule.starts_at)
    ):
        raise ScheduleError("the schedule ends before it starts")
    schedule.next_run_at = first_fire(
        schedule.cron,
        schedule.timezone,
        now or utcnow(),
        starts_at=schedule.starts_at,
        ends_at=schedule.ends_at,
    )
    return schedule


def create_schedule(session: Session, *, now: datetime | None = None, **fields: Any) -> Schedule:
    """A new schedule from model fields (name, report_ref, cron, timezone, params, formats,
    recipients, starts_at, ends_at, owner_id, only_if_changed), validated and with its next run."""
    fields.setdefault("params", {})
    fields.setdefault("formats", {})
    fields.setdefault("recipients", {})
    fields.setdefault("timezone", "UTC")
    schedule = prepare_schedule(Schedule(**fields), now)
    session.add(schedule)
    session.flush()
    return schedule


def pause(session: Session, schedule_id: int) -> Schedule:
    schedule = _get(session, schedule_id)
    schedule.paused = True
    return schedule


def resume(session: Session, schedule_id: int, now: datetime | None = None) -> Schedule:
    """Resume from now on: occurrences that fell inside the pause are not run or recorded."""
    schedule = _get(session, schedule_id)
    schedule.paused = False
    return prepare_schedule(schedule, now)


def run_now(session: Session, schedule_id: int, now: datetime | None = None) -> ScheduleRun:
    """Queue a manual run (POST /api/schedules/:id/run). A manual run still waiting is returned
    instead of queueing a second one, so a double click sends once."""
    _get(session, schedule_id)
    waiting = session.scalar(
        select(ScheduleRun).where(
            ScheduleRun.schedule_id == schedule_id,
            ScheduleRun.trigger == "manual",
            ScheduleRun.state == "queued",
        )
    )
    if waiting is not None:
        return waiting
    run = ScheduleRun(
        schedule_id=schedule_id, due_at=as_utc(now or utcnow()), trigger="manual", state="queued"
    )
    session.add(run)
    session.flush()
    return run


def next_runs(schedule: Schedule, n: int = 5, now: datetime | None = None) -> list[datetime]:
    """The next `n` run times (UTC) of a schedule, from its cron, zone, start and end."""
    return upcoming(
        validate_cron(schedule.cron),
        schedule.timezone,
        n,
        now or utcnow(),
        starts_at=schedule.starts_at,
        ends_at=schedule.ends_at,
    )


def preview(schedule: Schedule, n: int = 5, now: datetime | None = None) -> list[str]:
    """Human-readable next run times: 'Mon 30 Mar 2026 09:00 CEST (07:00 UTC)'."""
    return [format_fire(fire, schedule.timezone) for fire in next_runs(schedule, n, now)]


def history(session: Session, schedule_id: int, limit: int = 50) -> list[ScheduleRun]:
    """The latest runs of a schedule, newest first, with their deliveries loaded."""
    return list(
        session.scalars(
            select(ScheduleRun)
            .where(ScheduleRun.schedule_id == schedule_id)
            .options(selectinload(ScheduleRun.deliveries))
            .order_by(ScheduleRun.due_at.desc())
            .limit(limit)
        )
    )


def _get(session: Session, schedule_id: int) -> Schedule:
    schedule = session.get(Schedule, schedule_id)
    if schedule is None:
        raise ScheduleError(f"no schedule {schedule_id}")
    return schedule
