"""/admin/audit: the audit log with filters (who, action, outcome, target, address, dates) — admins only."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html

from engine import services
from pages.admin_users import admin_check, denied_page
from security.audit import OUTCOMES, AuditPage, query
from security.policy import AccessDenied

dash.register_page(
    __name__, path="/admin/audit", name="Audit log", title="Audit log · Nexpo Reports"
)

PER_PAGE = 50


class IDS:
    PAGE = "admin-audit-page"
    USERNAME = "admin-audit-username-input"
    ACTION = "admin-audit-action-input"
    OUTCOME = "admin-audit-outcome-dropdown"
    TARGET = "admin-audit-target-input"
    IP = "admin-audit-ip-input"
    DATES = "admin-audit-dates-picker"
    PAGE_NUMBER = "admin-audit-page-input"
    APPLY = "admin-audit-apply-button"
    RESULT = "admin-audit-result-div"


def layout(**_params: Any) -> html.Div:
    try:
        admin_check("read", "audit")
    except AccessDenied as exc:
        return denied_page(exc.user_message)
    filters = dbc.Row(
        [
            dbc.Col(dbc.Input(id=IDS.USERNAME, placeholder="user"), md=2),
            dbc.Col(dbc.Input(id=IDS.ACTION, placeholder="action (embed. = all embed.*)"), md=2),
            dbc.Col(
                dcc.Dropdown(
                    id=IDS.OUTCOME,
                    options=[{"label": o, "value": o} for o in OUTCOMES],
                    placeholder="outcome",
                ),
                md=2,
            ),
            dbc.Col(dbc.Input(id=IDS.TARGET, placeholder="target"), md=2),
            dbc.Col(dbc.Input(id=IDS.IP, placeholder="IP address"), md=1),
            dbc.Col(dcc.DatePickerRange(id=IDS.DATES, display_format="YYYY-MM-DD"), md=2),
            dbc.Col(dbc.Input(id=IDS.PAGE_NUMBER, type="number", min=1, value=1, step=1), md=1),
        ],
        className="g-2 mb-2",
    )
    return html.Div(
        [
            html.H1("Audit log", className="h4 mb-3"),
            filters,
            dbc.Button("Apply", id=IDS.APPLY, color="primary", size="sm", className="mb-3"),
            dcc.Loading(html.Div(id=IDS.RESULT)),
        ],
        id=IDS.PAGE,
    )


def _day(value: str | None, *, end: bool = False) -> datetime | None:
    if not value:
        return None
    day = date.fromisoformat(value[:10]) + (timedelta(days=1) if end else timedelta())
    return datetime.combine(day, time(), tzinfo=UTC)


def audit_table(page: AuditPage) -> html.Div:
    head = html.Thead(
        html.Tr(
            [
                html.Th(h)
                for h in ("When (UTC)", "User", "Action", "Target", "Outcome", "From", "Detail")
            ]
        )
    )
    rows = [
        html.Tr(
            [
                html.Td(f"{e.at:%Y-%m-%d %H:%M:%S}"),
                html.Td(e.username or "—"),
                html.Td(e.action),
                html.Td(e.target or ""),
                html.Td(e.outcome, className="text-danger" if e.outcome != "ok" else None),
                html.Td(e.ip or ""),
                html.Td(", ".join(f"{k}={v}" for k, v in e.detail.items()), className="small"),
            ]
        )
        for e in page.items
    ]
    return html.Div(
        [
            html.P(f"{page.total} entries · page {page.page} of {page.pages}", className="small text-secondary"),
            dbc.Table([head, html.Tbody(rows)], striped=True, size="sm", id="admin-audit-table"),
        ]
    )  # fmt: skip


@callback(
    Output(IDS.RESULT, "children"),
    Input(IDS.APPLY, "n_clicks"),
    State(IDS.USERNAME, "value"),
    State(IDS.ACTION, "value"),
    State(IDS.OUTCOME, "value"),
    State(IDS.TARGET, "value"),
    State(IDS.IP, "value"),
    State(IDS.DATES, "start_date"),
    State(IDS.DATES, "end_date"),
    State(IDS.PAGE_NUMBER, "value"),
)
def update_audit_result(
    _clicks: int | None,
    username: str | None,
    action: str | None,
    outcome: str | None,
    target: str | None,
    ip: str | None,
    start: str | None,
    end: str | None,
    page: int | None,
) -> html.Div:
    try:
        admin_check("read", "audit")
    except AccessDenied as exc:
        return html.Div(exc.user_message, className="widget-error", role="alert")
    try:
        found = query(
            services.current().store,
            username=(username or "").strip() or None,
            action=(action or "").strip() or None,
            outcome=outcome if outcome in OUTCOMES else None,
            target=(target or "").strip() or None,
            ip=(ip or "").strip() or None,
            since=_day(start),
            until=_day(end, end=True),
            page=int(page or 1),
            per_page=PER_PAGE,
        )
    except ValueError:
        return html.Div("Check the dates and the page number.", className="widget-error")
    return audit_table(found)
