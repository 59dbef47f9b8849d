"""Callbacks of the schedules page: read the form, call engine/schedule_service/, draw the result.

Every action goes through the service (the same checks, audit and errors as the API). pages/schedules.py
imports this module, so loading the page registers them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dash import ALL, Input, Output, Patch, State, callback, ctx, html, no_update
from flask import current_app, request
from flask_login import current_user

from components.schedule_form import (
    FIELD_IDS,
    IDS,
    frequency_options,
    webhook_row,
    webhook_rows,
)
from components.schedule_form_input import (
    form_input,
    form_values,
    kept_note,
    kept_recipients,
    webhooks_input,
)
from components.schedule_messages import empty_form_problems, plain_message
from components.schedule_tables import run_history, schedule_table
from engine import services
from engine.schedule_service import Ops, ScheduleNotFound, preview
from engine.schedules import ScheduleError
from security.policy import AccessDenied


def _ops() -> Ops:
    from workers import host

    scheduler_host = host(current_app)
    return Ops(
        services.current(),
        current_user._get_current_object(),
        request.remote_addr,
        kick=scheduler_host.kick if scheduler_host is not None else None,
    )


def _message(exc: Exception) -> str:
    return plain_message(exc)


def _problems(problems: list[str]) -> Any:
    """One problem as its sentence, several as a list (an empty form lacks a report and recipients)."""
    if len(problems) == 1:
        return problems[0]
    return html.Ul([html.Li(p) for p in problems], className="mb-0 ps-3")


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
    Output(IDS.FREQUENCY, "options"),
    Input(IDS.REPORT, "value"),
)
def update_frequency_options(report: str | None) -> list[dict[str, str]]:
    """Only the frequencies the chosen report's template offers (its schedule_options)."""
    return frequency_options(report)


@callback(
    Output(IDS.PREVIEW, "children"),
    [Input(i, "value") for i in FIELD_IDS],
)
def show_preview(*values: Any) -> Any:
    try:  # bad JSON in the filters box is a FieldError too: shown here, never a 500
        data = form_input(dict(zip(FIELD_IDS, values, strict=True)))
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
    values = form_values(schedule)
    title = f"Edit “{schedule['name']}”" if schedule else "New schedule"
    hooks, kept = webhook_rows(schedule), kept_note(schedule)
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
        hooks = webhooks_input(webhook_urls or [], webhook_secrets or [])
        data = form_input(dict(zip(FIELD_IDS, values, strict=True)), hooks)
        ops = _ops()
        schedule_id = int(editing["id"]) if editing and editing.get("id") is not None else None
        # Channels the form does not show (portal users) are kept as they are stored.
        kept = kept_recipients(ops.get(schedule_id)) if schedule_id is not None else {}
        problems = empty_form_problems(data, kept)
        if problems:
            return _problems(problems), True, *(no_update,) * 6
        if schedule_id is not None:
            data["recipients"].update(kept)
            saved = ops.update(schedule_id, data, partial=True)
            verb = "saved"
        else:
            saved = ops.create(data)
            verb = "created"
    except (ScheduleError, AccessDenied, ScheduleNotFound) as exc:
        return _message(exc), True, *(no_update,) * 6
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


@callback(
    Output(IDS.LIST, "children"),
    Input(IDS.VERSION, "data"),
    Input(IDS.POLL, "n_intervals"),
)
def render_list(_version: int, _tick: int | None) -> Any:
    items, _total = _ops().list(1, 200)
    return schedule_table(items)


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
    return run_history(schedule, runs, total)
