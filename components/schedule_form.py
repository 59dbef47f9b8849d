"""The schedules page's form: the page's component ids (`IDS`), the create/edit card, its webhook rows."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any
from zoneinfo import available_timezones

import dash_bootstrap_components as dbc
from dash import dcc, html
from flask_login import current_user
from sqlalchemy import select

from engine import services
from engine.report_runner import PERIOD_LABELS, PERIODS
from engine.reports import find_report
from engine.request import schedule_frequencies
from engine.schedules import WEEKDAYS
from engine.templates import builtin_dashboards
from security.policy import AccessDenied, authorize
from store.models import Dashboard

FORMATS = (
    ("pdf", "PDF"),
    ("excel", "Excel"),
    ("csv", "CSV"),
    ("json", "JSON"),
    ("xml", "XML"),
    ("png", "PNG"),
)


class IDS:
    """Every id of the schedules page: its layout, form, tables and callbacks use these."""

    FEEDBACK = "sched-feedback"
    NEW = "sched-new"
    LIST = "sched-list"
    HISTORY = "sched-history"
    VERSION = "sched-version"
    SELECTED = "sched-selected"
    EDITING = "sched-editing"
    POLL = "sched-poll"
    FORM = "sched-form"
    FORM_TITLE = "sched-form-title"
    REPORT = "sched-form-report"
    NAME = "sched-form-name"
    FREQUENCY = "sched-form-frequency"
    TIME = "sched-form-time"
    WEEKDAY = "sched-form-weekday"
    DAY = "sched-form-day"
    CRON = "sched-form-cron"
    TIMEZONE = "sched-form-timezone"
    STARTS = "sched-form-starts"
    ENDS = "sched-form-ends"
    PERIOD = "sched-form-period"
    FILTERS = "sched-form-filters"
    FORMATS = "sched-form-formats"
    EMAILS = "sched-form-emails"
    WEBHOOKS = "sched-form-webhooks"  # the list of webhook rows
    WEBHOOK_ADD = "sched-form-webhook-add"
    # One row per webhook, dict ids {"type": ..., "index": <row key>}:
    WEBHOOK_ROW = "sched-form-webhook-row"
    WEBHOOK_URL = "sched-form-webhook-url"
    WEBHOOK_SECRET = "sched-form-webhook-secret"
    WEBHOOK_REMOVE = "sched-form-webhook-remove"
    KEPT = "sched-form-kept"  # recipients the form does not edit (portal users), kept on save
    STORAGE = "sched-form-storage"
    ONLY_CHANGED = "sched-form-only-changed"
    PREVIEW = "sched-form-preview"
    SAVE = "sched-form-save"
    CANCEL = "sched-form-cancel"
    ERROR = "sched-form-error"
    WEEKDAY_GROUP = "sched-form-weekday-group"
    DAY_GROUP = "sched-form-day-group"
    CRON_GROUP = "sched-form-cron-group"
    TIME_GROUP = "sched-form-time-group"
    ACTION = "sched-action"


# The form fields in the order the callbacks read and fill them.
FIELD_IDS = (
    IDS.REPORT,
    IDS.NAME,
    IDS.FREQUENCY,
    IDS.TIME,
    IDS.WEEKDAY,
    IDS.DAY,
    IDS.CRON,
    IDS.TIMEZONE,
    IDS.STARTS,
    IDS.ENDS,
    IDS.PERIOD,
    IDS.FILTERS,
    IDS.FORMATS,
    IDS.EMAILS,
    IDS.STORAGE,
    IDS.ONLY_CHANGED,
)


def _reports() -> list[dict[str, str]]:
    """The reports the signed-in user may schedule (the role's table: reports and actions)."""
    svc = services.current()
    who = current_user._get_current_object() if current_user.is_authenticated else None
    options = [{"label": s.title, "value": key} for key, s in builtin_dashboards().items()]
    with svc.store.session() as session:
        for slug, title in session.execute(select(Dashboard.slug, Dashboard.title)).all():
            if slug not in builtin_dashboards():
                options.append({"label": f"{title} (dashboard)", "value": slug})
    return [o for o in options if who is not None and _may_schedule(svc, who, o["value"])]


def _may_schedule(svc: Any, who: Any, report: str) -> bool:
    try:
        authorize(who, "schedule", find_report(svc.store, report).resource)
    except (AccessDenied, LookupError):
        return False
    return True


FREQUENCY_LABELS = {"daily": "Daily", "weekly": "Weekly", "monthly": "Monthly", "cron": "Cron"}


def frequency_options(report: str | None) -> list[dict[str, str]]:
    """The frequencies `report`'s template offers (its schedule_options); all before a choice."""
    offered = list(FREQUENCY_LABELS)
    if report:
        with contextlib.suppress(LookupError):
            offered = schedule_frequencies(find_report(services.current().store, report).spec)
    return [{"label": FREQUENCY_LABELS[f], "value": f} for f in FREQUENCY_LABELS if f in offered]


def _group(
    label: str, control: Any, group_id: str | None = None, md: int = 3, style: Any = None
) -> dbc.Col:
    return dbc.Col(
        html.Div([dbc.Label(label, className="small fw-semibold mb-1"), control]),
        md=md,
        className="mb-2",
        id=group_id or f"{getattr(control, 'id', label)}-group",
        style=style or {},
    )


def _shown(on: bool) -> dict[str, str]:
    """Style of a recipient block: hidden (still in the layout, for the callbacks) when its
    channel is turned off (EMAIL_DELIVERY_ENABLED, WEBHOOK_DELIVERY_ENABLED, FILE_STORAGE_ENABLED)."""
    return {} if on else {"display": "none"}


def schedule_form() -> dbc.Card:
    settings = services.current().settings
    tz = settings.report_timezone
    zones = sorted(available_timezones() - {"localtime"})
    return dbc.Card(
        dbc.CardBody(
            [
                html.H2("New schedule", id=IDS.FORM_TITLE, className="h5"),
                dbc.Row(
                    [
                        _group(
                            "Report",
                            dcc.Dropdown(id=IDS.REPORT, options=_reports(), clearable=False),
                            md=4,
                        ),
                        _group(
                            "Name",
                            dbc.Input(id=IDS.NAME, placeholder="Weekly revenue for finance"),
                            md=4,
                        ),
                        _group(
                            "Period in each report",
                            dcc.Dropdown(
                                id=IDS.PERIOD,
                                options=[{"label": PERIOD_LABELS[p], "value": p} for p in PERIODS],
                                clearable=False,
                            ),
                            md=4,
                        ),
                    ]
                ),
                dbc.Row(
                    [
                        _group(
                            "Frequency",
                            dbc.RadioItems(
                                id=IDS.FREQUENCY,
                                options=frequency_options(None),
                                inline=True,
                            ),
                            md=4,
                        ),
                        _group("Time", dbc.Input(id=IDS.TIME, type="time"), IDS.TIME_GROUP, md=2),
                        _group(
                            "Weekday",
                            dcc.Dropdown(
                                id=IDS.WEEKDAY,
                                options=[{"label": d, "value": i} for i, d in enumerate(WEEKDAYS)],
                                clearable=False,
                            ),
                            IDS.WEEKDAY_GROUP,
                            md=2,
                        ),
                        _group(
                            "Day of month",
                            dcc.Dropdown(
                                id=IDS.DAY,
                                options=[{"label": str(d), "value": d} for d in range(1, 29)]
                                + [{"label": "Last day", "value": -1}],
                                clearable=False,
                            ),
                            IDS.DAY_GROUP,
                            md=2,
                        ),
                        _group(
                            "Cron (min hour day month weekday)",
                            dbc.Input(id=IDS.CRON, placeholder="0 9 * * 1-5"),
                            IDS.CRON_GROUP,
                            md=3,
                        ),
                    ]
                ),
                dbc.Row(
                    [
                        _group(
                            "Time zone",
                            dcc.Dropdown(id=IDS.TIMEZONE, options=zones, value=tz, clearable=False),
                            md=4,
                        ),
                        _group("Starts (optional)", dbc.Input(id=IDS.STARTS, type="date"), md=2),
                        _group("Ends (optional)", dbc.Input(id=IDS.ENDS, type="date"), md=2),
                        _group(
                            "Filters (JSON, optional)",
                            dbc.Input(id=IDS.FILTERS, placeholder='{"parameter": "value"}'),
                            md=4,
                        ),
                    ]
                ),
                dbc.Row(
                    [
                        _group(
                            "Formats",
                            dbc.Checklist(
                                id=IDS.FORMATS,
                                options=[
                                    {"label": n, "value": v}
                                    for v, n in FORMATS
                                    if v in settings.export_formats
                                ],
                                inline=True,
                            ),
                            md=4,
                        ),
                        _group(
                            "Only send when the data changed",
                            dbc.Switch(id=IDS.ONLY_CHANGED, label="Skip unchanged reports"),
                            md=4,
                        ),
                    ]
                ),
                html.H3("Recipients", className="h6 mt-2"),
                dbc.Row(
                    [
                        _group(
                            "E-mail addresses (comma or line separated)",
                            dbc.Textarea(id=IDS.EMAILS, rows=2, placeholder="finance@example.com"),
                            md=4,
                            style=_shown(settings.email_delivery_enabled),
                        ),
                        _group(
                            "Storage folders",
                            dbc.Input(
                                id=IDS.STORAGE, placeholder="finance/weekly or s3://bucket/x"
                            ),
                            md=4,
                            style=_shown(settings.file_storage_enabled),
                        ),
                    ]
                ),
                html.Div(
                    [
                        html.Div("Webhooks", className="small fw-semibold mb-1"),
                        html.Div(id=IDS.WEBHOOKS, children=[]),
                        dbc.Button(
                            "Add webhook",
                            id=IDS.WEBHOOK_ADD,
                            size="sm",
                            color="secondary",
                            outline=True,
                            className="mb-2",
                        ),
                    ],
                    id="sched-form-webhooks-block",
                    style=_shown(settings.webhook_delivery_enabled),
                ),
                html.Div(id=IDS.KEPT, className="small text-secondary mb-1"),
                html.P(
                    (
                        "Every run also appears in your report history. "
                        if settings.report_portal_enabled
                        else ""
                    )
                    + "Times follow the time zone's wall clock across daylight-saving changes.",
                    className="small text-secondary mb-2",
                ),
                dbc.Alert(id=IDS.PREVIEW, color="light", className="small mb-2"),
                dbc.Alert(id=IDS.ERROR, color="danger", is_open=False, className="small"),
                html.Div(
                    [
                        dbc.Button("Save schedule", id=IDS.SAVE, color="primary", className="me-2"),
                        dbc.Button("Cancel", id=IDS.CANCEL, color="secondary", outline=True),
                    ]
                ),
            ]
        ),
        className="shadow-sm mb-3",
    )


def webhook_row(url: str = "", *, has_secret: bool = False, key: str | None = None) -> dbc.Row:
    """One webhook of the form: its URL, its signing secret (never sent to the browser: an empty
    field keeps the stored one) and a remove button."""
    key = key or uuid.uuid4().hex[:12]
    return dbc.Row(
        [
            dbc.Col(
                dbc.Input(
                    id={"type": IDS.WEBHOOK_URL, "index": key},
                    value=url,
                    placeholder="https://…",
                    size="sm",
                ),
                md=6,
            ),
            dbc.Col(
                dbc.Input(
                    id={"type": IDS.WEBHOOK_SECRET, "index": key},
                    value="",
                    type="password",
                    placeholder="secret set: kept when empty" if has_secret else "signing secret",
                    size="sm",
                ),
                md=4,
            ),
            dbc.Col(
                dbc.Button(
                    "Remove",
                    id={"type": IDS.WEBHOOK_REMOVE, "index": key},
                    size="sm",
                    color="danger",
                    outline=True,
                ),
                md=2,
            ),
        ],
        id={"type": IDS.WEBHOOK_ROW, "index": key},
        className="g-2 mb-2 sched-webhook",
    )


def webhook_rows(schedule: dict[str, Any] | None) -> list[dbc.Row]:
    """The form's webhook rows for a schedule (all of its webhooks), or one empty row."""
    rows = []
    for hook in ((schedule or {}).get("recipients") or {}).get("webhook") or []:
        if isinstance(hook, dict):
            rows.append(
                webhook_row(str(hook.get("url") or ""), has_secret=bool(hook.get("secret")))
            )
        else:
            rows.append(webhook_row(str(hook)))
    return rows or [webhook_row()]
