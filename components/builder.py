"""The builder's parts: a palette of widget types, the grid's items, and a widget config panel.

`WidgetPalette` and `WidgetConfigPanel` are All-in-One components (an `ids` class, pattern-matching
ids). Two ids are plain strings on purpose: dash-snap-grid keys each grid child by its `id` and
matches it to the layout's `i`, and its DraggableDiv hands its `id` to the drop as text, so both
must be strings; `grid_item_id` / `palette_item_id` build them and `widget_of_item` /
`type_of_palette_item` read them back, in one place.
"""

from __future__ import annotations

import uuid
from typing import Any

import dash_bootstrap_components as dbc
import dash_snap_grid
from dash import dcc, html

from engine.drafts import WIDGET_LABELS, WIDGET_TYPES, ParamField, metric_groups, param_fields
from engine.spec import DashboardSpec, WidgetSpec

ROW_HEIGHT = 56
ITEM_PREFIX = "builder-item--"
PALETTE_PREFIX = "builder-palette--"
ICONS = {
    "metric_card": "#",
    "line": "∿",
    "area": "◭",
    "bar": "▥",
    "stacked_bar": "▤",
    "funnel": "▽",
    "cohort_heatmap": "▦",
    "gauge": "◔",
    "table": "☷",
    "pie": "◕",
}
FORMATS = [
    {"label": "Money", "value": "money"},
    {"label": "Percent", "value": "percent"},
    {"label": "Number", "value": "number"},
]


def grid_item_id(widget_id: str) -> str:
    return ITEM_PREFIX + widget_id


def widget_of_item(item_id: str) -> str | None:
    return item_id.removeprefix(ITEM_PREFIX) if item_id.startswith(ITEM_PREFIX) else None


def palette_item_id(widget_type: str) -> str:
    return PALETTE_PREFIX + widget_type


def type_of_palette_item(item_id: str | None) -> str | None:
    if not item_id or not item_id.startswith(PALETTE_PREFIX):
        return None
    widget_type = item_id.removeprefix(PALETTE_PREFIX)
    return widget_type if widget_type in WIDGET_TYPES else None


class WidgetPalette(html.Div):
    """Widget types to drag onto the grid (or to add with a click)."""

    class ids:
        @staticmethod
        def add(aio_id: str, widget_type: str | Any) -> dict[str, Any]:
            return {
                "component": "WidgetPalette",
                "subcomponent": "add",
                "aio_id": aio_id,
                "widget_type": widget_type,
            }

    ids = ids

    def __init__(self, aio_id: str | None = None) -> None:
        aio_id = aio_id or str(uuid.uuid4())
        items = [
            dash_snap_grid.DraggableDiv(
                html.Div(
                    [
                        html.Span(ICONS[t], className="palette-icon", **{"aria-hidden": "true"}),
                        html.Span(WIDGET_LABELS[t], className="palette-label"),
                        html.Button(
                            "+",
                            id=self.ids.add(aio_id, t),
                            className="btn btn-sm btn-outline-primary palette-add ms-auto",
                            title=f"Add a {WIDGET_LABELS[t].lower()}",
                            **{"aria-label": f"Add {WIDGET_LABELS[t]}"},
                        ),
                    ],
                    className="palette-item d-flex align-items-center",
                    **{"data-widget-type": t},
                ),
                id=palette_item_id(t),
            )
            for t in WIDGET_TYPES
        ]
        super().__init__(
            [
                html.Div("Widgets", className="builder-section-title"),
                html.P("Drag onto the grid, or press +.", className="small text-secondary mb-2"),
                *items,
            ],
            className="widget-palette",
        )


def grid_item(widget: WidgetSpec, selected: bool = False) -> html.Div:
    """One widget on the builder grid: a drag handle with its title, select and remove buttons."""
    return html.Div(
        [
            html.Div(
                [
                    html.Span("⠿", className="builder-grip", **{"aria-hidden": "true"}),
                    html.Span(
                        widget.title,
                        id={"type": "builder-item-title", "widget": widget.id},
                        className="builder-item-title text-truncate",
                    ),
                    html.Button(
                        "⚙",
                        id={"type": "builder-item-select", "widget": widget.id},
                        className="btn btn-sm btn-link builder-item-button ms-auto",
                        title="Configure",
                        **{"aria-label": f"Configure {widget.title}"},
                    ),
                    html.Button(
                        "✕",
                        id={"type": "builder-item-remove", "widget": widget.id},
                        className="btn btn-sm btn-link builder-item-button text-danger",
                        title="Remove",
                        **{"aria-label": f"Remove {widget.title}"},
                    ),
                ],
                className="builder-item-handle d-flex align-items-center",
            ),
            html.Div(
                id={"type": "builder-item-summary", "widget": widget.id},
                children=item_summary(widget),
                className="builder-item-summary",
            ),
        ],
        id=grid_item_id(widget.id),
        className="builder-item" + (" selected" if selected else ""),
        **{"data-widget": widget.id},
    )


def item_summary(widget: WidgetSpec) -> list[Any]:
    return [
        html.Div(ICONS.get(widget.type, "?"), className="builder-item-icon"),
        html.Div(
            [
                html.Div(
                    WIDGET_LABELS.get(widget.type, widget.type), className="small fw-semibold"
                ),
                html.Code(widget.metric, className="small"),
            ]
        ),
    ]


def grid_items(spec: DashboardSpec, selected: str | None = None) -> list[html.Div]:
    return [grid_item(w, w.id == selected) for w in spec.widgets]


def grid_layout(spec: DashboardSpec) -> list[dict[str, Any]]:
    return [
        {"i": grid_item_id(w.id), **w.position.model_dump(), "minW": 2, "minH": 2}
        for w in spec.widgets
    ]


def builder_grid(grid_id: str, spec: DashboardSpec, selected: str | None = None) -> Any:
    return dash_snap_grid.Grid(
        id=grid_id,
        children=grid_items(spec, selected),
        layout=grid_layout(spec),
        cols=12,
        rowHeight=ROW_HEIGHT,
        margin=[12, 12],
        compactType="vertical",
        isDroppable=True,
        draggableHandle=".builder-item-handle",
        draggableCancel=".builder-item-button",
        resizeHandles=["se"],
    )


class WidgetConfigPanel(html.Div):
    """Title, chart type, metric, the metric's parameters and number format of one widget,
    with a live preview below. `ids.editing` holds the widget the fields belong to."""

    class ids:
        @staticmethod
        def _id(aio_id: str, sub: str) -> dict[str, str]:
            return {"component": "WidgetConfigPanel", "subcomponent": sub, "aio_id": aio_id}

        editing = staticmethod(lambda aio_id: WidgetConfigPanel.ids._id(aio_id, "editing"))
        title = staticmethod(lambda aio_id: WidgetConfigPanel.ids._id(aio_id, "title"))
        type = staticmethod(lambda aio_id: WidgetConfigPanel.ids._id(aio_id, "type"))
        metric = staticmethod(lambda aio_id: WidgetConfigPanel.ids._id(aio_id, "metric"))
        format = staticmethod(lambda aio_id: WidgetConfigPanel.ids._id(aio_id, "format"))
        params = staticmethod(lambda aio_id: WidgetConfigPanel.ids._id(aio_id, "params"))
        preview = staticmethod(lambda aio_id: WidgetConfigPanel.ids._id(aio_id, "preview"))
        form = staticmethod(lambda aio_id: WidgetConfigPanel.ids._id(aio_id, "form"))
        empty = staticmethod(lambda aio_id: WidgetConfigPanel.ids._id(aio_id, "empty"))

        @staticmethod
        def param(aio_id: str, name: str | Any) -> dict[str, Any]:
            return {
                "component": "WidgetConfigPanel",
                "subcomponent": "param",
                "aio_id": aio_id,
                "name": name,
            }

    ids = ids

    def __init__(self, aio_id: str | None = None) -> None:
        aio_id = aio_id or str(uuid.uuid4())
        metrics = [
            {"label": f"{m.group} · {m.name}", "value": m.name, "title": m.definition}
            for m in metric_groups()
        ]
        form = html.Div(
            [
                dbc.Label("Title", className="small mb-0"),
                dbc.Input(id=self.ids.title(aio_id), size="sm", debounce=True, className="mb-2"),
                dbc.Label("Chart type", className="small mb-0"),
                dcc.Dropdown(
                    id=self.ids.type(aio_id),
                    options=[{"label": WIDGET_LABELS[t], "value": t} for t in WIDGET_TYPES],
                    clearable=False,
                    className="mb-2",
                ),
                dbc.Label("Metric", className="small mb-0"),
                dcc.Dropdown(
                    id=self.ids.metric(aio_id),
                    options=metrics,
                    clearable=False,
                    className="mb-2 builder-metric-dropdown",
                ),
                html.Div(id=self.ids.params(aio_id)),
                dbc.Label("Number format", className="small mb-0"),
                dcc.Dropdown(
                    id=self.ids.format(aio_id),
                    options=FORMATS,
                    clearable=False,
                    className="mb-3",
                ),
                html.Div("Preview", className="builder-section-title"),
                dcc.Loading(
                    html.Div(id=self.ids.preview(aio_id), className="builder-preview"),
                    type="dot",
                    delay_show=150,
                ),
            ],
            id=self.ids.form(aio_id),
            style={"display": "none"},
        )
        super().__init__(
            [
                dcc.Store(id=self.ids.editing(aio_id)),
                html.Div("Configure", className="builder-section-title"),
                html.P(
                    "Select a widget on the grid (⚙) to configure it.",
                    id=self.ids.empty(aio_id),
                    className="small text-secondary",
                ),
                form,
            ],
            className="widget-config-panel",
        )


def param_controls(aio_id: str, metric: str, values: dict[str, Any]) -> list[Any]:
    """A labelled control per editable parameter of `metric`, filled from `values` or defaults."""
    return [_param_control(aio_id, field, values.get(field.name)) for field in param_fields(metric)]


def _param_control(aio_id: str, field: ParamField, value: Any) -> html.Div:
    control_id = WidgetConfigPanel.ids.param(aio_id, field.name)
    value = field.default if value is None else value
    label = field.name.replace("_", " ").capitalize() + (" *" if field.required else "")
    if field.kind == "enum":
        control = dcc.Dropdown(
            id=control_id,
            options=[{"label": o, "value": o} for o in field.options],
            value=value,
            clearable=not field.required,
        )
    elif field.kind in ("integer", "number"):
        control = dbc.Input(
            id=control_id,
            type="number",
            value=value,
            step=1 if field.kind == "integer" else "any",
            size="sm",
            debounce=True,
        )
    else:
        text = ", ".join(value) if isinstance(value, list) else (value or "")
        control = dbc.Input(
            id=control_id,
            value=text,
            size="sm",
            debounce=True,
            placeholder="comma-separated" if field.kind == "list" else "",
        )
    return html.Div(
        [html.Label(label, className="form-label small mb-0", title=field.description), control],
        className="mb-2",
    )
