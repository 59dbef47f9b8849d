"""A whole schedule input checked: the model fields to store, or the preview the form shows
while typing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine import scheduler as sched
from engine.names import MAX_NAME, clean_name
from engine.report_runner import PERIODS, auto_period, schedule_window
from engine.reports import FoundReport, find_report
from engine.request import offered_formats, schedule_frequencies
from engine.schedule_service.fields import (
    FIELDS,
    FieldError,
    _filters,
    _formats,
    _moment,
    _recipients,
    cron_of,
    preset_of,
)
from engine.schedule_service.views import _iso, as_input
from engine.schedules import ScheduleError, describe_cron, zone
from engine.services import Services
from settings import CHANNEL_FEATURES
from store.models import Schedule


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
    if name is None or (isinstance(name, str) and not name.strip()):
        suffix = f" ({frequency})"
        name = found.spec.title[: MAX_NAME - len(suffix)] + suffix
    if isinstance(name, str) and any(ch < " " or ch == "\x7f" for ch in name):
        # e-mail subjects and headers carry it
        raise FieldError("name", "must be one line: no line breaks (CR, LF) or control characters")
    name = clean_name(name, "schedule name", error=lambda m: FieldError("name", m))

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
        "name": name,
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
            ["pdf"] if merged.get("formats") is None else merged["formats"], settings
        ),
        "recipients": _recipients(
            merged.get("recipients"),
            current.recipients if current is not None else None,
            settings.webhook_secret,
            settings.webhook_allowed_hosts,
        ),
        "only_if_changed": only,
        "paused": paused,
    }
    if current is None or "recipients" in data:
        _channels_enabled(settings, fields["recipients"])
    _offered_by_report(found, fields["formats"], frequency)
    return fields, found


def _offered_by_report(found: FoundReport, formats: Mapping[str, bool], frequency: str) -> None:
    """The report's template lists the formats and frequencies it offers (the seed's
    `export_formats` and `schedule_options`); others are refused, naming the allowed ones."""
    spec = found.spec
    offered = offered_formats(spec)
    for i, fmt in enumerate(formats):
        if fmt not in offered:
            raise FieldError(
                f"formats[{i}]",
                f"{fmt!r} is not offered for {spec.key!r}; choose one of {', '.join(offered)}",
            )
    frequencies = schedule_frequencies(spec)
    if frequency not in frequencies:
        what = "a custom cron schedule" if frequency == "cron" else f"{frequency} schedules"
        raise FieldError(
            "frequency",
            f"{spec.key!r} does not offer {what}; choose one of {', '.join(frequencies)}",
        )


def _channels_enabled(settings: Any, recipients: Mapping[str, list[Any]]) -> None:
    """A schedule saved with recipients on a channel the settings turn off is refused, naming the
    variable (runs would skip them anyway; better to say so while the user is there)."""
    for channel, entries in recipients.items():
        off = entries and settings.off_message(CHANNEL_FEATURES[channel])
        if off:
            raise FieldError(f"recipients.{channel}", off)


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
