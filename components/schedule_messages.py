"""The schedule form's messages in plain words: an empty form's problems, and the service's
field-path errors (`recipients.email[0]: …`) with the form's labels instead of the paths."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from engine.schedule_service import FieldError

CHOOSE_REPORT = "Choose a report."
ADD_RECIPIENT = "Add at least one recipient: an e-mail address, a webhook or a storage folder."
CHOOSE_FORMAT = "Choose at least one format."

LABELS = {
    "body": "The form",
    "name": "Name",
    "report": "Report",
    "frequency": "Frequency",
    "time": "Time",
    "weekday": "Day of the week",
    "day": "Day of the month",
    "cron": "Cron expression",
    "timezone": "Time zone",
    "starts_at": "Start date",
    "ends_at": "End date",
    "period": "Period",
    "filters": "Filters",
    "formats": "Formats",
    "recipients": "Recipients",
    "only_if_changed": "Only if changed",
    "paused": "Paused",
}
CHANNEL_LABELS = {
    "email": ("E-mail recipients", "E-mail address"),
    "webhook": ("Webhooks", "Webhook"),
    "storage": ("Storage folders", "Storage folder"),
    "portal": ("Portal users", "Portal user"),
}
_PATH = re.compile(r"^(?P<head>[a-z_]+)(?:\.(?P<sub>[A-Za-z0-9_-]+))?(?:\[(?P<i>\d+)\])?")


def empty_form_problems(
    data: Mapping[str, Any], kept: Mapping[str, Any] | None = None
) -> list[str]:
    """What an (almost) empty form lacks, each as a sentence; [] when it may go to the service.

    Args:
        data: the schedule input the form built (components/schedule_form_input.form_input).
        kept: recipients the form does not show (portal users set through the API), which count.
    """
    problems = []
    if not str(data.get("report") or "").strip():
        problems.append(CHOOSE_REPORT)
    recipients = {**(data.get("recipients") or {}), **(kept or {})}
    if not any(recipients.get(channel) for channel in CHANNEL_LABELS):
        problems.append(ADD_RECIPIENT)
    if not data.get("formats"):
        problems.append(CHOOSE_FORMAT)
    return problems


def field_label(field: str) -> str:
    """The form's label for a service field path: "recipients.email[1]" -> "E-mail address 2"."""
    match = _PATH.match(field)
    if match is None:
        return "The form"
    head, sub, index = match["head"], match["sub"], match["i"]
    if head == "recipients" and sub in CHANNEL_LABELS:
        many, one = CHANNEL_LABELS[sub]
        return f"{one} {int(index) + 1}" if index is not None else many
    if head == "formats" and index is not None:
        return f"Format {int(index) + 1}"
    if head == "filters" and sub:
        return f"Filter “{sub}”"
    return LABELS.get(head, head.replace("_", " ").capitalize())


def plain_message(exc: Exception) -> str:
    """A service error as the page shows it: a field error names the form's label, not its path."""
    text = getattr(exc, "user_message", None) or str(exc)
    if not isinstance(exc, FieldError):
        return text
    prefix = f"{exc.field}: "
    detail = text[len(prefix) :] if text.startswith(prefix) else text
    detail = detail[:1].upper() + detail[1:]
    if not detail.endswith((".", "?", "!")):
        detail += "."
    return f"{field_label(exc.field)}: {detail}"
