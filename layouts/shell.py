"""The app shell: a navbar built from the page registry, the signed-in user, and the page container."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import html
from flask_login import current_user

from engine.templates import builtin_dashboards
from layouts.features import page_offered
from security.policy import AccessDenied, Resource, authorize


class IDS:
    NAVBAR = "shell-navbar"
    USER = "shell-user-text"


# Pages a role may not use are not offered in its navbar (the pages check access themselves too).
NAV_ACTION = {"/builder": ("create", "dashboard"), "/schedules": ("schedule", "template")}


def _may_use(path: str, user: object | None) -> bool:
    if path not in NAV_ACTION or user is None:
        return True
    action, kind = NAV_ACTION[path]
    # Scheduling is offered when the role may schedule some built-in report; building, when it
    # may create a dashboard of its own.
    if kind == "template":
        resources = [Resource.template(key) for key in builtin_dashboards()]
    else:
        department, owner = getattr(user, "department", None), getattr(user, "id", None)
        resources = [Resource(kind, None, department=department, owner_id=owner)]
    for resource in resources:
        try:
            authorize(user, action, resource)
        except AccessDenied:
            continue
        return True
    return False


def _nav_links(user: object | None = None) -> list[dbc.NavItem]:
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
        if page_offered(p) and _may_use(p["path"], user)
    ]


def _account_links(user: object) -> list[html.A]:
    links = [("Account", "/account")]
    if getattr(user, "role", None) == "admin":
        links = [("Users", "/admin/users"), ("Audit log", "/admin/audit"), *links]
    return [
        html.A(label, href=href, className="nav-link link-light link-opacity-75 px-2 small")
        for label, href in links
    ]


def shell() -> html.Div:
    """Evaluated per request, so the navbar shows who is signed in."""
    user = current_user if current_user and current_user.is_authenticated else None
    right = []
    if user is not None:
        right = [
            *_account_links(user),
            html.Span(
                [html.Strong(user.username), f" · {user.role}"],
                id=IDS.USER,
                className="navbar-text ms-2 me-3 small",
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
                dbc.Nav(_nav_links(user), navbar=True, className="me-auto"),
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
