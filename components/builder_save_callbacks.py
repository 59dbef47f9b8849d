"""Callbacks of the builder's toolbar: save (optimistic), save as, clone, delete, and the version
history with restore. pages/builder.py imports this module, so loading the page registers them."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, ctx, html, no_update

from components.builder import grid_items, grid_layout
from components.builder_page import IDS, current_principal, dashboards, draft_spec, message
from engine.dashboards import DashboardError, SavedDashboard, StaleVersion
from security.policy import AccessDenied


@callback(
    Output(IDS.META, "data"),
    Output(IDS.VERSION, "children"),
    Output(IDS.STATUS, "children"),
    Output(IDS.LOCATION, "href"),
    Input(IDS.SAVE, "n_clicks"),
    State(IDS.DRAFT, "data"),
    State(IDS.GRID, "layout"),
    State(IDS.TITLE, "value"),
    State(IDS.META, "data"),
    prevent_initial_call=True,
)
def on_save(
    _clicks: int,
    draft: dict[str, Any],
    layout: list[dict[str, Any]] | None,
    title: str,
    meta: dict[str, Any],
) -> tuple[Any, ...]:
    store, principal, spec = dashboards(), current_principal(), draft_spec(draft, layout, title)
    if title is not None:  # a cleared title is refused by the store, not replaced by the old one
        spec = spec.model_copy(update={"title": title})
    try:
        if meta.get("dashboard") is None:
            created = store.create(spec, principal)
            return no_update, no_update, no_update, _edit_href(created)
        saved = store.save(meta["dashboard"], spec, meta["version"], principal)
    except StaleVersion as exc:
        return no_update, no_update, message(exc.user_message, "warning"), no_update
    except (DashboardError, AccessDenied) as exc:
        return no_update, no_update, message(exc.user_message), no_update
    new_meta = {"dashboard": saved.slug, "version": saved.version}
    text = f"Saved version {saved.version}."
    return new_meta, f"version {saved.version}", message(text, "success"), no_update


def _edit_href(saved: SavedDashboard) -> str:
    return f"/dashboards/{saved.slug}/edit?saved=1"


@callback(
    Output(IDS.SAVE_AS_MODAL, "is_open"),
    Input(IDS.SAVE_AS, "n_clicks"),
    State(IDS.TITLE, "value"),
    prevent_initial_call=True,
)
def on_save_as_open(_clicks: int, _title: str) -> bool:
    return True


@callback(
    Output(IDS.STATUS, "children", allow_duplicate=True),
    Output(IDS.LOCATION, "href", allow_duplicate=True),
    Input(IDS.SAVE_AS_CONFIRM, "n_clicks"),
    State(IDS.SAVE_AS_TITLE, "value"),
    State(IDS.DRAFT, "data"),
    State(IDS.GRID, "layout"),
    State(IDS.TITLE, "value"),
    prevent_initial_call=True,
)
def on_save_as(
    _clicks: int, new_title: str, draft: dict[str, Any], layout: Any, title: str
) -> tuple[Any, Any]:
    spec = draft_spec(draft, layout, title)
    try:
        # The store trims the title, refuses an empty or long one and numbers a taken one.
        typed = new_title if new_title is not None else spec.title
        created = dashboards().save_as(spec, typed, current_principal())
    except (DashboardError, AccessDenied) as exc:
        return message(exc.user_message), no_update
    return no_update, _edit_href(created)


@callback(
    Output(IDS.STATUS, "children", allow_duplicate=True),
    Output(IDS.LOCATION, "href", allow_duplicate=True),
    Input(IDS.CLONE, "n_clicks"),
    State(IDS.META, "data"),
    prevent_initial_call=True,
)
def on_clone(_clicks: int, meta: dict[str, Any]) -> tuple[Any, Any]:
    try:
        created = dashboards().clone(meta["dashboard"], current_principal())
    except (DashboardError, AccessDenied) as exc:
        return message(exc.user_message), no_update
    return no_update, _edit_href(created)


@callback(
    Output(IDS.DELETE_CONFIRM, "displayed"),
    Input(IDS.DELETE, "n_clicks"),
    prevent_initial_call=True,
)
def on_delete_ask(_clicks: int) -> bool:
    return True


@callback(
    Output(IDS.STATUS, "children", allow_duplicate=True),
    Output(IDS.LOCATION, "href", allow_duplicate=True),
    Input(IDS.DELETE_CONFIRM, "submit_n_clicks"),
    State(IDS.META, "data"),
    prevent_initial_call=True,
)
def on_delete(_clicks: int, meta: dict[str, Any]) -> tuple[Any, Any]:
    try:
        dashboards().delete(meta["dashboard"], current_principal())
    except (DashboardError, AccessDenied) as exc:
        return message(exc.user_message), no_update
    return no_update, "/"


@callback(
    Output(IDS.HISTORY_PANEL, "is_open"),
    Output(IDS.HISTORY_LIST, "children"),
    Input(IDS.HISTORY, "n_clicks"),
    State(IDS.META, "data"),
    prevent_initial_call=True,
)
def on_history_open(_clicks: int, meta: dict[str, Any]) -> tuple[bool, Any]:
    try:
        versions = dashboards().history(meta["dashboard"], current_principal())
    except (DashboardError, AccessDenied) as exc:
        return True, message(exc.user_message)
    items = [
        dbc.ListGroupItem(
            [
                html.Div(
                    [
                        html.Strong(f"Version {v.version}"),
                        html.Div(
                            f"{v.created_at:%Y-%m-%d %H:%M} UTC · {v.author or 'unknown'} · "
                            f"{v.widget_count} widgets",
                            className="small text-secondary",
                        ),
                    ]
                ),
                dbc.Button(
                    "Current" if v.version == meta["version"] else "Restore",
                    id=IDS.restore(v.version),
                    size="sm",
                    outline=True,
                    color="primary",
                    disabled=v.version == meta["version"],
                    className="ms-auto",
                ),
            ],
            className="d-flex align-items-center",
        )
        for v in versions
    ]
    note = html.P(
        f"The last {len(versions)} versions are kept (up to 15). Restoring saves the old "
        "version as a new one.",
        className="small text-secondary",
    )
    return True, [note, dbc.ListGroup(items)]


@callback(
    Output(IDS.DRAFT, "data", allow_duplicate=True),
    Output(IDS.GRID, "children", allow_duplicate=True),
    Output(IDS.GRID, "layout", allow_duplicate=True),
    Output(IDS.META, "data", allow_duplicate=True),
    Output(IDS.VERSION, "children", allow_duplicate=True),
    Output(IDS.TITLE, "value"),
    Output(IDS.STATUS, "children", allow_duplicate=True),
    Output(IDS.HISTORY_PANEL, "is_open", allow_duplicate=True),
    Input(IDS.restore(ALL), "n_clicks"),
    State(IDS.META, "data"),
    prevent_initial_call=True,
)
def on_restore(clicks: list[int | None], meta: dict[str, Any]) -> tuple[Any, ...]:
    if not any(clicks):
        return (no_update,) * 8
    version = ctx.triggered_id["version"]
    try:
        saved = dashboards().restore(
            meta["dashboard"], version, meta["version"], current_principal()
        )
    except StaleVersion as exc:
        return (*(no_update,) * 6, message(exc.user_message, "warning"), False)
    except (DashboardError, AccessDenied) as exc:
        return (*(no_update,) * 6, message(exc.user_message), False)
    return (
        saved.spec.model_dump(mode="json"),
        grid_items(saved.spec),
        grid_layout(saved.spec),
        {"dashboard": saved.slug, "version": saved.version},
        f"version {saved.version}",
        saved.spec.title,
        message(f"Restored version {version} as version {saved.version}.", "success"),
        False,
    )
