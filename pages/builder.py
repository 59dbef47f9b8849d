"""The dashboard builder: drag widgets onto a grid, configure them with a live preview, save.

`/builder` starts a new dashboard (`?template=<key>` starts from a template); `/dashboards/<id>/edit`
(pages/dashboard_edit.py) edits a saved one. The draft spec lives in a dcc.Store; widget positions
live in the grid's `layout` and are written into the spec when saving (engine.drafts.apply_layout),
so moving a widget never races a config change. Saves are optimistic: a save based on an older
version is refused with a message and the draft stays as it is.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update
from flask_login import current_user

from components.builder import (
    WidgetConfigPanel,
    WidgetPalette,
    builder_grid,
    grid_items,
    grid_layout,
    item_summary,
    param_controls,
    type_of_palette_item,
    widget_of_item,
)
from components.widgets import widget_body
from engine import drafts, services
from engine.dashboards import DashboardError, Dashboards, SavedDashboard, StaleVersion
from engine.generate import generate_widget
from engine.periods import resolve
from engine.spec import DashboardSpec
from security.policy import AccessDenied, Resource

dash.register_page(
    __name__, path="/builder", name="Builder", title="Builder · Nexpo Reports", nav_order=2
)

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


P = WidgetPalette.ids
C = WidgetConfigPanel.ids


def _dashboards() -> Dashboards:
    svc = services.current()
    return Dashboards(svc.store, audit_enabled=svc.settings.enable_audit_log)


def _principal() -> Any:
    return current_user._get_current_object()


def _message(text: str, color: str = "danger") -> dbc.Alert:
    return dbc.Alert(text, color=color, dismissable=True, className="py-2 mb-2")


def layout(
    dashboard_id: str | None = None,
    template: str | None = None,
    saved: str | None = None,
    **_params: Any,
) -> html.Div:
    store, principal = _dashboards(), _principal()
    status: Any = None
    try:
        if dashboard_id:
            current = store.get(dashboard_id)
            store.may(principal, "update", current.resource) or _deny(principal, current.resource)
            store.record_view(principal, current.slug)
            spec, meta = current.spec, {"dashboard": current.slug, "version": current.version}
            if saved:
                status = _message(f"Saved version {current.version}.", "success")
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
            _toolbar(spec, meta),
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
            _save_as_modal(spec),
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


def _toolbar(spec: DashboardSpec, meta: dict[str, Any]) -> html.Div:
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


def _save_as_modal(spec: DashboardSpec) -> dbc.Modal:
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


def _spec(draft: dict[str, Any], layout: list[dict[str, Any]] | None, title: str) -> DashboardSpec:
    """The draft with the grid's positions and the toolbar's title: what a save stores."""
    widget_of = {item["i"]: widget_of_item(item["i"]) or "" for item in layout or []}
    spec = DashboardSpec.model_validate(drafts.apply_layout(draft, layout or [], widget_of))
    return spec.model_copy(update={"title": (title or "").strip() or spec.title})


# --- the grid: add, drop, remove -----------------------------------------------------------------


@callback(
    Output(IDS.DRAFT, "data", allow_duplicate=True),
    Output(IDS.GRID, "children"),
    Output(IDS.GRID, "layout"),
    Output(IDS.SELECTED, "data"),
    Input(P.add(PALETTE, ALL), "n_clicks"),
    Input(IDS.GRID, "droppedItem"),
    Input(IDS.item_remove(ALL), "n_clicks"),
    State(IDS.DRAFT, "data"),
    State(IDS.GRID, "layout"),
    State(IDS.SELECTED, "data"),
    prevent_initial_call=True,
)
def on_grid_change(
    _adds: list[int | None],
    dropped: dict[str, Any] | None,
    _removes: list[int | None],
    draft: dict[str, Any],
    layout: list[dict[str, Any]] | None,
    selected: str | None,
) -> tuple[Any, ...]:
    trigger = ctx.triggered_id
    if not ctx.triggered or ctx.triggered[0]["value"] in (None, 0):
        return no_update, no_update, no_update, no_update
    spec = _spec(draft, layout, draft["title"]).model_dump(mode="json")
    if trigger == IDS.GRID:
        widget_type = type_of_palette_item((dropped or {}).get("i"))
        if widget_type is None:
            return no_update, no_update, no_update, no_update
        spec, selected = drafts.add_widget(spec, widget_type, dropped.get("x"), dropped.get("y"))
    elif trigger.get("subcomponent") == "add":
        spec, selected = drafts.add_widget(spec, trigger["widget_type"])
    else:
        spec = drafts.remove_widget(spec, trigger["widget"])
        selected = None if selected == trigger["widget"] else selected
    model = DashboardSpec.model_validate(spec)
    return spec, grid_items(model, selected), grid_layout(model), selected


@callback(
    Output(IDS.SELECTED, "data", allow_duplicate=True),
    Input(IDS.item_select(ALL), "n_clicks"),
    State(IDS.SELECTED, "data"),
    prevent_initial_call=True,
)
def on_select(clicks: list[int | None], selected: str | None) -> Any:
    # Selecting the widget being edited again must not reset the form under the user's hands.
    if not any(clicks) or ctx.triggered_id["widget"] == selected:
        return no_update
    return ctx.triggered_id["widget"]


@callback(
    Output({"type": "builder-item-title", "widget": ALL}, "children"),
    Output({"type": "builder-item-summary", "widget": ALL}, "children"),
    Input(IDS.DRAFT, "data"),
    State({"type": "builder-item-title", "widget": ALL}, "id"),
)
def update_item_labels(draft: dict[str, Any], ids: list[dict[str, str]]) -> tuple[list, list]:
    spec = DashboardSpec.model_validate(draft)
    by_id = {w.id: w for w in spec.widgets}
    widgets = [by_id.get(i["widget"]) for i in ids]
    return (
        [w.title if w else no_update for w in widgets],
        [item_summary(w) if w else no_update for w in widgets],
    )


# --- the config panel ---------------------------------------------------------------------------


@callback(
    Output(C.editing(CONFIG), "data"),
    Output(C.title(CONFIG), "value"),
    Output(C.type(CONFIG), "value"),
    Output(C.metric(CONFIG), "value"),
    Output(C.format(CONFIG), "value"),
    Output(C.form(CONFIG), "style"),
    Output(C.empty(CONFIG), "style"),
    Input(IDS.SELECTED, "data"),
    State(IDS.DRAFT, "data"),
)
def update_config_form(selected: str | None, draft: dict[str, Any]) -> tuple[Any, ...]:
    spec = DashboardSpec.model_validate(draft)
    widget = next((w for w in spec.widgets if w.id == selected), None)
    if widget is None:
        return None, "", None, None, None, {"display": "none"}, {}
    fmt = widget.options.get("format", "number")
    return widget.id, widget.title, widget.type, widget.metric, fmt, {}, {"display": "none"}


@callback(
    Output(C.params(CONFIG), "children"),
    Input(C.metric(CONFIG), "value"),
    Input(C.editing(CONFIG), "data"),
    State(IDS.DRAFT, "data"),
)
def update_param_controls(metric: str | None, editing: str | None, draft: dict[str, Any]) -> Any:
    if not metric or not editing:
        return []
    widget = next((w for w in DashboardSpec.model_validate(draft).widgets if w.id == editing), None)
    values = widget.params if widget is not None and widget.metric == metric else {}
    return param_controls(CONFIG, metric, values or drafts.DEFAULT_PARAMS.get(metric, {}))


@callback(
    Output(IDS.DRAFT, "data", allow_duplicate=True),
    Input(C.title(CONFIG), "value"),
    Input(C.type(CONFIG), "value"),
    Input(C.metric(CONFIG), "value"),
    Input(C.format(CONFIG), "value"),
    Input(C.param(CONFIG, ALL), "value"),
    State(C.param(CONFIG, ALL), "id"),
    State(C.editing(CONFIG), "data"),
    State(IDS.DRAFT, "data"),
    prevent_initial_call=True,
)
def on_config_change(
    title: str | None,
    widget_type: str | None,
    metric: str | None,
    fmt: str | None,
    values: list[Any],
    ids: list[dict[str, str]],
    editing: str | None,
    draft: dict[str, Any],
) -> Any:
    spec = DashboardSpec.model_validate(draft)
    widget = next((w for w in spec.widgets if w.id == editing), None)
    if widget is None or not widget_type or not metric:
        return no_update
    if metric != widget.metric:
        params = dict(drafts.DEFAULT_PARAMS.get(metric, {}))  # the controls are the old metric's
    else:
        params = {i["name"]: v for i, v in zip(ids, values, strict=True)}
    new = drafts.configure_widget(
        draft,
        editing,
        title=title or "",
        widget_type=widget_type,
        metric=metric,
        params=params,
        fmt=fmt if metric == widget.metric else None,
    )
    return no_update if new == draft else new


@callback(
    Output(C.preview(CONFIG), "children"),
    Input(IDS.DRAFT, "data"),
    Input(C.editing(CONFIG), "data"),
    State(IDS.META, "data"),
)
def update_preview(draft: dict[str, Any], editing: str | None, meta: dict[str, Any]) -> Any:
    if not editing:
        return None
    svc, principal = services.current(), _principal()
    spec = DashboardSpec.model_validate(draft)
    if editing not in {w.id for w in spec.widgets}:
        return None
    resource = Resource(
        "dashboard", meta.get("dashboard"), principal.department, owner_id=principal.id
    )
    window = resolve(spec.default_period, svc.settings.report_timezone)
    try:
        result = generate_widget(spec, editing, window, principal, svc, resource=resource)
    except AccessDenied as exc:
        return html.Div(exc.user_message, className="widget-error", role="alert")
    return widget_body(result, svc.settings.report_currency)


# --- save, save as, clone, delete, history ------------------------------------------------------


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
    store, principal, spec = _dashboards(), _principal(), _spec(draft, layout, title)
    try:
        if meta.get("dashboard") is None:
            created = store.create(spec, principal)
            return no_update, no_update, no_update, _edit_href(created)
        saved = store.save(meta["dashboard"], spec, meta["version"], principal)
    except StaleVersion as exc:
        return no_update, no_update, _message(exc.user_message, "warning"), no_update
    except (DashboardError, AccessDenied) as exc:
        return no_update, no_update, _message(exc.user_message), no_update
    new_meta = {"dashboard": saved.slug, "version": saved.version}
    text = f"Saved version {saved.version}."
    return new_meta, f"version {saved.version}", _message(text, "success"), no_update


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
    spec = _spec(draft, layout, title)
    try:
        created = _dashboards().save_as(spec, (new_title or "").strip() or spec.title, _principal())
    except (DashboardError, AccessDenied) as exc:
        return _message(exc.user_message), no_update
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
        created = _dashboards().clone(meta["dashboard"], _principal())
    except (DashboardError, AccessDenied) as exc:
        return _message(exc.user_message), no_update
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
        _dashboards().delete(meta["dashboard"], _principal())
    except (DashboardError, AccessDenied) as exc:
        return _message(exc.user_message), no_update
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
        versions = _dashboards().history(meta["dashboard"], _principal())
    except (DashboardError, AccessDenied) as exc:
        return True, _message(exc.user_message)
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
        saved = _dashboards().restore(meta["dashboard"], version, meta["version"], _principal())
    except StaleVersion as exc:
        return (*(no_update,) * 6, _message(exc.user_message, "warning"), False)
    except (DashboardError, AccessDenied) as exc:
        return (*(no_update,) * 6, _message(exc.user_message), False)
    return (
        saved.spec.model_dump(mode="json"),
        grid_items(saved.spec),
        grid_layout(saved.spec),
        {"dashboard": saved.slug, "version": saved.version},
        f"version {saved.version}",
        saved.spec.title,
        _message(f"Restored version {version} as version {saved.version}.", "success"),
        False,
    )
