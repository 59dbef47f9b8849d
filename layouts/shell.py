"""The app shell: a navbar built from the page registry, the signed-in user, and the page container."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import html
from flask_login import current_user


class IDS:
    NAVBAR = "shell-navbar"
    USER = "shell-user-text"


def _nav_links() -> list[dbc.NavItem]:
    pages = [p for p in dash.page_registry.values() if p.get("nav_order") is not None]
    pages.sort(key=lambda p: p["nav_order"])
    return [
        dbc.NavItem(
            dbc.NavLink(
                p["name"],
                href=p["relative_path"],
                active="partial" if p["path"] != "/" else "exact",
            )
        )
        for p in pages
    ]


def shell() -> html.Div:
    """Evaluated per request, so the navbar shows who is signed in."""
    user = current_user if current_user and current_user.is_authenticated else None
    right = []
    if user is not None:
        right = [
            html.Span(
                [html.Strong(user.username), f" · {user.role}"],
                id=IDS.USER,
                className="navbar-text me-3 small",
            ),
            html.A("Sign out", href="/logout", className="btn btn-outline-light btn-sm"),
        ]
    navbar = dbc.Navbar(
        dbc.Container(
            [
                html.A(
                    [html.Span("◆", className="brand-mark me-2"), "Nexpo Reports"],
                    href="/",
                    className="navbar-brand fw-semibold",
                ),
                dbc.Nav(_nav_links(), navbar=True, className="me-auto"),
                html.Div(right, className="d-flex align-items-center"),
            ],
            fluid=True,
        ),
        id=IDS.NAVBAR,
        color="dark",
        dark=True,
        className="mb-3 shadow-sm",
    )
    return html.Div([navbar, dbc.Container(dash.page_container, fluid=True, className="pb-5")])
