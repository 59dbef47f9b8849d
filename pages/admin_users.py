"""/admin/users: list users, create one, change a user's role and department, deactivate — admins only.

Every callback checks the policy again (`authorize(..., Resource("user"))`), carries the session's
form token (security/csrf.py; callbacks from another site are already refused by the cross-site
check, this is belt and braces), and audits what it changed (user.create, user.update) or the
denial. Changing a user's role, department or active flag ends their sessions at once.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html
from flask import Flask, render_template_string, request
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from engine import services
from security import audit
from security.csrf import form_token, form_token_ok
from security.policy import AccessDenied, Resource, authorize
from security.users import create_user, end_sessions
from store.models import ROLES, User

dash.register_page(__name__, path="/admin/users", name="Users", title="Users · Nexpo Reports")

MIN_PASSWORD = 10


class IDS:
    PAGE = "admin-users-page"
    CSRF = "admin-users-csrf-store"
    TABLE = "admin-users-table"
    MESSAGE = "admin-users-message-text"
    NEW_USERNAME = "admin-users-new-username-input"
    NEW_PASSWORD = "admin-users-new-password-input"
    NEW_ROLE = "admin-users-new-role-dropdown"
    NEW_DEPARTMENT = "admin-users-new-department-input"
    NEW_NAME = "admin-users-new-name-input"
    NEW_EMAIL = "admin-users-new-email-input"
    CREATE = "admin-users-create-button"
    EDIT_USER = "admin-users-edit-user-dropdown"
    EDIT_ROLE = "admin-users-edit-role-dropdown"
    EDIT_DEPARTMENT = "admin-users-edit-department-input"
    EDIT_ACTIVE = "admin-users-edit-active-switch"
    SAVE = "admin-users-save-button"


def admin_check(action: str, kind: str = "user") -> Any:
    """The signed-in principal when they may take `action` on `kind`; AccessDenied (audited) otherwise."""
    who = current_user._get_current_object()
    try:
        authorize(who, action, Resource(kind))
    except AccessDenied:
        svc = services.current()
        audit.record(
            svc.store,
            principal=who if getattr(who, "is_authenticated", False) else None,
            action=f"{kind}.{action}",
            target=kind,
            outcome="denied",
            ip=request.remote_addr,
            enabled=svc.settings.enable_audit_log,
        )
        raise
    return who


def denied_page(message: str) -> html.Div:
    return html.Div(
        [html.H1("No access", className="h4"), html.P(message)],
        className="py-5 text-center",
        id="admin-denied",
    )


DENIED_HTML = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>No access · Nexpo Reports</title>
<link rel="stylesheet" href="/assets/00-bootstrap.min.css"></head><body class="bg-body-tertiary">
<main class="container py-5 text-center" id="admin-denied"><h1 class="h4">No access</h1><p>{{ message }}</p>
<a class="btn btn-primary" href="/">All dashboards</a></main></body></html>"""


def init_app(server: Flask) -> None:
    """A direct load of an /admin/ page by a non-admin answers 403 (not just a "No access" view)."""

    @server.before_request
    def admin_pages_only_for_admins() -> tuple[str, int] | None:
        if request.method != "GET" or not request.path.startswith("/admin/"):
            return None
        if not current_user.is_authenticated:
            return None  # the session guard sends them to /login
        kind = "audit" if request.path.startswith("/admin/audit") else "user"
        try:
            admin_check("read", kind)
        except AccessDenied as exc:
            return render_template_string(DENIED_HTML, message=exc.user_message), 403
        return None


def users_table(store: Any) -> dbc.Table:
    with store.session() as db:
        users = db.scalars(select(User).order_by(User.username)).all()
        rows = [
            html.Tr(
                [
                    html.Td(u.username),
                    html.Td(u.full_name or ""),
                    html.Td(u.email or ""),
                    html.Td(u.role),
                    html.Td(u.department or "—"),
                    html.Td("active" if u.is_active else "deactivated"),
                    html.Td(f"{u.last_login_at:%Y-%m-%d %H:%M}" if u.last_login_at else "never"),
                ],
                className="" if u.is_active else "text-secondary",
            )
            for u in users
        ]
    head = html.Thead(
        html.Tr(
            [
                html.Th(h)
                for h in (
                    "Username",
                    "Name",
                    "E-mail",
                    "Role",
                    "Department",
                    "Status",
                    "Last login",
                )
            ]
        )
    )
    return dbc.Table([head, html.Tbody(rows)], striped=True, hover=True, size="sm", id=IDS.TABLE)


def user_options(store: Any) -> list[dict[str, Any]]:
    with store.session() as db:
        return [
            {"label": f"{u.username} ({u.role})", "value": u.id}
            for u in db.scalars(select(User).order_by(User.username))
        ]


def layout(**_params: Any) -> html.Div:
    try:
        admin_check("read")
    except AccessDenied as exc:
        return denied_page(exc.user_message)
    store = services.current().store
    role_options = [{"label": r, "value": r} for r in ROLES]
    create = dbc.Card(
        dbc.CardBody(
            [
                html.H2("New user", className="h6"),
                dbc.Input(id=IDS.NEW_USERNAME, placeholder="username", className="mb-2"),
                dbc.Input(
                    id=IDS.NEW_PASSWORD,
                    type="password",
                    placeholder=f"password (at least {MIN_PASSWORD} characters)",
                    className="mb-2",
                    autoComplete="new-password",
                ),
                dcc.Dropdown(
                    id=IDS.NEW_ROLE,
                    options=role_options,
                    value="viewer",
                    clearable=False,
                    className="mb-2",
                ),
                dbc.Input(
                    id=IDS.NEW_DEPARTMENT, placeholder="department (managers)", className="mb-2"
                ),
                dbc.Input(id=IDS.NEW_NAME, placeholder="full name", className="mb-2"),
                dbc.Input(id=IDS.NEW_EMAIL, placeholder="e-mail", type="email", className="mb-2"),
                dbc.Button("Create user", id=IDS.CREATE, color="primary", size="sm"),
            ]
        ),
        className="shadow-sm mb-3",
    )
    edit = dbc.Card(
        dbc.CardBody(
            [
                html.H2("Change a user", className="h6"),
                dcc.Dropdown(id=IDS.EDIT_USER, options=user_options(store), placeholder="user", className="mb-2"),
                dcc.Dropdown(id=IDS.EDIT_ROLE, options=role_options, placeholder="role (unchanged)", className="mb-2"),
                dbc.Input(id=IDS.EDIT_DEPARTMENT, placeholder="department (empty: none)", className="mb-2"),
                dbc.Switch(id=IDS.EDIT_ACTIVE, label="Active", value=True, className="mb-2"),
                dbc.Button("Save", id=IDS.SAVE, color="primary", size="sm"),
            ]
        ),
        className="shadow-sm mb-3",
    )  # fmt: skip
    return html.Div(
        [
            html.H1("Users", className="h4 mb-3"),
            dcc.Store(id=IDS.CSRF, data=form_token()),
            html.Div(id=IDS.MESSAGE, role="status"),
            dbc.Row(
                [
                    dbc.Col(html.Div(users_table(store), id=f"{IDS.TABLE}-wrap"), lg=8),
                    dbc.Col([create, edit], lg=4),
                ]
            ),
        ],
        id=IDS.PAGE,
    )


def _alert(text: str, ok: bool) -> dbc.Alert:
    return dbc.Alert(text, color="success" if ok else "danger", className="py-2")


@callback(
    Output(IDS.MESSAGE, "children", allow_duplicate=True),
    Output(f"{IDS.TABLE}-wrap", "children", allow_duplicate=True),
    Output(IDS.EDIT_USER, "options", allow_duplicate=True),
    Input(IDS.CREATE, "n_clicks"),
    State(IDS.CSRF, "data"),
    State(IDS.NEW_USERNAME, "value"),
    State(IDS.NEW_PASSWORD, "value"),
    State(IDS.NEW_ROLE, "value"),
    State(IDS.NEW_DEPARTMENT, "value"),
    State(IDS.NEW_NAME, "value"),
    State(IDS.NEW_EMAIL, "value"),
    prevent_initial_call=True,
)
def on_create_user(
    _clicks: int | None,
    csrf: str | None,
    username: str | None,
    password: str | None,
    role: str | None,
    department: str | None,
    full_name: str | None,
    email: str | None,
) -> tuple[Any, Any, Any]:
    svc = services.current()
    no = dash.no_update
    if not form_token_ok(csrf):
        return _alert("This form expired. Reload the page.", False), no, no
    try:
        who = admin_check("create")
    except AccessDenied as exc:
        return _alert(exc.user_message, False), no, no
    username = (username or "").strip()
    if not username or len(username) > 80:
        return _alert("Enter a username (at most 80 characters).", False), no, no
    if len(password or "") < MIN_PASSWORD:
        return _alert(f"The password needs at least {MIN_PASSWORD} characters.", False), no, no
    if role not in ROLES:
        return _alert("Choose a role.", False), no, no
    department = (department or "").strip() or None
    if role == "manager" and not department:
        return _alert("A manager needs a department (they see only its rows).", False), no, no
    try:
        created = create_user(
            svc.store,
            username,
            password or "",
            role,
            department=department,
            full_name=(full_name or "").strip() or None,
            email=(email or "").strip() or None,
        )
    except IntegrityError:
        return _alert(f"A user named {username!r} already exists.", False), no, no
    audit.record(
        svc.store,
        principal=who,
        action="user.create",
        target=f"user:{created.username}",
        ip=request.remote_addr,
        detail={"role": role, "department": department},
        enabled=svc.settings.enable_audit_log,
    )
    return (
        _alert(f"Created {created.username} ({role}).", True),
        users_table(svc.store),
        user_options(svc.store),
    )


@callback(
    Output(IDS.EDIT_ROLE, "value"),
    Output(IDS.EDIT_DEPARTMENT, "value"),
    Output(IDS.EDIT_ACTIVE, "value"),
    Input(IDS.EDIT_USER, "value"),
    prevent_initial_call=True,
)
def update_edit_form(user_id: int | None) -> tuple[Any, Any, Any]:
    try:
        admin_check("read")
    except AccessDenied:
        raise dash.exceptions.PreventUpdate from None
    if user_id is None:
        return None, "", True
    if not isinstance(user_id, int) or isinstance(user_id, bool) or not 0 < user_id < 2**63:
        raise dash.exceptions.PreventUpdate  # the dropdown only offers users' ids
    with services.current().store.session() as db:
        user = db.get(User, user_id)
        if user is None:
            raise dash.exceptions.PreventUpdate
        return user.role, user.department or "", user.is_active


@callback(
    Output(IDS.MESSAGE, "children", allow_duplicate=True),
    Output(f"{IDS.TABLE}-wrap", "children", allow_duplicate=True),
    Output(IDS.EDIT_USER, "options", allow_duplicate=True),
    Input(IDS.SAVE, "n_clicks"),
    State(IDS.CSRF, "data"),
    State(IDS.EDIT_USER, "value"),
    State(IDS.EDIT_ROLE, "value"),
    State(IDS.EDIT_DEPARTMENT, "value"),
    State(IDS.EDIT_ACTIVE, "value"),
    prevent_initial_call=True,
)
def on_save_user(
    _clicks: int | None,
    csrf: str | None,
    user_id: int | None,
    role: str | None,
    department: str | None,
    active: bool | None,
) -> tuple[Any, Any, Any]:
    svc = services.current()
    no = dash.no_update
    if not form_token_ok(csrf):
        return _alert("This form expired. Reload the page.", False), no, no
    try:
        who = admin_check("update")
    except AccessDenied as exc:
        return _alert(exc.user_message, False), no, no
    if user_id is None:
        return _alert("Choose a user.", False), no, no
    department = (department or "").strip() or None
    with svc.store.session() as db:
        user = db.get(User, user_id)
        if user is None:
            return _alert("No such user.", False), no, no
        new_role = role if role in ROLES else user.role
        if new_role == "manager" and not department:
            return _alert("A manager needs a department.", False), no, no
        if user.id == who.id and (new_role != "admin" or not active):
            return (
                _alert("You cannot remove your own admin role or deactivate yourself.", False),
                no,
                no,
            )
        before = {"role": user.role, "department": user.department, "active": user.is_active}
        user.role, user.department, user.is_active = new_role, department, bool(active)
        after = {"role": user.role, "department": user.department, "active": user.is_active}
        name, changed_id = user.username, user.id
    if after != before:  # the old role's (or a deactivated user's) cookies must stop working
        end_sessions(svc.store, changed_id)
    audit.record(
        svc.store,
        principal=who,
        action="user.update",
        target=f"user:{name}",
        ip=request.remote_addr,
        detail={"before": before, "after": after},
        enabled=svc.settings.enable_audit_log,
    )
    return _alert(f"Saved {name}.", True), users_table(svc.store), user_options(svc.store)
