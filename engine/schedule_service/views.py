"""Schedules, runs and deliveries as the JSON of the API and the page; webhook secrets
redacted."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import scheduler as sched
from engine.report_runner import auto_period, formats_of
from engine.schedule_service.fields import REDACTED, preset_of
from engine.schedules import ScheduleError, as_utc, describe_cron, zone
from store.models import DeliveryAttempt, Schedule, ScheduleRun, User


def redacted_recipients(recipients: Mapping[str, Any] | None) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for channel, entries in (recipients or {}).items():
        items = []
        for entry in entries if isinstance(entries, list | tuple) else [entries]:
            if isinstance(entry, Mapping):
                entry = {k: (REDACTED if k == "secret" and v else v) for k, v in entry.items()}
            items.append(entry)
        out[channel] = items
    return out


def as_input(schedule: Schedule) -> dict[str, Any]:
    """The input fields of a stored schedule (what an edit form starts from); secrets redacted."""
    params = schedule.params or {}
    tz = schedule.timezone
    return {
        "name": schedule.name,
        "report": schedule.report_ref,
        **preset_of(schedule.cron),
        "cron": schedule.cron,
        "timezone": tz,
        "starts_at": _iso_local(schedule.starts_at, tz),
        "ends_at": _iso_local(schedule.ends_at, tz),
        "period": params.get("period_choice") or params.get("period") or "auto",
        "filters": dict(params.get("filters") or {}),
        "formats": formats_of(schedule),
        "recipients": redacted_recipients(schedule.recipients),
        "only_if_changed": bool(schedule.only_if_changed),
        "paused": bool(schedule.paused),
    }


def _iso_local(value: datetime | None, tz: str) -> str | None:
    return as_utc(value).astimezone(zone(tz)).isoformat() if value is not None else None


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat().replace("+00:00", "Z") if value is not None else None


def as_dict(
    schedule: Schedule,
    *,
    owner: str | None = None,
    last_run: ScheduleRun | None = None,
    previews: int = 5,
) -> dict[str, Any]:
    """The JSON of a schedule (API responses, the page's list)."""
    try:
        next_runs = sched.preview(schedule, previews) if not schedule.paused else []
    except ScheduleError:
        next_runs = []
    period = (schedule.params or {}).get("period") or "auto"
    return {
        "id": schedule.id,
        **as_input(schedule),
        "description": describe_cron(schedule.cron, schedule.timezone),
        "period_resolved": auto_period(schedule.cron) if period == "auto" else period,
        "next_run_at": _iso(schedule.next_run_at) if not schedule.paused else None,
        "next_runs": next_runs,
        "owner_id": schedule.owner_id,
        "owner": owner,
        "created_at": _iso(schedule.created_at),
        "last_run": run_dict(last_run, deliveries=False) if last_run is not None else None,
    }


def run_dict(
    run: ScheduleRun, *, deliveries: bool = True, users: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The JSON of a run; `users` maps portal recipients' ids to usernames (`portal_users`)."""
    out = {
        "id": run.id,
        "schedule_id": run.schedule_id,
        "due_at": _iso(run.due_at),
        "trigger": run.trigger,
        "state": run.state,
        "attempts": run.attempts,
        "error": run.error,
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "render_ms": run.render_ms,
        "duration_ms": run.duration_ms,
        "files": [
            {k: f.get(k) for k in ("name", "content_type", "size", "sha256")}
            | {
                "url": f"/api/schedules/runs/{run.id}/files/{f.get('name')}",
                "purged_at": f.get("purged_at"),
            }
            for f in (run.files or [])
        ],
    }
    if deliveries:
        out["deliveries"] = [delivery_dict(d, users) for d in run.deliveries]
    return out


def portal_users(session: Session, runs: list[ScheduleRun]) -> dict[str, str]:
    """Usernames of the portal recipients (stored as user ids) of `runs`' deliveries."""
    ids = {
        int(d.recipient)
        for r in runs
        for d in r.deliveries
        if d.channel == "portal" and d.recipient.isdigit()
    }
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.username).where(User.id.in_(ids))).all()
    return {str(i): name for i, name in rows}


def delivery_dict(d: DeliveryAttempt, users: Mapping[str, str] | None = None) -> dict[str, Any]:
    recipient = d.recipient
    if d.channel == "portal" and recipient.isdigit() and users is not None:
        # The owner's history is addressed by user id: show who that is.
        recipient = users.get(recipient) or f"user #{recipient} (deleted)"
    return {
        "channel": d.channel,
        "recipient": recipient,
        "state": d.state,
        "attempts": d.attempts,
        "error": d.error,
        "started_at": _iso(d.started_at),
        "finished_at": _iso(d.finished_at),
        "detail": {k: v for k, v in (d.detail or {}).items() if k not in ("smtp",)},
    }
