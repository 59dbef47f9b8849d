"""The chrome-less embed shell: one dashboard for an iframe — no navbar, no links into the app."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.widgets import widget_card
from engine.periods import PERIOD_DAYS
from engine.spec import DashboardSpec


class IDS:
    PAGE = "embed-page"
    STATE = "embed-state-store"
    PERIOD = "embed-period-radio"
    WINDOW = "embed-window-text"
    FRESHNESS = "embed-freshness-text"
    ERROR = "embed-error"

    @staticmethod
    def body(widget_id: str) -> dict[str, str]:
        return {"type": "embed-widget-body", "widget": widget_id}


def embed_shell(
    spec: DashboardSpec,
    token: str,
    period: str,
    *,
    locked: bool,
    window_text: str,
    freshness: str = "",
) -> html.Div:
    """The embedded dashboard. The store carries the token: every callback re-verifies it.
    `freshness` says up to when the data is loaded ("Data up to …")."""
    controls = []
    if not locked:
        controls = [
            dbc.RadioItems(
                id=IDS.PERIOD,
                options=[{"label": p, "value": p} for p in PERIOD_DAYS],
                value=period,
                inline=True,
                className="btn-group btn-group-sm",
                inputClassName="btn-check",
                labelClassName="btn btn-outline-primary",
                labelCheckedClassName="active",
            )
        ]
    header = html.Div(
        [
            html.Div(
                [
                    html.H1(spec.title, className="h5 mb-0"),
                    html.Div(window_text, id=IDS.WINDOW, className="small text-secondary"),
                    html.Div(freshness, id=IDS.FRESHNESS, className="small text-secondary"),
                ]
            ),
            html.Div(controls, className="ms-auto"),
        ],
        className="d-flex flex-wrap align-items-end dashboard-toolbar mb-3",
    )
    return html.Div(
        [
            header,
            dcc.Store(id=IDS.STATE, data={"token": token, "period": period}),
            *_grid(spec),
            html.Div("Nexpo Reports", className="small text-secondary text-end"),
        ],
        id=IDS.PAGE,
        className="container-fluid py-3",
    )


def embed_error(message: str) -> html.Div:
    return html.Div(
        [html.H1("Cannot show this dashboard", className="h5"), html.P(message)],
        id=IDS.ERROR,
        className="container py-5 text-center",
        role="alert",
    )


def _grid(spec: DashboardSpec) -> list[dbc.Row]:
    rows: dict[int, list[dbc.Col]] = {}
    for widget in sorted(spec.widgets, key=lambda w: (w.position.y, w.position.x)):
        body = dcc.Loading(
            html.Div(id=IDS.body(widget.id), className="widget-body"), type="dot", delay_show=150
        )
        rows.setdefault(widget.position.y, []).append(
            dbc.Col(
                widget_card(widget.id, widget.title, body, card=widget.type == "metric_card"),
                xs=12,
                md=max(widget.position.w, 6),
                lg=widget.position.w,
                className="mb-3",
            )
        )
    return [dbc.Row(cols) for _, cols in sorted(rows.items())]
