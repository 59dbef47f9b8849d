"""A live dashboard: period selector in the URL, each widget loading and failing on its own."""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import MATCH, Input, Output, State, callback, dcc, html
from flask import request
from flask_login import current_user

from components.widgets import widget_body, widget_card
from engine import services
from engine.generate import authorize_spec, generate_widget
from engine.periods import PERIOD_DAYS, PeriodError, resolve
from engine.templates import builtin_dashboards
from security import audit
from security.policy import AccessDenied

dash.register_page(
    __name__,
    path_template="/dashboards/<dashboard_id>",
    name="Dashboard",
    title="Dashboard · Nexpo Reports",
)


class IDS:
    STATE = "dashboard-state-store"
    WINDOW = "dashboard-window-text"
    PERIOD = "dashboard-period-buttons"
    REFRESH = "dashboard-refresh-button"

    @staticmethod
    def body(widget_id: str) -> dict[str, str]:
        return {"type": "widget-body", "widget": widget_id}


def layout(dashboard_id: str | None = None, period: str | None = None, **_params: Any) -> html.Div:
    spec = builtin_dashboards().get(dashboard_id or "")
    if spec is None:
        return html.Div(
            [
                html.H1("Dashboard not found", className="h4"),
                dbc.Button("All dashboards", href="/"),
            ],
            className="py-5 text-center",
        )
    period = period if period in PERIOD_DAYS else spec.default_period
    tz = services.current().settings.report_timezone
    try:
        selected = resolve(period, tz)
    except PeriodError as exc:
        return html.Div(str(exc), className="alert alert-warning")
    svc = services.current()
    principal = current_user._get_current_object()
    try:
        window = authorize_spec(spec, selected, principal)
    except AccessDenied as exc:
        audit.record(
            svc.store,
            principal=principal,
            action="dashboard.view",
            target=spec.key,
            outcome="denied",
            ip=request.remote_addr,
            enabled=svc.settings.enable_audit_log,
        )
        return html.Div(
            [html.H1("No access", className="h4"), html.P(exc.user_message)],
            className="py-5 text-center",
            id="dashboard-denied",
        )
    audit.record(
        svc.store,
        principal=principal,
        action="dashboard.view",
        target=spec.key,
        ip=request.remote_addr,
        detail={"period": period},
        enabled=svc.settings.enable_audit_log,
    )
    window_text = f"{window.label()} · {tz}"
    if window != selected:
        window_text += f" · limited to {window.days} days for your role"
    buttons = dbc.ButtonGroup(
        [
            dbc.Button(
                p,
                href=f"/dashboards/{spec.key}?period={p}",
                outline=p != period,
                color="primary",
                size="sm",
                id={"type": IDS.PERIOD, "period": p},
            )
            for p in PERIOD_DAYS
        ]
    )
    toolbar = html.Div(
        [
            html.Div(
                [
                    html.H1(spec.title, className="h4 mb-0"),
                    html.Div(window_text, id=IDS.WINDOW, className="small text-secondary"),
                ]
            ),
            html.Div(
                [
                    buttons,
                    dbc.Button(
                        "Refresh",
                        id=IDS.REFRESH,
                        color="secondary",
                        outline=True,
                        size="sm",
                        className="ms-2",
                    ),
                ],
                className="ms-auto d-flex align-items-center",
            ),
        ],
        className="d-flex flex-wrap align-items-end dashboard-toolbar mb-3",
    )
    return html.Div(
        [toolbar, dcc.Store(id=IDS.STATE, data={"key": spec.key, "period": period}), *_grid(spec)],
        id="dashboard-page",
    )


def _grid(spec: Any) -> list[dbc.Row]:
    rows: dict[int, list[Any]] = {}
    for widget in sorted(spec.widgets, key=lambda w: (w.position.y, w.position.x)):
        body = dcc.Loading(
            html.Div(id=IDS.body(widget.id), className="widget-body"), type="dot", delay_show=150
        )
        col = dbc.Col(
            widget_card(widget.id, widget.title, body, card=widget.type == "metric_card"),
            xs=12,
            md=max(widget.position.w, 6),
            lg=widget.position.w,
            className="mb-3",
        )
        rows.setdefault(widget.position.y, []).append(col)
    return [dbc.Row(cols) for _, cols in sorted(rows.items())]


@callback(
    Output(IDS.body(MATCH), "children"),
    Input(IDS.STATE, "data"),
    Input(IDS.REFRESH, "n_clicks"),
    State(IDS.body(MATCH), "id"),
)
def update_widget(
    state: dict[str, str], refresh_clicks: int | None, body_id: dict[str, str]
) -> html.Div:
    svc = services.current()
    spec = builtin_dashboards()[state["key"]]
    window = resolve(state["period"], svc.settings.report_timezone)
    refresh = dash.ctx.triggered_id == IDS.REFRESH
    try:
        result = generate_widget(
            spec,
            body_id["widget"],
            window,
            current_user._get_current_object(),
            svc,
            refresh=refresh,
        )
    except AccessDenied as exc:
        return html.Div(exc.user_message, className="widget-error", role="alert")
    return widget_body(result, svc.settings.report_currency)
