"""Schedules as users see them: validated input, access checks, audit, and the JSON shape.

The API (api/schedules.py) and the schedules page (pages/schedules.py) both call these functions,
so a schedule made in the browser and one made with curl pass the same checks.

Input (a JSON object; the API's request body, the form's values):

    name            text, 1-120 characters, trimmed (default: the report's title and frequency)
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

Modules: `fields` (checking and parsing one input field at a time), `views` (rows as the JSON
of the API and the page), `validation` (a whole input: the fields to store, the live preview),
`ops` (access checks, audit, the operations, run file downloads). Import from
`engine.schedule_service`: every public name is here.
"""

from engine.schedule_service.fields import (
    CHANNELS,
    FIELDS,
    REDACTED,
    FieldError,
    cron_of,
    preset_of,
)
from engine.schedule_service.ops import (
    Ops,
    RunFilePurged,
    ScheduleNotFound,
    download,
    may,
    schedule_resource,
)
from engine.schedule_service.validation import preview, schedule_fields
from engine.schedule_service.views import (
    as_dict,
    as_input,
    delivery_dict,
    portal_users,
    redacted_recipients,
    run_dict,
)

__all__ = [
    "CHANNELS",
    "FIELDS",
    "REDACTED",
    "FieldError",
    "Ops",
    "RunFilePurged",
    "ScheduleNotFound",
    "as_dict",
    "as_input",
    "cron_of",
    "delivery_dict",
    "download",
    "may",
    "portal_users",
    "preset_of",
    "preview",
    "redacted_recipients",
    "run_dict",
    "schedule_fields",
    "schedule_resource",
]
