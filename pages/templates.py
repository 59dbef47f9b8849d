"""Templates: the built-in and saved dashboard templates; create one from a dashboard, edit, delete,
clone. Built-ins can be cloned (into an editable copy) but not edited or deleted."""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update
from flask_login import current_user

from engine import services
from engine.dashboards import DashboardError, Dashboards, TemplateInfo
from layouts.features import enabled
from security.policy import AccessDenied, Resource

dash.register_page(
    __name__, path="/templates", name="Templates", title="Templates · Nexpo Reports", nav_order=3
)


class IDS:
    PAGE = "templates-page"
    LIST = "templates-list"
    STATUS = "templates-status-alert"
    SOURCE = "templates-source-dropdown"
    NAME = "templates-name-input"
    CREATE = "templates-create-button"
    EDIT_MODAL = "templates-edit-modal"
    EDIT_KEY = "templates-edit-key-store"
    EDIT_NAME = "templates-edit-name-input"
    EDIT_DESCRIPTION = "templates-edit-description-input"
    EDIT_SAVE = "templates-edit-save-button"
    DELETE_MODAL = "templates-delete-modal"
    DELETE_KEY = "templates-delete-key-store"
    DELETE_TEXT = "templates-delete-text"
    DELETE_CONFIRM = "templates-delete-confirm-button"

    @staticmethod
    def action(action: str | Any, key: str | Any) -> dict[str, Any]:
        return {"type": "templates-action-button", "action": action, "key": key}


def _store() -> Dashboards:
    svc = services.current()
    return Dashboards(svc.store, audit_enabled=svc.settings.enable_audit_log)


def _principal() -> Any:
    return current_user._get_current_object()


def _message(text: str, color: str = "danger") -> dbc.Alert:
    return dbc.Alert(text, color=color, dismissable=True, className="py-2")


def _may_create(store: Dashboards, principal: Any, feature: str = "custom_reports") -> bool:
    """Creating, cloning, editing and deleting templates are custom reports (ENABLE_CUSTOM_REPORTS);
    "Use" opens the builder (`feature="dashboard_builder"`, ENABLE_DASHBOARD_BUILDER)."""
    return enabled(feature) and store.may(
        principal, "create", Resource("template", None, principal.department, principal.id)
    )


def layout(**_params: Any) -> html.Div:
    store, principal = _store(), _principal()
    may_create = _may_create(store, principal)
    sources = [{"label": d.title, "value": d.slug} for d in store.readable(principal)]
    create = dbc.Card(
        dbc.CardBody(
            [
                html.H2("New template from a dashboard", className="h6"),
                dbc.Row(
                    [
                        dbc.Col(
                            dcc.Dropdown(
                                id=IDS.SOURCE, options=sources, placeholder="Choose a dashboard"
                            ),
                            md=5,
                        ),
                        dbc.Col(dbc.Input(id=IDS.NAME, placeholder="Template name"), md=4),
                        dbc.Col(
                            dbc.Button("Create template", id=IDS.CREATE, color="primary"), md=3
                        ),
                    ],
                    className="g-2",
                ),
            ]
        ),
        className="mb-3 shadow-sm",
    )
    return html.Div(
        [
            html.H1("Templates", className="h4 mb-3"),
            create if may_create else None,
            html.Div(id=IDS.STATUS),
            html.Div(_cards(store, principal), id=IDS.LIST),
            _edit_modal(),
            _delete_modal(),
        ],
        id=IDS.PAGE,
    )


def _cards(store: Dashboards, principal: Any) -> dbc.Row:
    may_create = _may_create(store, principal)
    may_use = _may_create(store, principal, "dashboard_builder")
    may_edit = enabled("custom_reports")
    return dbc.Row(
        [
            _card(t, may_create, may_edit and store.may(principal, "update", t.resource), may_use)
            for t in store.templates(principal)
        ]
    )


def _card(
    template: TemplateInfo, may_create: bool, may_edit: bool, may_use: bool = False
) -> dbc.Col:
    key = template.key
    buttons: list[Any] = []
    if template.builtin:
        buttons.append(dbc.Button("Open", href=f"/dashboards/{key}", size="sm", color="primary"))
    if may_use:
        buttons.append(
            dbc.Button(
                "Use", href=f"/builder?template={key}", size="sm", outline=True, color="primary"
            )
        )
    if may_create:
        buttons.append(_action("Clone", "clone", key, "secondary"))
    if not template.builtin and may_edit:
        buttons += [
            _action("Edit", "edit", key, "secondary"),
            _action("Delete", "delete", key, "danger"),
        ]
    card = dbc.Card(
        dbc.CardBody(
            [
                html.Div(
                    [
                        dbc.Badge(
                            "Built-in" if template.builtin else "Saved",
                            color="light",
                            text_color="primary" if template.builtin else "secondary",
                        ),
                        html.Span(
                            f"{len(template.spec.widgets)} widgets",
                            className="small text-secondary",
                        ),
                    ],
                    className="d-flex justify-content-between mb-1",
                ),
                html.H2(template.name, className="h5"),
                html.P(template.description, className="text-secondary small"),
                html.Div(buttons, className="d-flex flex-wrap gap-2"),
            ]
        ),
        className="h-100 shadow-sm template-card",
    )
    return dbc.Col(
        html.Div(card, className="h-100", **{"data-key": key}),
        md=6,
        lg=4,
        className="mb-3",
    )


def _action(label: str, action: str, key: str, color: str) -> dbc.Button:
    return dbc.Button(label, id=IDS.action(action, key), size="sm", outline=True, color=color)


def _edit_modal() -> dbc.Modal:
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle("Edit template")),
            dbc.ModalBody(
                [
                    dcc.Store(id=IDS.EDIT_KEY),
                    dbc.Label("Name", html_for=IDS.EDIT_NAME),
                    dbc.Input(id=IDS.EDIT_NAME, className="mb-2"),
                    dbc.Label("Description", html_for=IDS.EDIT_DESCRIPTION),
                    dbc.Textarea(id=IDS.EDIT_DESCRIPTION, rows=3),
                    html.P(
                        "To change its widgets, use it in the builder, save the dashboard, and "
                        "create a new template from it.",
                        className="small text-secondary mt-2 mb-0",
                    ),
                ]
            ),
            dbc.ModalFooter(dbc.Button("Save", id=IDS.EDIT_SAVE, color="primary")),
        ],
        id=IDS.EDIT_MODAL,
        is_open=False,
    )


def _delete_modal() -> dbc.Modal:
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle("Delete template")),
            dbc.ModalBody([dcc.Store(id=IDS.DELETE_KEY), html.P(id=IDS.DELETE_TEXT)]),
            dbc.ModalFooter(dbc.Button("Delete", id=IDS.DELETE_CONFIRM, color="danger")),
        ],
        id=IDS.DELETE_MODAL,
        is_open=False,
    )


@callback(
    Output(IDS.LIST, "children", allow_duplicate=True),
    Output(IDS.STATUS, "children", allow_duplicate=True),
    Input(IDS.CREATE, "n_clicks"),
    State(IDS.SOURCE, "value"),
    State(IDS.NAME, "value"),
    prevent_initial_call=True,
)
def on_create(_clicks: int, source: str | None, name: str | None) -> tuple[Any, Any]:
    if not source:
        return no_update, _message("Choose a dashboard to make the template from.", "warning")
    store, principal = _store(), _principal()
    try:
        made = store.create_template(source, principal, name=name or "")
    except (DashboardError, AccessDenied) as exc:
        return no_update, _message(exc.user_message)
    return _cards(store, principal), _message(f"Template “{made.name}” created.", "success")


@callback(
    Output(IDS.LIST, "children", allow_duplicate=True),
    Output(IDS.STATUS, "children", allow_duplicate=True),
    Output(IDS.EDIT_MODAL, "is_open"),
    Output(IDS.EDIT_KEY, "data"),
    Output(IDS.EDIT_NAME, "value"),
    Output(IDS.EDIT_DESCRIPTION, "value"),
    Output(IDS.DELETE_MODAL, "is_open"),
    Output(IDS.DELETE_KEY, "data"),
    Output(IDS.DELETE_TEXT, "children"),
    Input(IDS.action(ALL, ALL), "n_clicks"),
    prevent_initial_call=True,
)
def on_action(clicks: list[int | None]) -> tuple[Any, ...]:
    if not any(clicks):
        return (no_update,) * 9
    action, key = ctx.triggered_id["action"], ctx.triggered_id["key"]
    store, principal = _store(), _principal()
    unchanged = (no_update,) * 7
    try:
        if action == "clone":
            made = store.clone_template(key, principal)
            text = f"Cloned as “{made.name}”: edit or use it below."
            return _cards(store, principal), _message(text, "success"), *unchanged
        template = store.template(key)
    except (DashboardError, AccessDenied) as exc:
        return no_update, _message(exc.user_message), *unchanged
    if action == "edit":
        edit = (True, key, template.name, template.description)
        return no_update, None, *edit, no_update, no_update, no_update
    text = f"Delete the template “{template.name}”? Dashboards made from it stay."
    return no_update, None, *(no_update,) * 4, True, key, text


@callback(
    Output(IDS.LIST, "children", allow_duplicate=True),
    Output(IDS.STATUS, "children", allow_duplicate=True),
    Output(IDS.EDIT_MODAL, "is_open", allow_duplicate=True),
    Input(IDS.EDIT_SAVE, "n_clicks"),
    State(IDS.EDIT_KEY, "data"),
    State(IDS.EDIT_NAME, "value"),
    State(IDS.EDIT_DESCRIPTION, "value"),
    prevent_initial_call=True,
)
def on_edit_save(_clicks: int, key: str, name: str, description: str) -> tuple[Any, Any, bool]:
    store, principal = _store(), _principal()
    try:
        saved = store.update_template(key, principal, name=name, description=description or "")
    except (DashboardError, AccessDenied) as exc:
        return no_update, _message(exc.user_message), False
    return _cards(store, principal), _message(f"Template “{saved.name}” saved.", "success"), False


@callback(
    Output(IDS.LIST, "children", allow_duplicate=True),
    Output(IDS.STATUS, "children", allow_duplicate=True),
    Output(IDS.DELETE_MODAL, "is_open", allow_duplicate=True),
    Input(IDS.DELETE_CONFIRM, "n_clicks"),
    State(IDS.DELETE_KEY, "data"),
    prevent_initial_call=True,
)
def on_delete(_clicks: int, key: str) -> tuple[Any, Any, bool]:
    store, principal = _store(), _principal()
    try:
        store.delete_template(key, principal)
    except (DashboardError, AccessDenied) as exc:
        return no_update, _message(exc.user_message), False
    return _cards(store, principal), _message("Template deleted.", "success"), False
