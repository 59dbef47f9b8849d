"""The schedule form's values as a schedule input (engine/schedule_service/), and back."""

from __future__ import annotations

import json
from typing import Any

from components.schedule_form import IDS
from engine import services
from engine.schedule_service import REDACTED, FieldError

FORM_CHANNELS = ("email", "webhook", "storage")  # the recipient channels the form edits
DEFAULTS: dict[str, Any] = {
    IDS.REPORT: "revenue_overview",
    IDS.NAME: "",
    IDS.FREQUENCY: "weekly",
    IDS.TIME: "09:00",
    IDS.WEEKDAY: 0,
    IDS.DAY: 1,
    IDS.CRON: "",
    IDS.TIMEZONE: None,
    IDS.STARTS: "",
    IDS.ENDS: "",
    IDS.PERIOD: "auto",
    IDS.FILTERS: "",
    IDS.FORMATS: ["pdf"],
    IDS.EMAILS: "",
    IDS.STORAGE: "",
    IDS.ONLY_CHANGED: False,
}


def webhooks_input(urls: list[str | None], secrets: list[str | None]) -> list[dict[str, str]]:
    """The form's webhook rows as recipients; an empty (or redacted) secret is left out, so the
    service keeps the secret that URL already has."""
    hooks = []
    for url, secret in zip(urls, secrets, strict=False):
        if not (url or "").strip():
            continue
        hook = {"url": url.strip()}
        if secret and secret != REDACTED:
            hook["secret"] = secret
        hooks.append(hook)
    return hooks


def form_input(
    values: dict[str, Any], webhooks: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """The schedule input (engine/schedule_service/) of the form's values and webhook rows."""
    frequency = values[IDS.FREQUENCY] or "weekly"
    data: dict[str, Any] = {
        "report": values[IDS.REPORT],
        "name": (values[IDS.NAME] or "").strip() or None,
        "frequency": frequency,
        "timezone": values[IDS.TIMEZONE],
        "starts_at": values[IDS.STARTS] or None,
        "ends_at": values[IDS.ENDS] or None,
        "period": values[IDS.PERIOD] or "auto",
        "formats": list(values[IDS.FORMATS] or []),
        "only_if_changed": bool(values[IDS.ONLY_CHANGED]),
    }
    if frequency == "cron":
        data["cron"] = values[IDS.CRON] or ""
    else:
        data["time"] = values[IDS.TIME] or "09:00"
        if frequency == "weekly":
            data["weekday"] = values[IDS.WEEKDAY]
        if frequency == "monthly":
            data["day"] = values[IDS.DAY]
    raw_filters = (values[IDS.FILTERS] or "").strip()
    if raw_filters:
        try:
            data["filters"] = json.loads(raw_filters)
        except ValueError:
            raise FieldError("filters", 'expected JSON such as {"parameter": "value"}') from None
    recipients: dict[str, Any] = {}
    if (values[IDS.EMAILS] or "").strip():
        recipients["email"] = values[IDS.EMAILS]
    if webhooks:
        recipients["webhook"] = list(webhooks)
    if (values[IDS.STORAGE] or "").strip():
        recipients["storage"] = values[IDS.STORAGE]
    data["recipients"] = recipients
    return data


def form_values(schedule: dict[str, Any] | None) -> dict[str, Any]:
    values = dict(DEFAULTS)
    values[IDS.TIMEZONE] = services.current().settings.report_timezone
    if schedule is None:
        return values
    recipients = schedule.get("recipients") or {}
    values.update(
        {
            IDS.REPORT: schedule["report"],
            IDS.NAME: schedule["name"],
            IDS.FREQUENCY: schedule["frequency"],
            IDS.TIME: schedule.get("time") or "09:00",
            IDS.WEEKDAY: schedule.get("weekday") if schedule.get("weekday") is not None else 0,
            IDS.DAY: schedule.get("day") if schedule.get("day") is not None else 1,
            IDS.CRON: schedule["cron"],
            IDS.TIMEZONE: schedule["timezone"],
            IDS.STARTS: (schedule.get("starts_at") or "")[:10],
            IDS.ENDS: (schedule.get("ends_at") or "")[:10],
            IDS.PERIOD: schedule.get("period") or "auto",
            IDS.FILTERS: json.dumps(schedule["filters"]) if schedule.get("filters") else "",
            IDS.FORMATS: schedule.get("formats") or [],
            IDS.EMAILS: ", ".join(recipients.get("email") or []),
            IDS.STORAGE: ", ".join(recipients.get("storage") or []),
            IDS.ONLY_CHANGED: bool(schedule.get("only_if_changed")),
        }
    )
    return values


def kept_recipients(schedule: dict[str, Any] | None) -> dict[str, list[Any]]:
    """The recipients of channels the form does not edit (portal users): saved unchanged."""
    recipients = (schedule or {}).get("recipients") or {}
    return {k: list(v) for k, v in recipients.items() if k not in FORM_CHANNELS and v}


def kept_note(schedule: dict[str, Any] | None) -> str:
    kept = kept_recipients(schedule)
    if not kept:
        return ""
    listed = "; ".join(f"{channel}: {', '.join(map(str, v))}" for channel, v in kept.items())
    return f"Also delivered to recipients set through the API, kept unchanged ({listed})."
