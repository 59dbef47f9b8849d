"""/account: the signed-in user's API tokens — create (shown once), list, revoke."""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html
from flask import request
from flask_login import current_user

from engine import services
from security import audit, tokens
from security.csrf import form_token, form_token_ok

dash.register_page(__name__, path="/account", name="Account", title="Account · Nexpo Reports")


class IDS:
    PAGE = "account-page"
    CSRF = "account-csrf-store"
    NAME = "account-token-name-input"
    CREATE = "account-token-create-button"
    NEW = "account-token-new-div"
    LIST = "account-token-list-div"
    REVOKE = "account-token-revoke-dropdown"
    REVOKE_BUTTON = "account-token-revoke-button"
    MESSAGE = "account-token-message-div"


def token_table(user_id: int) -> dbc.Table:
    rows = [
        html.Tr(
            [
                html.Td(t.name),
                html.Td(html.Code(t.prefix + "…")),
                html.Td(f"{t.created_at:%Y-%m-%d %H:%M}"),
                html.Td(f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"),
                html.Td("active" if t.active else f"revoked {t.revoked_at:%Y-%m-%d}"),
            ],
            className="" if t.active else "text-secondary",
        )
        for t in tokens.list_tokens(services.current().store, user_id)
    ]
    head = html.Thead(
        html.Tr([html.Th(h) for h in ("Name", "Token", "Created", "Last used", "Status")])
    )
    return dbc.Table([head, html.Tbody(rows)], size="sm", striped=True, id="account-token-table")


def revoke_options(user_id: int) -> list[dict[str, Any]]:
    return [
        {"label": f"{t.name} ({t.prefix}…)", "value": t.id}
        for t in tokens.list_tokens(services.current().store, user_id)
        if t.active
    ]


def layout(**_params: Any) -> html.Div:
    user = current_user._get_current_object()
    return html.Div(
        [
            html.H1("Account", className="h4 mb-1"),
            html.P(
                f"{user.username} · {user.role}"
                + (f" · {user.department}" if user.department else ""),
                className="text-secondary",
            ),
            dcc.Store(id=IDS.CSRF, data=form_token()),
            html.H2("API tokens", className="h5 mt-4"),
            html.P(
                "Scripts call the API with 'Authorization: Bearer <token>'. A token acts as you, "
                "with your role. It is shown once, when you create it.",
                className="small text-secondary",
            ),
            dbc.InputGroup(
                [
                    dbc.Input(id=IDS.NAME, placeholder="What is it for? (e.g. nightly sync)", maxLength=120),
                    dbc.Button("Create token", id=IDS.CREATE, color="primary"),
                ],
                className="mb-3",
                style={"maxWidth": "560px"},
            ),
            html.Div(id=IDS.NEW),
            html.Div(token_table(user.id), id=IDS.LIST),
            dbc.InputGroup(
                [
                    dcc.Dropdown(id=IDS.REVOKE, options=revoke_options(user.id), placeholder="token to revoke", style={"minWidth": "320px"}),
                    dbc.Button("Revoke", id=IDS.REVOKE_BUTTON, color="danger", outline=True),
                ],
                className="mb-2",
            ),
            html.Div(id=IDS.MESSAGE, role="status"),
        ],
        id=IDS.PAGE,
    )  # fmt: skip


def _audit(action: str, target: str, detail: dict[str, Any]) -> None:
    svc = services.current()
    audit.record(
        svc.store,
        principal=current_user._get_current_object(),
        action=action,
        target=target,
        ip=request.remote_addr,
        detail={"via": "ui", **detail},
        enabled=svc.settings.enable_audit_log,
    )


@callback(
    Output(IDS.NEW, "children"),
    Output(IDS.LIST, "children", allow_duplicate=True),
    Output(IDS.REVOKE, "options", allow_duplicate=True),
    Input(IDS.CREATE, "n_clicks"),
    State(IDS.CSRF, "data"),
    State(IDS.NAME, "value"),
    prevent_initial_call=True,
)
def on_create_token(
    _clicks: int | None, csrf: str | None, name: str | None
) -> tuple[Any, Any, Any]:
    if not form_token_ok(csrf):
        return (
            dbc.Alert("This form expired. Reload the page.", color="danger"),
            dash.no_update,
            dash.no_update,
        )
    user = current_user._get_current_object()
    plaintext, row = tokens.issue(services.current().store, user.id, name or "API token")
    _audit("token.issue", f"api_token:{row.id}", {"name": row.name})
    shown = dbc.Alert(
        [
            html.Strong("Copy your new token now — it will not be shown again: "),
            html.Code(plaintext, id="account-token-secret", className="user-select-all"),
        ],
        color="success",
    )
    return shown, token_table(user.id), revoke_options(user.id)


@callback(
    Output(IDS.MESSAGE, "children"),
    Output(IDS.LIST, "children", allow_duplicate=True),
    Output(IDS.REVOKE, "options", allow_duplicate=True),
    Input(IDS.REVOKE_BUTTON, "n_clicks"),
    State(IDS.CSRF, "data"),
    State(IDS.REVOKE, "value"),
    prevent_initial_call=True,
)
def on_revoke_token(
    _clicks: int | None, csrf: str | None, token_id: int | None
) -> tuple[Any, Any, Any]:
    no = dash.no_update
    if not form_token_ok(csrf):
        return dbc.Alert("This form expired. Reload the page.", color="danger"), no, no
    if token_id is None:
        return dbc.Alert("Choose a token.", color="warning"), no, no
    user = current_user._get_current_object()
    try:
        tokens.revoke(services.current().store, int(token_id), user)
    except (tokens.TokenNotFound, ValueError):
        return dbc.Alert(tokens.TokenNotFound.user_message, color="danger"), no, no
    _audit("token.revoke", f"api_token:{token_id}", {})
    return dbc.Alert("Revoked.", color="success"), token_table(user.id), revoke_options(user.id)
