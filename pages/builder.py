"""The dashboard builder: drag widgets onto a grid, configure them with a live preview, save.

`/builder` starts a new dashboard (`?template=<key>` starts from a template); `/dashboards/<id>/edit`
(pages/dashboard_edit.py) edits a saved one. The draft spec lives in a dcc.Store; widget positions
live in the grid's `layout` and are written into the spec when saving (engine.drafts.apply_layout),
so moving a widget never races a config change. Saves are optimistic: a save based on an older
version is refused with a message and the draft stays as it is.

Its ids, toolbar and shared helpers are in components/builder_page.py, the grid and config panel
callbacks in components/builder_callbacks.py and the toolbar's (save, history...) in
components/builder_save_callbacks.py; importing them below registers the callbacks.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from components.builder import WidgetConfigPanel, WidgetPalette, builder_grid

# Importing the callbacks registers them; their names stay importable from pages.builder.
from components.builder_callbacks import (
    on_config_change,
    on_grid_change,
    on_select,
    update_config_form,
    update_item_labels,
    update_param_controls,
    update_preview,
)
from components.builder_page import (
    CONFIG,
    IDS,
    PALETTE,
    current_principal,
    dashboards,
    message,
    save_as_modal,
    toolbar,
)
from components.builder_save_callbacks import (
    on_clone,
    on_delete,
    on_delete_ask,
    on_history_open,
    on_restore,
    on_save,
    on_save_as,
    on_save_as_open,
)
from engine import drafts
from engine.dashboards import DashboardError
from engine.spec import DashboardSpec
from layouts.features import page_off
from security.policy import AccessDenied, Resource

__all__ = [
    "CONFIG",
    "IDS",
    "PALETTE",
    "layout",
    "on_clone",
    "on_config_change",
    "on_delete",
    "on_delete_ask",
    "on_grid_change",
    "on_history_open",
    "on_restore",
    "on_save",
    "on_save_as",
    "on_save_as_open",
    "on_select",
    "update_config_form",
    "update_item_labels",
    "update_param_controls",
    "update_preview",
]

dash.register_page(
    __name__,
    path="/builder",
    name="Builder",
    title="Builder · Nexpo Reports",
    nav_order=2,
    feature="dashboard_builder",  # ENABLE_DASHBOARD_BUILDER (layouts/features.py)
)


def layout(
    dashboard_id: str | None = None,
    template: str | None = None,
    saved: str | None = None,
    **_params: Any,
) -> html.Div:
    if (off := page_off("dashboard_builder")) is not None:
        return off
    store, principal = dashboards(), current_principal()
    status: Any = None
    try:
        if dashboard_id:
            current = store.get(dashboard_id)
            store.may(principal, "update", current.resource) or _deny(principal, current.resource)
            store.record_view(principal, current.slug)
            spec, meta = current.spec, {"dashboard": current.slug, "version": current.version}
            if saved:
                status = message(f"Saved version {current.version}.", "success")
        else:
            new = Resource("dashboard", None, principal.department, owner_id=principal.id)
            store.may(principal, "create", new) or _deny(principal, new)
            spec = DashboardSpec.model_validate(drafts.new_draft())
            if template:
                source = store.template(template)
                store.may(principal, "read", source.resource) or _deny(principal, source.resource)
                spec = source.spec.model_copy(update={"title": f"{source.name} (my copy)"})
            meta = {"dashboard": None, "version": None}
    except (DashboardError, AccessDenied) as exc:
        return html.Div(
            [
                html.H1("Cannot open the builder", className="h4"),
                html.P(exc.user_message),
                dbc.Button("All dashboards", href="/"),
            ],
            className="py-5 text-center",
            id=IDS.PAGE,
        )
    return html.Div(
        [
            dcc.Location(id=IDS.LOCATION, refresh="callback-nav"),
            dcc.Store(id=IDS.DRAFT, data=spec.model_dump(mode="json")),
            dcc.Store(id=IDS.META, data=meta),
            dcc.Store(id=IDS.SELECTED),
            toolbar(spec, meta),
            html.Div(status, id=IDS.STATUS),
            dbc.Row(
                [
                    dbc.Col(WidgetPalette(PALETTE), md=3, lg=2, className="mb-3"),
                    dbc.Col(
                        html.Div(builder_grid(IDS.GRID, spec), className="builder-canvas"),
                        md=9,
                        lg=7,
                        className="mb-3",
                    ),
                    dbc.Col(WidgetConfigPanel(CONFIG), md=12, lg=3, className="mb-3"),
                ],
                className="g-3",
            ),
            save_as_modal(spec),
            dcc.ConfirmDialog(
                id=IDS.DELETE_CONFIRM,
                message="Delete this dashboard and its version history? This cannot be undone.",
            ),
            dbc.Offcanvas(
                html.Div(id=IDS.HISTORY_LIST),
                id=IDS.HISTORY_PANEL,
                title="Version history",
                placement="end",
                is_open=False,
            ),
        ],
        id=IDS.PAGE,
        className="builder-page",
    )


def _deny(principal: Any, resource: Resource) -> bool:
    action = "create dashboards" if resource.key is None else "edit this dashboard"
    raise AccessDenied(f"Your role ({principal.role}) may not {action}.", "update", resource)
