"""Callbacks of the builder's grid (add, drop, remove, select) and config panel (form, parameters,
live preview). pages/builder.py imports this module, so loading the page registers them."""

from __future__ import annotations

from typing import Any

from dash import ALL, Input, Output, State, callback, ctx, html, no_update

from components.builder import (
    WidgetConfigPanel,
    WidgetPalette,
    grid_items,
    grid_layout,
    item_summary,
    param_controls,
    type_of_palette_item,
)
from components.builder_page import CONFIG, IDS, PALETTE, current_principal, draft_spec
from components.widgets import widget_body
from engine import drafts, services
from engine.generate import generate_widget
from engine.periods import resolve
from engine.spec import DashboardSpec
from security.policy import AccessDenied, Resource

P = WidgetPalette.ids
C = WidgetConfigPanel.ids


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
    spec = draft_spec(draft, layout, draft["title"]).model_dump(mode="json")
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
    svc, principal = services.current(), current_principal()
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
