"""The builder page's ids, toolbar and save-as dialog, and the helpers its layout and callbacks share:
the dashboards store, the signed-in user, a status message and the draft as a save stores it."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import html
from flask_login import current_user

from components.builder import widget_of_item
from engine import drafts, services
from engine.dashboards import Dashboards
from engine.spec import DashboardSpec

PALETTE = "builder-palette"
CONFIG = "builder-config"


class IDS:
    PAGE = "builder-page"
    DRAFT = "builder-draft-store"
    META = "builder-meta-store"
    SELECTED = "builder-selected-store"
    GRID = "builder-grid"
    TITLE = "builder-title-input"
    VERSION = "builder-version-badge"
    STATUS = "builder-status-alert"
    SAVE = "builder-save-button"
    SAVE_AS = "builder-save-as-button"
    SAVE_AS_MODAL = "builder-save-as-modal"
    SAVE_AS_TITLE = "builder-save-as-input"
    SAVE_AS_CONFIRM = "builder-save-as-confirm-button"
    CLONE = "builder-clone-button"
    DELETE = "builder-delete-button"
    DELETE_CONFIRM = "builder-delete-confirm"
    HISTORY = "builder-history-button"
    HISTORY_PANEL = "builder-history-offcanvas"
    HISTORY_LIST = "builder-history-list"
    LOCATION = "builder-location"

    @staticmethod
    def restore(version: int | Any) -> dict[str, Any]:
        return {"type": "builder-restore-button", "version": version}

    @staticmethod
    def item_select(widget_id: str | Any) -> dict[str, Any]:
        return {"type": "builder-item-select", "widget": widget_id}

    @staticmethod
    def item_remove(widget_id: str | Any) -> dict[str, Any]:
        return {"type": "builder-item-remove", "widget": widget_id}


def dashboards() -> Dashboards:
    svc = services.current()
    return Dashboards(svc.store, audit_enabled=svc.settings.enable_audit_log)


def current_principal() -> Any:
    return current_user._get_current_object()


def message(text: str, color: str = "danger") -> dbc.Alert:
    return dbc.Alert(text, color=color, dismissable=True, className="py-2 mb-2")


def draft_spec(
    draft: dict[str, Any], layout: list[dict[str, Any]] | None, title: str
) -> DashboardSpec:
    """The draft with the grid's positions and the toolbar's title: what a save stores."""
    widget_of = {item["i"]: widget_of_item(item["i"]) or "" for item in layout or []}
    spec = DashboardSpec.model_validate(drafts.apply_layout(draft, layout or [], widget_of))
    return spec.model_copy(update={"title": (title or "").strip() or spec.title})


def toolbar(spec: DashboardSpec, meta: dict[str, Any]) -> html.Div:
    saved = meta["dashboard"] is not None
    return html.Div(
        [
            dbc.Input(
                id=IDS.TITLE,
                value=spec.title,
                className="builder-title form-control-lg",
                debounce=True,
                placeholder="Dashboard title",
            ),
            dbc.Badge(
                f"version {meta['version']}" if saved else "not saved yet",
                id=IDS.VERSION,
                color="secondary" if saved else "warning",
                className="ms-2",
            ),
            html.Div(
                [
                    dbc.Button("Save", id=IDS.SAVE, color="primary", size="sm"),
                    dbc.Button(
                        "Save as…", id=IDS.SAVE_AS, color="secondary", outline=True, size="sm"
                    ),
                    dbc.Button(
                        "Clone",
                        id=IDS.CLONE,
                        color="secondary",
                        outline=True,
                        size="sm",
                        disabled=not saved,
                    ),
                    dbc.Button(
                        "History",
                        id=IDS.HISTORY,
                        color="secondary",
                        outline=True,
                        size="sm",
                        disabled=not saved,
                    ),
                    dbc.Button(
                        "Delete",
                        id=IDS.DELETE,
                        color="danger",
                        outline=True,
                        size="sm",
                        disabled=not saved,
                    ),
                    dbc.Button(
                        "View",
                        href=f"/dashboards/{meta['dashboard']}" if saved else None,
                        color="link",
                        size="sm",
                        disabled=not saved,
                    ),
                ],
                className="ms-auto d-flex gap-2 flex-wrap",
            ),
        ],
        className="d-flex align-items-center flex-wrap gap-2 mb-3 builder-toolbar",
    )


def save_as_modal(spec: DashboardSpec) -> dbc.Modal:
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle("Save as a new dashboard")),
            dbc.ModalBody(
                [
                    dbc.Label("Title", html_for=IDS.SAVE_AS_TITLE),
                    dbc.Input(id=IDS.SAVE_AS_TITLE, value=f"{spec.title} (copy)"),
                ]
            ),
            dbc.ModalFooter(dbc.Button("Save as new", id=IDS.SAVE_AS_CONFIRM, color="primary")),
        ],
        id=IDS.SAVE_AS_MODAL,
        is_open=False,
    )
