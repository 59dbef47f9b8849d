"""Schedules as users see them: validated input, access checks, audit, and the JSON shape.

The API (api/schedules.py) and the schedules page (pages/schedules.py) both call these functions,
so a schedule made in the browser and one made with curl pass the same checks.

Input (a JSON object; the API's request body, the form's values):

    name            text, 1-200 characters (default: the report's title and frequency)
    report          a built-in template key or a saved dashboard (slug or id)
    frequency       daily | weekly | monthly | cron   (default: cron when `cron` is given, else weekly)
    time            "HH:MM" on the schedule's wall clock (presets; default 09:00)
    weekday         0 (Monday) - 6 (Sunday), or a name (weekly; default Monday)
    day             1-28, or -1 for the last day of the month (monthly; default 1)
    cron            5-field cron expression (frequency = cron)
    timezone        IANA name (default: REPORT_TIMEZONE); cron and presets are read in it, DST included
    starts_at, ends_at   ISO date or date-time (a date starts / ends that day in the schedule's zone)
    period          auto | previous_day | 7d | 30d | 90d | previous_month (engine/report_runner.py)
    filters         {parameter: value}: set on every widget whose metric takes it (as exports)
    formats         list of pdf, excel, csv, json, xml, png, svg, jpg (within API_EXPORT_FORMATS)
    recipients      {"email": [addresses], "webhook": [url | {"url", "secret"}], "storage": [folder |
                    s3://bucket/prefix], "portal": [user id or username]}; the owner's portal history
                    always gets every run
    only_if_changed send only when the report's data changed since the last successful run
    paused          true to create or keep it paused

Errors are `FieldError`s: a 400 whose message starts with the field, e.g. "recipients.email[1]: ...".
Webhook secrets never leave the server: responses show "[redacted]", and an update that sends a
webhook without a secret (or with "[redacted]") keeps the secret that URL already had.

Who may do what (security/policy.py, resource kind "schedule", with the owner's department):
creating a schedule, changing its report or running it needs `schedule` on the report; seeing one
needs `read` on the schedule, changing, pausing, resuming, running and deleting it need `update` /
`delete` on it. Every change is audited (schedule.create, schedule.update, schedule.pause,
schedule.resume, schedule.run, schedule.delete), denied attempts too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import scheduler as sched
from engine.report_runner import PERIODS, auto_period, formats_of, schedule_window
from engine.reports import FoundReport, find_report
from engine.schedules import (
    FREQUENCIES,
    WEEKDAYS,
    ScheduleError,
    as_utc,
    describe_cron,
    preset_cron,
    validate_cron,
    zone,
)
from engine.services import Services
from security import audit
from security.policy import AccessDenied, Resource, authorize
from security.users import Principal
from store.models import DeliveryAttempt, Schedule, ScheduleRun, User

REDACTED = "[redacted]"
CHANNELS = ("email", "webhook", "storage", "portal")
FIELDS = (
    "name",
    "report",
    "frequency",
    "time",
    "weekday",
    "day",
    "cron",
    "timezone",
    "starts_at",
    "ends_at",
    "period",
    "filters",
    "formats",
    "recipients",
    "only_if_changed",
    "paused",
)
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
_PRESET = re.compile(r"^(\d{1,2}) (\d{1,2}) (\*|L|\d{1,2}) \* (\*|\d)$")


class FieldError(ScheduleError):
    """Bad input for one field: the message starts with the field's name (a 400)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


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


# ---------------------------------------------------------------------------------------------
# Input


def preset_of(cron: str) -> dict[str, Any]:
    """The form fields of a cron expression: frequency, time, weekday, day (cron when no preset fits)."""
    match = _PRESET.match(cron)
    if match:
        minute, hour, dom, dow = int(match[1]), int(match[2]), match[3], match[4]
        at = f"{hour:02d}:{minute:02d}"
        if hour < 24 and minute < 60:
            if dom == "*" and dow == "*":
                return {"frequency": "daily", "time": at, "weekday": None, "day": None}
            if dom == "*" and int(dow) <= 7:
                return {
                    "frequency": "weekly",
                    "time": at,
                    "weekday": (int(dow) - 1) % 7,
                    "day": None,
                }
            if dow == "*" and (dom == "L" or 1 <= int(dom) <= 28):
                day = -1 if dom == "L" else int(dom)
                return {"frequency": "monthly", "time": at, "weekday": None, "day": day}
    return {"frequency": "cron", "time": None, "weekday": None, "day": None}


def _weekday(raw: Any) -> int:
    if isinstance(raw, str) and not raw.strip().lstrip("-").isdigit():
        names = [w.lower() for w in WEEKDAYS]
        value = raw.strip().lower()
        for i, name in enumerate(names):
            if value in (name, name[:3]):
                return i
        raise FieldError("weekday", f"{raw!r}: expected 0 (Monday) to 6 (Sunday) or a day name")
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise FieldError("weekday", f"{raw!r}: expected 0 (Monday) to 6 (Sunday)") from None
    if not 0 <= value <= 6:
        raise FieldError("weekday", f"{raw!r}: expected 0 (Monday) to 6 (Sunday)")
    return value


def _day(raw: Any) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise FieldError("day", f"{raw!r}: expected 1 to 28, or -1 for the last day") from None
    if value != -1 and not 1 <= value <= 28:
        raise FieldError("day", f"{raw!r}: expected 1 to 28, or -1 for the last day of the month")
    return value


def cron_of(data: Mapping[str, Any]) -> str:
    """The cron expression of the input's frequency fields."""
    frequency = data.get("frequency") or ("cron" if data.get("cron") else "weekly")
    if frequency == "cron":
        raw = data.get("cron")
        if not isinstance(raw, str) or not raw.strip():
            raise FieldError("cron", "required when frequency is cron, e.g. '0 9 * * 1'")
        try:
            return validate_cron(raw)
        except ScheduleError as exc:
            raise FieldError("cron", exc.user_message) from None
    if frequency not in FREQUENCIES:
        raise FieldError(
            "frequency", f"{frequency!r}: expected one of {', '.join(FREQUENCIES)} or cron"
        )
    at = data.get("time") or "09:00"
    if not isinstance(at, str):
        raise FieldError("time", f"{at!r}: expected HH:MM")
    weekday = _weekday(data["weekday"]) if data.get("weekday") not in (None, "") else 0
    day = _day(data["day"]) if data.get("day") not in (None, "") else 1
    try:
        return preset_cron(frequency, at, weekday=weekday, day=day)
    except ScheduleError as exc:
        raise FieldError("time", exc.user_message.removeprefix("time ")) from None


def _moment(field: str, raw: Any, tz: str, *, end: bool) -> datetime | None:
    if raw in (None, ""):
        return None
    if not isinstance(raw, str):
        raise FieldError(field, f"{raw!r}: expected an ISO date (YYYY-MM-DD) or date-time")
    text = raw.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            local = datetime.combine(day + timedelta(days=1) if end else day, time())
            moment = local.replace(tzinfo=zone(tz))
            return (moment - timedelta(microseconds=1) if end else moment).astimezone(UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise FieldError(
            field, f"{raw!r}: expected an ISO date (YYYY-MM-DD) or date-time"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(tz))
    return moment.astimezone(UTC)


def _formats(raw: Any, allowed: tuple[str, ...]) -> dict[str, bool]:
    from exports import ExportError, ExportFormat

    if isinstance(raw, str):
        raw = [p for p in re.split(r"[,\s]+", raw) if p]
    if isinstance(raw, Mapping):
        raw = [k for k, v in raw.items() if v]
    if not isinstance(raw, list | tuple) or not raw:
        raise FieldError("formats", f"choose at least one of {', '.join(allowed)}")
    out: dict[str, bool] = {}
    for i, item in enumerate(raw):
        try:
            fmt = ExportFormat.parse(str(item)).value
        except ExportError:
            raise FieldError(
                f"formats[{i}]", f"{item!r}: expected one of {', '.join(allowed)}"
            ) from None
        if fmt not in allowed:
            raise FieldError(
                f"formats[{i}]",
                f"{fmt!r} is not offered here (API_EXPORT_FORMATS: {', '.join(allowed)})",
            )
        out[fmt] = True
    return out


def _entries(raw: Any, field: str) -> list[Any]:
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        return [p.strip() for p in re.split(r"[,;\n]+", raw) if p.strip()]
    if isinstance(raw, list | tuple):
        return list(raw)
    raise FieldError(field, "expected a list")


def _recipients(
    raw: Any, previous: Mapping[str, Any] | None, default_secret: str
) -> dict[str, list[Any]]:
    if raw in (None, ""):
        raw = {}
    if not isinstance(raw, Mapping):
        raise FieldError("recipients", 'expected an object such as {"email": ["a@example.com"]}')
    unknown = sorted(set(raw) - set(CHANNELS))
    if unknown:
        raise FieldError(
            f"recipients.{unknown[0]}", f"unknown channel; expected {', '.join(CHANNELS)}"
        )
    old_secrets = {
        str(e.get("url")): e.get("secret")
        for e in (previous or {}).get("webhook", [])
        if isinstance(e, Mapping) and e.get("secret")
    }
    out: dict[str, list[Any]] = {}
    for channel in CHANNELS:
        entries = _entries(raw.get(channel), f"recipients.{channel}")
        clean: list[Any] = []
        for i, entry in enumerate(entries):
            where = f"recipients.{channel}[{i}]"
            if channel == "webhook":
                clean.append(_webhook(entry, where, old_secrets, default_secret))
                continue
            if not isinstance(entry, str | int) or not str(entry).strip():
                raise FieldError(where, "expected a non-empty text")
            value = str(entry).strip()
            if channel == "email" and not _EMAIL.match(value):
                raise FieldError(where, f"{value!r} is not an e-mail address")
            if channel == "storage" and not value.startswith("s3://"):
                parts = value.replace("\\", "/").split("/")
                if value.startswith("/") or ".." in parts:
                    raise FieldError(
                        where,
                        f"{value!r}: use a folder relative to the storage root, or s3://bucket/prefix",
                    )
            if value not in clean:
                clean.append(value)
        if clean:
            out[channel] = clean
    return out


def _webhook(
    entry: Any, where: str, old_secrets: Mapping[str, Any], default_secret: str
) -> dict[str, str]:
    if isinstance(entry, str):
        entry = {"url": entry}
    if not isinstance(entry, Mapping):
        raise FieldError(where, 'expected a URL or {"url": ..., "secret": ...}')
    url = str(entry.get("url") or "").strip()
    if not re.match(r"^https?://[^\s/]+", url):
        raise FieldError(f"{where}.url", f"{url!r} is not an http(s) URL")
    secret = entry.get("secret")
    if secret in (None, "", REDACTED):
        secret = old_secrets.get(url)
    if not secret and not default_secret:
        raise FieldError(
            f"{where}.secret", "a signing secret is required (or set WEBHOOK_SECRET on the server)"
        )
    return {"url": url, **({"secret": str(secret)} if secret else {})}


def _filters(raw: Any, found: FoundReport, timezone: str) -> dict[str, Any]:
    from exports.jobs import apply_filters

    if raw in (None, "", {}):
        return {}
    if not isinstance(raw, Mapping):
        raise FieldError("filters", "expected an object of parameter values")
    window = schedule_window("7d", datetime.now(UTC), "UTC")
    try:
        apply_filters(found.spec, raw, window, timezone)
    except Exception as exc:  # noqa: BLE001 - exports' request error, with a safe message
        raise FieldError("filters", getattr(exc, "user_message", str(exc))) from None
    return dict(raw)


def schedule_fields(
    services: Services,
    data: Mapping[str, Any],
    *,
    current: Schedule | None = None,
) -> tuple[dict[str, Any], FoundReport]:
    """Validated model fields from input `data`; for an update, missing fields keep `current`'s."""
    if not isinstance(data, Mapping):
        raise FieldError("body", "expected a JSON object")
    unknown = sorted(set(data) - set(FIELDS) - {"id", "owner", "next_run_at", "next_runs"})
    if unknown:
        raise FieldError(unknown[0], f"unknown field; accepted: {', '.join(FIELDS)}")
    settings = services.settings
    base = as_input(current) if current is not None else {}
    merged = {**base, **{k: v for k, v in data.items() if k in FIELDS}}
    if current is not None and any(k in data for k in ("time", "weekday", "day", "frequency")):
        if "cron" not in data:
            merged.pop("cron", None)
        if "frequency" not in data and merged.get("frequency") == "cron":
            merged["frequency"] = None
    if "cron" in data and "frequency" not in data:
        merged["frequency"] = "cron"

    report = merged.get("report")
    if not isinstance(report, str) or not report.strip():
        raise FieldError("report", "required: a template key or a saved dashboard")
    try:
        found = find_report(services.store, report.strip())
    except LookupError as exc:
        raise FieldError("report", getattr(exc, "user_message", str(exc))) from None

    timezone = merged.get("timezone") or settings.report_timezone
    if not isinstance(timezone, str):
        raise FieldError("timezone", "expected an IANA name such as Europe/Berlin")
    try:
        zone(timezone)
    except ScheduleError as exc:
        raise FieldError("timezone", exc.user_message) from None
    cron = cron_of(merged)

    frequency = preset_of(cron)["frequency"]
    name = merged.get("name")
    if name in (None, ""):
        name = f"{found.spec.title} ({frequency})"
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 200:
        raise FieldError("name", "expected 1 to 200 characters")

    period = merged.get("period") or "auto"
    if period not in PERIODS:
        raise FieldError("period", f"{period!r}: expected one of {', '.join(PERIODS)}")
    starts_at = _moment("starts_at", merged.get("starts_at"), timezone, end=False)
    ends_at = _moment("ends_at", merged.get("ends_at"), timezone, end=True)
    if starts_at and ends_at and ends_at <= starts_at:
        raise FieldError("ends_at", "the schedule ends before it starts")
    only = merged.get("only_if_changed", False)
    paused = merged.get("paused", False)
    for field, value in (("only_if_changed", only), ("paused", paused)):
        if not isinstance(value, bool):
            raise FieldError(field, f"{value!r}: expected true or false")
    fields = {
        "name": name.strip(),
        "report_ref": report.strip(),
        "cron": cron,
        "timezone": timezone,
        "starts_at": starts_at,
        "ends_at": ends_at,
        # `period` is what runs use (and what e-mail subjects and webhooks show); `period_choice`
        # keeps "auto" so that a later change of frequency picks the matching period again.
        "params": {
            "period": auto_period(cron, found.spec.default_period) if period == "auto" else period,
            "period_choice": period,
            "filters": _filters(merged.get("filters"), found, settings.report_timezone),
        },
        "formats": _formats(
            ["pdf"] if merged.get("formats") is None else merged["formats"],
            settings.api_export_formats,
        ),
        "recipients": _recipients(
            merged.get("recipients"),
            current.recipients if current is not None else None,
            settings.webhook_secret,
        ),
        "only_if_changed": only,
        "paused": paused,
    }
    return fields, found


# ---------------------------------------------------------------------------------------------
# Output


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


# ---------------------------------------------------------------------------------------------
# Access and audit


def schedule_resource(session: Session, schedule: Schedule) -> Resource:
    department = None
    if schedule.owner_id is not None:
        department = session.scalar(select(User.department).where(User.id == schedule.owner_id))
    return Resource("schedule", str(schedule.id), department=department, owner_id=schedule.owner_id)


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
        if not self.services.settings.enable_scheduling:
            raise AccessDenied(
                "Scheduled reports are turned off on this server (ENABLE_SCHEDULING=false).",
                "schedule",
                None,
            )


def preview(services: Services, data: Mapping[str, Any], n: int = 5) -> dict[str, Any]:
    """What the form shows while typing: the cron, a sentence, the next `n` run times, the window."""
    timezone = data.get("timezone") or services.settings.report_timezone
    try:
        zone(timezone)
    except ScheduleError as exc:
        raise FieldError("timezone", exc.user_message) from None
    cron = cron_of(data)
    starts_at = _moment("starts_at", data.get("starts_at"), timezone, end=False)
    ends_at = _moment("ends_at", data.get("ends_at"), timezone, end=True)
    draft = Schedule(cron=cron, timezone=timezone, starts_at=starts_at, ends_at=ends_at)
    fires = sched.next_runs(draft, n)
    period = data.get("period") or "auto"
    if period not in PERIODS:
        raise FieldError("period", f"{period!r}: expected one of {', '.join(PERIODS)}")
    window = schedule_window(period, fires[0], timezone, cron=cron) if fires else None
    return {
        "cron": cron,
        "description": describe_cron(cron, timezone),
        "next_runs": sched.preview(draft, n),
        "next_run_at": [_iso(f) for f in fires],
        "first_window": window.label() if window else None,
    }


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


def download(services: Services, principal: Principal, run_id: int, name: str):  # noqa: ANN201
    """(path, content type) of a run's file if `principal` may see it: they may read the schedule,
    or the run is in their portal history. LookupError otherwise (a 404: nothing is revealed);
    RunFilePurged (a 410) for a file of a run they may see that the retention purge deleted."""
    from pathlib import Path

    from store.models import PortalItem

    with services.store.session() as session:
        run = session.get(ScheduleRun, run_id)
        if run is None:
            raise LookupError(name)
        schedule = session.get(Schedule, run.schedule_id)
        allowed = schedule is not None and may(principal, "read", session, schedule)
        if not allowed:
            allowed = (
                session.scalar(
                    select(PortalItem.id).where(
                        PortalItem.run_id == run_id, PortalItem.user_id == principal.id
                    )
                )
                is not None
            )
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
