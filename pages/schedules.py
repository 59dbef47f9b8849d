"""Scheduled reports: the list, a create/edit form with a live preview of the next run times, pause /
resume / run now, and the run history with the delivery status of every recipient.

Every action goes through engine/schedule_service.py (the same checks, audit and errors as the
API); callbacks only read the form, call it, and draw what it returns.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, Patch, State, callback, ctx, dcc, html, no_update
from flask import current_app, request
from flask_login import current_user
from sqlalchemy import select

from engine import services
from engine.report_runner import PERIOD_LABELS, PERIODS
from engine.schedule_service import REDACTED, FieldError, Ops, ScheduleNotFound, preview
from engine.schedules import WEEKDAYS, ScheduleError
from engine.templates import builtin_dashboards
from security.policy import AccessDenied
from store.models import Dashboard

dash.register_page(
    __name__,
    path="/schedules",
    name="Schedules",
    title="Schedules · Nexpo Reports",
    nav_order=4,
)

FORMATS = (
    ("pdf", "PDF"),
    ("excel", "Excel"),
    ("csv", "CSV"),
    ("json", "JSON"),
    ("xml", "XML"),
    ("png", "PNG"),
)
STATE_COLORS = {
    "succeeded": "success",
    "sent": "success",
    "failed": "danger",
    "skipped": "secondary",
    "queued": "info",
    "running": "primary",
    "pending": "info",
}


class IDS:
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


def _ops() -> Ops:
    from workers import host

    scheduler_host = host(current_app)
    return Ops(
        services.current(),
        current_user._get_current_object(),
        request.remote_addr,
        kick=scheduler_host.kick if scheduler_host is not None else None,
    )


def _reports() -> list[dict[str, str]]:
    options = [{"label": s.title, "value": key} for key, s in builtin_dashboards().items()]
    with services.current().store.session() as session:
        for slug, title in session.execute(select(Dashboard.slug, Dashboard.title)).all():
            if slug not in builtin_dashboards():
                options.append({"label": f"{title} (dashboard)", "value": slug})
    return options


def _group(label: str, control: Any, group_id: str | None = None, md: int = 3) -> dbc.Col:
    return dbc.Col(
        html.Div([dbc.Label(label, className="small fw-semibold mb-1"), control]),
        md=md,
        className="mb-2",
        id=group_id or f"{getattr(control, 'id', label)}-group",
    )


def _form() -> dbc.Card:
    tz = services.current().settings.report_timezone
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
                                options=[
                                    {"label": f.capitalize(), "value": f}
                                    for f in ("daily", "weekly", "monthly", "cron")
                                ],
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
                                options=[{"label": n, "value": v} for v, n in FORMATS],
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
                        ),
                        _group(
                            "Storage folders",
                            dbc.Input(
                                id=IDS.STORAGE, placeholder="finance/weekly or s3://bucket/x"
                            ),
                            md=4,
                        ),
                    ]
                ),
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
                html.Div(id=IDS.KEPT, className="small text-secondary mb-1"),
                html.P(
                    "Every run also appears in your report history. Times follow the time zone's "
                    "wall clock across daylight-saving changes.",
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


def layout(**_params: Any) -> html.Div:
    return html.Div(
        [
            html.Div(
                [
                    html.H1("Scheduled reports", className="h4 mb-0"),
                    dbc.Button(
                        "New schedule", id=IDS.NEW, color="primary", size="sm", className="ms-auto"
                    ),
                ],
                className="d-flex align-items-center mb-3",
            ),
            dbc.Alert(id=IDS.FEEDBACK, is_open=False, duration=8000, className="small"),
            html.Div(_form(), id=IDS.FORM, style={"display": "none"}),
            html.Div(id=IDS.LIST),
            html.Div(id=IDS.HISTORY, className="mt-4"),
            dcc.Store(id=IDS.VERSION, data=0),
            dcc.Store(id=IDS.SELECTED, data=None),
            dcc.Store(id=IDS.EDITING, data=None),
            dcc.Interval(id=IDS.POLL, interval=3000),
        ],
        id="schedules-page",
    )


# ---------------------------------------------------------------------------------------------
# Form <-> input


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


def _webhooks_input(urls: list[str | None], secrets: list[str | None]) -> list[dict[str, str]]:
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


def _form_input(
    values: dict[str, Any], webhooks: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """The schedule input (engine/schedule_service.py) of the form's values and webhook rows."""
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


def _form_values(schedule: dict[str, Any] | None) -> dict[str, Any]:
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


def kept_recipients(schedule: dict[str, Any] | None) -> dict[str, list[Any]]:
    """The recipients of channels the form does not edit (portal users): saved unchanged."""
    recipients = (schedule or {}).get("recipients") or {}
    return {k: list(v) for k, v in recipients.items() if k not in FORM_CHANNELS and v}


def _kept_note(schedule: dict[str, Any] | None) -> str:
    kept = kept_recipients(schedule)
    if not kept:
        return ""
    listed = "; ".join(f"{channel}: {', '.join(map(str, v))}" for channel, v in kept.items())
    return f"Also delivered to recipients set through the API, kept unchanged ({listed})."


def _message(exc: Exception) -> str:
    return getattr(exc, "user_message", None) or str(exc)


# ---------------------------------------------------------------------------------------------
# Callbacks


@callback(
    Output(IDS.WEEKDAY_GROUP, "style"),
    Output(IDS.DAY_GROUP, "style"),
    Output(IDS.CRON_GROUP, "style"),
    Output(IDS.TIME_GROUP, "style"),
    Input(IDS.FREQUENCY, "value"),
)
def toggle_frequency_fields(frequency: str | None):  # noqa: ANN201
    hide, show = {"display": "none"}, {}
    return (
        show if frequency == "weekly" else hide,
        show if frequency == "monthly" else hide,
        show if frequency == "cron" else hide,
        hide if frequency == "cron" else show,
    )


@callback(
    Output(IDS.PREVIEW, "children"),
    [Input(i, "value") for i in FIELD_IDS],
)
def show_preview(*values: Any) -> Any:
    data = _form_input(dict(zip(FIELD_IDS, values, strict=True)))
    try:
        found = preview(services.current(), data)
    except ScheduleError as exc:
        return html.Span(f"⚠ {_message(exc)}", className="text-danger", id="sched-preview-error")
    window = (
        f" Each report covers {found['first_window']} for the first run."
        if found["first_window"]
        else ""
    )
    return html.Div(
        [
            html.Div(
                [html.Strong(found["description"]), html.Span(f" · cron {found['cron']}.{window}")],
                id="sched-preview-description",
            ),
            html.Div("Next runs:", className="mt-1"),
            html.Ol(
                [html.Li(t) for t in found["next_runs"]]
                or [html.Li("none: the schedule has ended")],
                className="mb-0",
                id="sched-preview-list",
            ),
        ]
    )


@callback(
    Output(IDS.EDITING, "data"),
    Input(IDS.NEW, "n_clicks"),
    Input(IDS.CANCEL, "n_clicks"),
    prevent_initial_call=True,
)
def open_or_close_form(_new: int | None, _cancel: int | None) -> Any:
    if ctx.triggered_id == IDS.NEW:
        return {"id": None, "at": datetime.now().isoformat()}
    return None


@callback(
    Output(IDS.FORM, "style"),
    Output(IDS.FORM_TITLE, "children"),
    Output(IDS.ERROR, "is_open", allow_duplicate=True),
    Output(IDS.WEBHOOKS, "children"),
    Output(IDS.KEPT, "children"),
    [Output(i, "value") for i in FIELD_IDS],
    Input(IDS.EDITING, "data"),
    prevent_initial_call=True,
)
def fill_form(editing: dict[str, Any] | None) -> Any:
    unchanged = [no_update] * (len(FIELD_IDS) + 2)
    if not editing:
        return {"display": "none"}, no_update, False, *unchanged
    schedule = None
    if editing.get("id") is not None:
        try:
            schedule = _ops().get(int(editing["id"]))
        except (ScheduleNotFound, AccessDenied):
            return {"display": "none"}, no_update, False, *unchanged
    values = _form_values(schedule)
    title = f"Edit “{schedule['name']}”" if schedule else "New schedule"
    hooks, kept = webhook_rows(schedule), _kept_note(schedule)
    return {}, title, False, hooks, kept, *[values[i] for i in FIELD_IDS]


@callback(
    Output(IDS.WEBHOOKS, "children", allow_duplicate=True),
    Input(IDS.WEBHOOK_ADD, "n_clicks"),
    Input({"type": IDS.WEBHOOK_REMOVE, "index": ALL}, "n_clicks"),
    State(IDS.WEBHOOKS, "children"),
    prevent_initial_call=True,
)
def update_webhooks(_add: int | None, removes: list[int | None], rows: list[Any] | None) -> Any:
    """Add an empty webhook row, or remove the row whose button was clicked."""
    trigger = ctx.triggered_id
    if trigger == IDS.WEBHOOK_ADD:
        patched = Patch()
        patched.append(webhook_row())
        return patched
    if isinstance(trigger, dict) and any(removes or []):
        key = trigger["index"]
        return [r for r in rows or [] if _row_key(r) != key]
    return no_update


def _row_key(row: Any) -> Any:
    """The `index` of a webhook row, given as a component or as its JSON from the browser."""
    ident = row.get("props", {}).get("id") if isinstance(row, dict) else getattr(row, "id", None)
    return ident.get("index") if isinstance(ident, dict) else None


@callback(
    Output(IDS.ERROR, "children"),
    Output(IDS.ERROR, "is_open"),
    Output(IDS.EDITING, "data", allow_duplicate=True),
    Output(IDS.VERSION, "data", allow_duplicate=True),
    Output(IDS.SELECTED, "data", allow_duplicate=True),
    Output(IDS.FEEDBACK, "children", allow_duplicate=True),
    Output(IDS.FEEDBACK, "is_open", allow_duplicate=True),
    Output(IDS.FEEDBACK, "color", allow_duplicate=True),
    Input(IDS.SAVE, "n_clicks"),
    State(IDS.EDITING, "data"),
    State(IDS.VERSION, "data"),
    State({"type": IDS.WEBHOOK_URL, "index": ALL}, "value"),
    State({"type": IDS.WEBHOOK_SECRET, "index": ALL}, "value"),
    [State(i, "value") for i in FIELD_IDS],
    prevent_initial_call=True,
)
def save(
    _n: int | None,
    editing: dict[str, Any] | None,
    version: int,
    webhook_urls: list[str | None],
    webhook_secrets: list[str | None],
    *values: Any,
) -> Any:
    try:
        hooks = _webhooks_input(webhook_urls or [], webhook_secrets or [])
        data = _form_input(dict(zip(FIELD_IDS, values, strict=True)), hooks)
        ops = _ops()
        if editing and editing.get("id") is not None:
            schedule_id = int(editing["id"])
            # Channels the form does not show (portal users) are kept as they are stored.
            data["recipients"].update(kept_recipients(ops.get(schedule_id)))
            saved = ops.update(schedule_id, data, partial=True)
            verb = "saved"
        else:
            saved = ops.create(data)
            verb = "created"
    except (ScheduleError, AccessDenied, ScheduleNotFound) as exc:
        return _message(exc), True, no_update, no_update, no_update, no_update, no_update, no_update
    note = f"Schedule “{saved['name']}” {verb}: {saved['description']}."
    return "", False, None, (version or 0) + 1, saved["id"], note, True, "success"


@callback(
    Output(IDS.FEEDBACK, "children", allow_duplicate=True),
    Output(IDS.FEEDBACK, "is_open", allow_duplicate=True),
    Output(IDS.FEEDBACK, "color", allow_duplicate=True),
    Output(IDS.VERSION, "data", allow_duplicate=True),
    Output(IDS.SELECTED, "data", allow_duplicate=True),
    Output(IDS.EDITING, "data", allow_duplicate=True),
    Input({"type": IDS.ACTION, "action": ALL, "id": ALL}, "n_clicks"),
    State(IDS.VERSION, "data"),
    prevent_initial_call=True,
)
def row_action(clicks: list[int | None], version: int) -> Any:
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not any(c for c in clicks or []):
        return (no_update,) * 6
    if not (ctx.triggered and ctx.triggered[0].get("value")):
        return (no_update,) * 6
    action, schedule_id = trigger["action"], int(trigger["id"])
    if action == "history":
        return no_update, no_update, no_update, no_update, schedule_id, no_update
    if action == "edit":
        return no_update, no_update, no_update, no_update, schedule_id, {"id": schedule_id}
    ops = _ops()
    try:
        if action == "pause":
            done = f"Paused “{ops.pause(schedule_id)['name']}”."
        elif action == "resume":
            done = f"Resumed “{ops.resume(schedule_id)['name']}”."
        elif action == "run":
            run = ops.run(schedule_id)
            done = f"Run #{run['id']} queued: it appears in the history below."
        elif action == "delete":
            ops.delete(schedule_id)
            return "Schedule deleted.", True, "success", (version or 0) + 1, None, None
        else:
            return (no_update,) * 6
    except (ScheduleError, AccessDenied, ScheduleNotFound) as exc:
        return _message(exc), True, "danger", no_update, no_update, no_update
    return done, True, "success", (version or 0) + 1, schedule_id, no_update


def _button(label: str, action: str, schedule_id: int, color: str = "secondary") -> dbc.Button:
    return dbc.Button(
        label,
        id={"type": IDS.ACTION, "action": action, "id": schedule_id},
        size="sm",
        color=color,
        outline=True,
        className="me-1",
    )


def _local(iso: str | None, tz: str) -> str:
    if not iso:
        return "—"
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(ZoneInfo(tz))
    return f"{moment:%a %d %b %Y %H:%M} {moment.tzname()}"


def _badge(state: str) -> dbc.Badge:
    return dbc.Badge(state, color=STATE_COLORS.get(state, "secondary"), className="me-1")


@callback(
    Output(IDS.LIST, "children"),
    Input(IDS.VERSION, "data"),
    Input(IDS.POLL, "n_intervals"),
)
def render_list(_version: int, _tick: int | None) -> Any:
    items, total = _ops().list(1, 200)
    if not items:
        return html.P(
            "No schedules yet. “New schedule” sends a report by e-mail, webhook or to storage "
            "on a daily, weekly, monthly or cron rhythm.",
            className="text-secondary",
            id="sched-empty",
        )
    rows = []
    for s in items:
        last = s.get("last_run")
        rows.append(
            html.Tr(
                [
                    html.Td(
                        [
                            html.Div(html.Strong(s["name"])),
                            html.Small(s["report"], className="text-secondary"),
                        ]
                    ),
                    html.Td(s["description"]),
                    html.Td(
                        "paused"
                        if s["paused"]
                        else (s["next_runs"][0] if s["next_runs"] else "ended"),
                        className="small",
                    ),
                    html.Td(", ".join(s["formats"]), className="small"),
                    html.Td(
                        ", ".join(f"{len(v)} {k}" for k, v in s["recipients"].items())
                        or "portal only",
                        className="small",
                    ),
                    html.Td(
                        _badge(last["state"])
                        if last
                        else html.Span("—", className="text-secondary")
                    ),
                    html.Td(
                        [
                            _button("Edit", "edit", s["id"]),
                            _button("Resume", "resume", s["id"], "success")
                            if s["paused"]
                            else _button("Pause", "pause", s["id"], "warning"),
                            _button("Run now", "run", s["id"], "primary"),
                            _button("History", "history", s["id"]),
                            _button("Delete", "delete", s["id"], "danger"),
                        ],
                        className="text-nowrap",
                    ),
                ],
                id=f"sched-row-{s['id']}",
            )
        )
    head = html.Thead(
        html.Tr(
            [
                html.Th(h)
                for h in ("Schedule", "When", "Next run", "Formats", "Recipients", "Last run", "")
            ]
        )
    )
    return dbc.Table(
        [head, html.Tbody(rows)], hover=True, size="sm", className="align-middle", id="sched-table"
    )


@callback(
    Output(IDS.HISTORY, "children"),
    Input(IDS.SELECTED, "data"),
    Input(IDS.VERSION, "data"),
    Input(IDS.POLL, "n_intervals"),
)
def render_history(selected: int | None, _version: int, _tick: int | None) -> Any:
    if selected is None:
        return html.P(
            "Choose “History” on a schedule to see its runs.", className="small text-secondary"
        )
    ops = _ops()
    try:
        schedule = ops.get(int(selected))
        runs, total = ops.runs(int(selected), 1, 25)
    except (ScheduleNotFound, AccessDenied):
        return None
    tz = schedule["timezone"]
    title = html.H2(f"Run history · {schedule['name']}", className="h5")
    if not runs:
        return html.Div([title, html.P("No runs yet.", className="small text-secondary")])
    rows = []
    for run in runs:
        deliveries = [
            html.Div(
                [
                    _badge(d["state"]),
                    html.Span(f"{d['channel']} → {d['recipient']}", className="me-1"),
                    html.Small(
                        f"({d['attempts']} attempt{'s' if d['attempts'] != 1 else ''})",
                        className="text-secondary",
                    )
                    if d["attempts"]
                    else None,
                    html.Div(d["error"], className="small text-danger") if d["error"] else None,
                ],
                className="mb-1 sched-delivery",
            )
            for d in run["deliveries"]
        ]
        files = [
            html.Span(
                f"{f['name']} (deleted after the retention period)",
                className="d-block small text-secondary text-decoration-line-through",
                title=f"Deleted on {f['purged_at'][:10]}",
            )
            if f.get("purged_at")
            else html.A(f["name"], href=f["url"], className="d-block small", target="_blank")
            for f in run["files"]
        ]
        took = f"{run['duration_ms'] / 1000:.1f} s" if run["duration_ms"] is not None else "—"
        rows.append(
            html.Tr(
                [
                    html.Td(
                        [
                            html.Div(_local(run["due_at"], tz)),
                            html.Small(run["trigger"], className="text-secondary"),
                        ]
                    ),
                    html.Td(
                        [
                            _badge(run["state"]),
                            html.Div(run["error"], className="small text-danger sched-run-error")
                            if run["error"]
                            else None,
                        ]
                    ),
                    html.Td(took, className="small"),
                    html.Td(files or html.Span("—", className="text-secondary")),
                    html.Td(deliveries or html.Span("—", className="text-secondary")),
                ],
                id=f"sched-run-{run['id']}",
            )
        )
    head = html.Thead(
        html.Tr([html.Th(h) for h in ("Due", "State", "Took", "Files", "Deliveries")])
    )
    more = (
        html.P(f"Showing the latest 25 of {total} runs.", className="small text-secondary")
        if total > 25
        else None
    )
    return html.Div(
        [
            title,
            dbc.Table(
                [head, html.Tbody(rows)],
                size="sm",
                className="align-middle",
                id="sched-history-table",
            ),
            more,
        ]
    )
