"""Home: the dashboards and templates the user may open, most recently viewed first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import html
from flask_login import current_user

from engine import services
from engine.dashboards import Dashboards, Openable
from engine.templates import builtin_dashboards
from layouts.features import enabled
from security.policy import Resource

dash.register_page(__name__, path="/", name="Dashboards", title="Nexpo Reports", nav_order=0)


class IDS:
    PAGE = "home-page"
    NEW = "home-new-button"
    LIST = "home-list"


def layout(**_params: str) -> html.Div:
    svc = services.current()
    principal = current_user._get_current_object()
    store = Dashboards(svc.store, audit_enabled=svc.settings.enable_audit_log)
    items = store.openable(principal)
    # The builder's buttons (New, Edit, Use template) follow ENABLE_DASHBOARD_BUILDER.
    may_create = enabled("dashboard_builder") and store.may(
        principal,
        "create",
        Resource("dashboard", None, principal.department, owner_id=principal.id),
    )
    header = html.Div(
        [
            html.H1("Dashboards", className="h4 mb-0"),
            dbc.Button("New dashboard", id=IDS.NEW, href="/builder", color="primary", size="sm")
            if may_create
            else None,
        ],
        className="d-flex align-items-center justify-content-between mb-3",
    )
    if not items:
        body: Any = html.P("Nothing is shared with you yet.", className="text-secondary")
    else:
        body = dbc.Row([_card(item, may_create) for item in items], id=IDS.LIST)
    return html.Div([header, body], id=IDS.PAGE)


def _card(item: Openable, may_create: bool) -> dbc.Col:
    builtin = item.kind == "template" and item.key in builtin_dashboards()
    buttons = []
    if item.kind == "dashboard" or builtin:
        buttons.append(_button("Open", f"/dashboards/{item.key}", "primary"))
    if item.kind == "dashboard" and item.editable and enabled("dashboard_builder"):
        buttons.append(_button("Edit", f"/dashboards/{item.key}/edit", "secondary"))
    if item.kind == "template" and may_create:
        buttons.append(_button("Use template", f"/builder?template={item.key}", "secondary"))
    badge = "Dashboard" if item.kind == "dashboard" else ("Built-in" if builtin else "Template")
    card = dbc.Card(
        dbc.CardBody(
            [
                html.Div(
                    [
                        dbc.Badge(badge, color="light", text_color="secondary"),
                        html.Span(_viewed(item.viewed_at), className="small text-secondary"),
                    ],
                    className="d-flex justify-content-between mb-1",
                ),
                html.H2(item.title, className="h5"),
                html.P(item.description, className="text-secondary small"),
                html.Div(buttons, className="d-flex gap-2"),
            ]
        ),
        className="h-100 shadow-sm",
    )
    return dbc.Col(
        html.Div(card, className="h-100", **{"data-key": item.key}),
        md=6,
        lg=4,
        className="mb-3 home-item",
    )


def _button(label: str, href: str, color: str) -> dbc.Button:
    return dbc.Button(label, href=href, color=color, size="sm", outline=color != "primary")


def _viewed(at: datetime | None, now: datetime | None = None) -> str:
    """ "viewed 5 min ago" and the like; empty when never viewed."""
    if at is None:
        return ""
    seconds = ((now or datetime.now(UTC)) - at).total_seconds()
    if seconds < 60:
        return "viewed just now"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"viewed {int(seconds // size)} {unit} ago"
    return ""
