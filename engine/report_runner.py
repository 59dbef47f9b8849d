"""The real render of a scheduled run: schedule + due time -> report files (the scheduler's `render`).

    runner = ReportRunner(services)
    scheduler = Scheduler(store, settings, runner, channels)

For one occurrence `ReportRunner(schedule, due_at)`:
  1. finds the report (`engine.reports.find_report`: a built-in template or a saved dashboard);
  2. loads the schedule's owner from the store and generates the report *as the owner*, through
     `engine.generate(..., action="schedule")`: access is checked again at run time, with the
     owner's current role, row scope, PII masking and date cap. An owner who was deactivated or lost
     access makes the run fail with a sentence saying so (it is never sent with someone else's rights);
  3. resolves the schedule's period to complete calendar days (see `schedule_window`);
  4. applies the schedule's filters as widget parameters (the same rules as exports:
     `exports.jobs.apply_filters`);
  5. renders every requested format with `exports.render` into `<instance>/schedules/<run id>/`;
  6. returns one `Artifact` per file, with its sha256 and a *data fingerprint*: a hash of the numbers
     behind the file (widget rows, card values, window, filters, format), not of its bytes, so a
     PDF's or CSV's "generated at" stamp does not make `only_if_changed` send an unchanged report.

Periods (`params["period"]`), always complete days ending the day before the due time, with "the
day" read on the schedule's wall clock (its time zone); the metrics then cut those days in
REPORT_TIMEZONE, exactly as the dashboards do, so a scheduled file shows the numbers on screen:
  * `auto` (default): daily schedules -> the previous day; weekly -> the 7 days before; monthly ->
    the previous calendar month; other cron expressions -> the report's default period (7/30/90 days);
  * `previous_day`, `7d`, `30d`, `90d`: that many days ending the day before;
  * `previous_month`: the calendar month before the due day's month.
A window longer than the owner's role allows is cut to the role's cap (and the file says which days).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.generate import WidgetResult, generate
from engine.periods import PERIOD_DAYS, Window
from engine.reports import find_report
from engine.request import SCHEDULE_PERIODS as PERIODS
from engine.scheduler import check_cancelled, current_run
from engine.schedules import Artifact, ScheduleError, as_utc, period_window
from engine.services import Services
from security.policy import AccessDenied
from security.users import load_principal
from store.models import Schedule

log = logging.getLogger(__name__)

PERIOD_LABELS = {
    "auto": "Automatic: previous day, 7 days or month, by frequency",
    "previous_day": "The previous day",
    "7d": "The 7 days before the run",
    "30d": "The 30 days before the run",
    "90d": "The 90 days before the run",
    "previous_month": "The previous calendar month",
}
_PRESET = re.compile(r"^\d{1,2} \d{1,2} (?P<dom>\*|L|\d{1,2}) \* (?P<dow>\*|\d)$")


class ReportRunError(Exception):
    """A scheduled run that cannot produce its report; `user_message` is shown in the run history."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


def auto_period(cron: str, default_period: str = "30d") -> str:
    """The period `auto` means for a cron expression (see the module docstring)."""
    match = _PRESET.match(" ".join(cron.split()))
    if cron.strip() == "@daily" or (match and match["dom"] == "*" and match["dow"] == "*"):
        return "previous_day"
    if cron.strip() == "@weekly" or (match and match["dom"] == "*" and match["dow"] != "*"):
        return "7d"
    if cron.strip() == "@monthly" or (match and match["dom"] != "*" and match["dow"] == "*"):
        return "previous_month"
    return default_period if default_period in PERIOD_DAYS else "30d"


def schedule_window(
    period: str, due_at: datetime, timezone: str, *, cron: str = "", default_period: str = "30d"
) -> Window:
    """The complete days a run due at `due_at` reports on (see the module docstring)."""
    if period == "auto":
        period = auto_period(cron, default_period)
    if period not in PERIODS:
        raise ScheduleError(f"period {period!r}: expected one of {', '.join(PERIODS)}")
    return period_window(period, due_at, timezone)


def run_folder(instance: Path, schedule: Schedule, due_at: datetime) -> Path:
    """`<instance>/schedules/<run id>/` inside a scheduler run; a per-occurrence folder otherwise."""
    ctx = current_run()
    name = str(ctx.run_id) if ctx is not None else f"s{schedule.id}-{as_utc(due_at):%Y%m%dT%H%M%S}"
    return instance / "schedules" / name


class ReportRunner:
    """`render(schedule, due_at) -> [Artifact]` for `engine.scheduler.Scheduler`."""

    def __init__(self, services: Services, *, clock: Any = None) -> None:
        self.services = services
        self._clock = clock or (lambda: datetime.now(UTC))

    def __call__(self, schedule: Schedule, due_at: datetime) -> list[Artifact]:
        from exports import (
            ExportFormat,
            ExportLimits,
            ReportResult,
            content_type,
            file_name,
            render,
        )
        from exports.jobs import apply_filters
        from exports.jobs.request import applied_filters

        settings, store = self.services.settings, self.services.store
        try:
            found = find_report(store, schedule.report_ref)
        except LookupError as exc:
            raise ReportRunError(
                getattr(exc, "user_message", f"no report {schedule.report_ref!r}")
            ) from None
        owner = self._owner(schedule)
        params = dict(schedule.params or {})
        window = schedule_window(
            str(params.get("period") or "auto"),
            due_at,
            schedule.timezone,
            cron=schedule.cron,
            default_period=found.spec.default_period,
        )
        filters = dict(params.get("filters") or {})
        try:
            spec = apply_filters(found.spec, filters, window, settings.report_timezone)
        except Exception as exc:  # noqa: BLE001 - a filter the report no longer accepts
            raise ReportRunError(
                f"the schedule's filters no longer fit the report: {getattr(exc, 'user_message', exc)}"
            ) from None
        check_cancelled()
        try:
            results = generate(
                spec,
                window,
                owner,
                self.services,
                action="schedule",
                cap="clamp",
                resource=found.resource,
            )
        except AccessDenied as exc:
            raise ReportRunError(
                f"the schedule's owner {owner.username!r} may no longer schedule this report: "
                f"{exc.user_message}"
            ) from None
        check_cancelled()
        failed = [r for r in results if r.error]
        if results and len(failed) == len(results):
            raise ReportRunError(f"no widget of the report could be computed: {failed[0].error}")
        result = ReportResult(
            title=found.spec.title,
            period_label=(results[0].window if results else window).label(),
            generated_at=self._clock(),
            timezone=settings.report_timezone,
            currency=settings.report_currency,
            widgets=results,
            filters=applied_filters(results, filters),
            key=found.spec.key,
        )
        data = data_fingerprint(results, filters)
        folder = run_folder(settings.instance, schedule, due_at)
        limits = ExportLimits.from_settings(settings)
        artifacts = []
        for fmt in formats_of(schedule):
            check_cancelled()
            parsed = ExportFormat.parse(fmt)
            path = folder / file_name(result, parsed)
            render(result, parsed, path, limits=limits)
            fingerprint = hashlib.sha256(f"{parsed.value}\0{data}".encode()).hexdigest()
            artifacts.append(
                Artifact.from_file(path, content_type(parsed), fingerprint=fingerprint)
            )
        return artifacts

    def _owner(self, schedule: Schedule):  # noqa: ANN202 - security.users.Principal
        if schedule.owner_id is None:
            raise ReportRunError("the schedule has no owner to run the report as")
        owner = load_principal(self.services.store, str(schedule.owner_id))
        if owner is None:
            raise ReportRunError(
                f"the schedule's owner (user #{schedule.owner_id}) no longer exists or is deactivated"
            )
        return owner


def formats_of(schedule: Schedule) -> list[str]:
    """The formats a schedule asks for ({"pdf": true, "csv": true} or a list), in a stable order."""
    raw = schedule.formats or {}
    names = raw if isinstance(raw, list | tuple) else [k for k, v in dict(raw).items() if v]
    return list(dict.fromkeys(str(n) for n in names)) or ["pdf"]


def data_fingerprint(results: list[WidgetResult], filters: Mapping[str, Any]) -> str:
    """A hash of the numbers of a generated report: rows, card values, window and filters — not of the
    time it was generated, so two runs over the same data have the same fingerprint."""
    digest = hashlib.sha256()
    digest.update(json.dumps(filters, sort_keys=True, default=str).encode())
    for r in results:
        head = {
            "widget": r.widget.id,
            "window": [r.window.start.isoformat(), r.window.end.isoformat()],
            "value": _num(r.value),
            "previous": _num(r.previous),
            "rows": r.row_count,
            "truncated": r.truncated_at,
            "error": r.error,
        }
        digest.update(json.dumps(head, sort_keys=True).encode())
        for frame in (r.frame, r.sparkline):
            if frame is not None:
                digest.update(frame.to_csv(index=False).encode())
    return digest.hexdigest()


def _num(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def window_for_preview(schedule: Schedule, due_at: datetime) -> Window | None:
    """The window the next run would report on (the form shows it); None if it cannot be worked out."""
    try:
        return schedule_window(
            str((schedule.params or {}).get("period") or "auto"),
            due_at,
            schedule.timezone,
            cron=schedule.cron,
        )
    except (ScheduleError, ValueError):
        return None


__all__ = [
    "PERIODS",
    "PERIOD_LABELS",
    "ReportRunError",
    "ReportRunner",
    "auto_period",
    "data_fingerprint",
    "formats_of",
    "schedule_window",
    "window_for_preview",
]
