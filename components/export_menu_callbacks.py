"""Callbacks of the export menu (components/export_menu.py): start, follow, cancel, download.

One server callback per menu (MATCH on its scope) does all three actions, so the job store, the
progress bar and the poll timer have a single writer; a client-side callback starts the browser
download when the job store's download URL appears.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import ALL, MATCH, Input, Output, State, callback, clientside_callback, html
from flask import request, url_for
from flask_login import current_user

from components.export_menu import FORMATS, IDS
from engine import services
from engine.reports import ReportNotFound, find_report
from exports import jobs
from exports.jobs import ExportRequestError
from security.policy import AccessDenied

LABELS = dict(FORMATS)
HIDDEN = {"display": "none"}
SHOWN = {"display": "flex", "minWidth": "12rem"}
_NO = dash.no_update


@callback(
    Output(IDS.of(IDS.JOB, MATCH), "data"),
    Output(IDS.of(IDS.POLL, MATCH), "disabled"),
    Output(IDS.of(IDS.PANEL, MATCH), "style"),
    Output(IDS.of(IDS.PROGRESS, MATCH), "value"),
    Output(IDS.of(IDS.PROGRESS, MATCH), "label"),
    Output(IDS.of(IDS.STATUS, MATCH), "children"),
    Output(IDS.of(IDS.READY, MATCH), "data"),
    Input({"type": IDS.ITEM, "scope": MATCH, "fmt": ALL}, "n_clicks"),
    Input(IDS.of(IDS.POLL, MATCH), "n_intervals"),
    Input(IDS.of(IDS.CANCEL, MATCH), "n_clicks"),
    State(IDS.of(IDS.CTX, MATCH), "data"),
    State(IDS.of(IDS.JOB, MATCH), "data"),
    prevent_initial_call=True,
)
def export_action(
    _items: list[int | None],
    _polls: int | None,
    _cancels: int | None,
    ctx: dict[str, Any],
    job: dict[str, Any] | None,
) -> tuple[Any, ...]:
    trigger = dash.ctx.triggered_id
    if (
        not isinstance(trigger, dict)
        or not dash.ctx.triggered
        or not dash.ctx.triggered[0]["value"]
    ):
        return (_NO,) * 7
    svc = services.current()
    principal = current_user._get_current_object()
    try:
        if trigger["type"] == IDS.ITEM:
            if job and job.get("status") in (jobs.PENDING, jobs.RUNNING):
                return (_NO,) * 5 + ("An export is already running; wait or cancel it.", _NO)
            row = jobs.create_export(
                svc,
                principal,
                ctx["report_id"],
                trigger["fmt"],
                ctx.get("period") or _default_period(ctx["report_id"]),
                ctx.get("filters") or {},
                ctx.get("widget_id"),
                start=ctx.get("start"),
                end=ctx.get("end"),
                ip=request.remote_addr,
            )
        elif not job:
            return (_NO,) * 7
        elif trigger["type"] == IDS.CANCEL:
            row = jobs.cancel_export(svc, principal, job["id"], ip=request.remote_addr)
        else:
            row = jobs.get_for(svc, principal, job["id"])
    except (ExportRequestError, AccessDenied, ReportNotFound) as exc:
        message = getattr(exc, "user_message", None) or str(exc)
        return None, True, HIDDEN, 0, "", _alert(message, "danger"), None
    return _show(row)


@callback(
    Output({"type": IDS.CTX, "scope": ALL}, "data"),
    Input(IDS.DASHBOARD_STATE, "data"),
    State({"type": IDS.CTX, "scope": ALL}, "data"),
)
def follow_dashboard(state: dict[str, Any] | None, contexts: list[dict[str, Any]]) -> list[Any]:
    """Keep every menu of a dashboard on the page's live view (period, custom dates, filters)."""
    if not state or not contexts:
        return [_NO] * len(contexts)
    view = {
        "period": state.get("period"),
        "start": state.get("start"),
        "end": state.get("end"),
        "filters": {k: v for k, v in (state.get("filters") or {}).items() if v},
    }
    return [{**c, **view} if c.get("report_id") == state.get("key") else _NO for c in contexts]


def _default_period(report_id: str) -> str:
    try:
        return find_report(services.current().store, report_id).spec.default_period
    except ReportNotFound:
        return "30d"


def _show(row: Any) -> tuple[Any, ...]:
    view = jobs.as_dict(row, url_for("api.export_download", export_id=row.id))
    label = LABELS.get(view["format"], view["format"].upper())
    state = {"id": view["id"], "status": view["status"], "format": view["format"]}
    if view["status"] in (jobs.PENDING, jobs.RUNNING):
        text = f"Preparing {label}…" if view["status"] == jobs.PENDING else f"Exporting {label}…"
        pct = view["progress"]
        return (
            state,
            False,
            SHOWN,
            pct,
            f"{pct} %",
            html.Span(text, className="text-secondary"),
            None,
        )
    if view["status"] == jobs.SUCCEEDED:
        return state, True, HIDDEN, 100, "", _done(view, label), view["download_url"]
    if view["status"] == jobs.CANCELLED:
        return (
            state,
            True,
            HIDDEN,
            0,
            "",
            html.Span("Export cancelled.", className="text-secondary"),
            None,
        )
    return (
        state,
        True,
        HIDDEN,
        0,
        "",
        _alert(f"{label} export failed: {view['error']}", "danger"),
        None,
    )


def _done(view: dict[str, Any], label: str) -> html.Div:
    rows = view["row_count"]
    parts: list[Any] = [
        html.Span(f"{label} ready", className="text-success"),
        html.Span(f" · {rows:,} rows" if rows is not None else ""),
        " · ",
        html.A(
            "Download again",
            href=view["download_url"],
            className="export-download-link",
            **{"download": view["filename"] or ""},
        ),
    ]
    if view["truncated"]:
        notes = [
            f"{t['title']}: truncated at {t['kept']:,} of {t['total']:,} rows (REPORT_MAX_ROWS)."
            for t in view["truncations"]
        ] or ["Truncated at REPORT_MAX_ROWS."]
        parts.append(
            html.Div(
                [html.Strong("Truncated. "), " ".join(notes)],
                className="text-warning export-truncated",
            )
        )
    return html.Div(parts)


def _alert(message: str, tone: str) -> html.Div:
    return html.Div(message, className=f"text-{tone} export-error", role="alert")


# The browser downloads the file (Content-Disposition: attachment) without leaving the page.
clientside_callback(
    """function (url) {
        if (!url) { return window.dash_clientside.no_update; }
        const a = document.createElement("a");
        a.href = url;
        a.setAttribute("download", "");
        a.style.display = "none";
        document.body.appendChild(a);
        a.click();
        a.remove();
        return url;
    }""",
    Output(IDS.of(IDS.DOWNLOADED, MATCH), "data"),
    Input(IDS.of(IDS.READY, MATCH), "data"),
    prevent_initial_call=True,
)
