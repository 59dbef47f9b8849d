"""Schedule input checked one field at a time: cron and presets, dates, formats, recipients,
webhooks and filters. Errors are `FieldError`s whose message starts with the field."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from engine.report_runner import schedule_window
from engine.reports import FoundReport
from engine.schedules import (
    FREQUENCIES,
    WEEKDAYS,
    ScheduleError,
    preset_cron,
    validate_cron,
    zone,
)

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


def _formats(raw: Any, settings: Any) -> dict[str, bool]:
    """The formats asked for; each must be one the settings offer (Settings.export_formats)."""
    from exports import ExportError, ExportFormat

    allowed = settings.export_formats
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
            raise FieldError(f"formats[{i}]", str(settings.format_off(fmt)))
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
    raw: Any,
    previous: Mapping[str, Any] | None,
    default_secret: str,
    allowed_hosts: tuple[str, ...] = (),
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
                clean.append(_webhook(entry, where, old_secrets, default_secret, allowed_hosts))
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
    entry: Any,
    where: str,
    old_secrets: Mapping[str, Any],
    default_secret: str,
    allowed_hosts: tuple[str, ...],
) -> dict[str, str]:
    from delivery import egress

    if isinstance(entry, str):
        entry = {"url": entry}
    if not isinstance(entry, Mapping):
        raise FieldError(where, 'expected a URL or {"url": ..., "secret": ...}')
    url = str(entry.get("url") or "").strip()
    if not re.match(r"^https?://[^\s/]+", url, re.IGNORECASE):
        raise FieldError(f"{where}.url", f"{url!r} is not an http(s) URL")
    # A literal address (in any spelling) or localhost is refused now; a name that resolves to
    # one is refused when the webhook is sent (DNS can change in between).
    try:
        egress.check_literal(egress.parse_target(url), egress.AllowList.parse(allowed_hosts))
    except egress.EgressRefused as exc:
        raise FieldError(f"{where}.url", exc.user_message) from None
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
