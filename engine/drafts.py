"""The builder's draft: pure transforms of a dashboard spec (add, remove, move, configure a widget).

The builder page keeps the draft as a plain dict in a dcc.Store; every callback calls one of these
functions and stores the result, so the editing rules are tested without a browser.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args

from analytics.catalog import MetricSpec, get_metric, list_metrics
from engine.spec import DashboardSpec, GridPosition, WidgetSpec, WidgetType

WIDGET_TYPES: tuple[str, ...] = get_args(WidgetType)
WIDGET_LABELS: dict[str, str] = {
    "metric_card": "Metric card",
    "line": "Line chart",
    "area": "Area chart",
    "bar": "Bar chart",
    "stacked_bar": "Stacked bar",
    "funnel": "Funnel",
    "cohort_heatmap": "Cohort heatmap",
    "gauge": "Gauge",
    "table": "Table",
    "pie": "Pie / donut",
}
# Size (w, h) in grid units (12 columns, ROW_HEIGHT px rows) and a first metric for a new widget.
DEFAULT_SIZE: dict[str, tuple[int, int]] = {
    "metric_card": (3, 2),
    "gauge": (3, 4),
    "pie": (4, 5),
    "cohort_heatmap": (12, 6),
    "table": (6, 5),
}
DEFAULT_METRIC: dict[str, str] = {
    "metric_card": "mrr",
    "line": "revenue_trend",
    "area": "mrr",
    "bar": "revenue_by_processor",
    "stacked_bar": "mrr_movements",
    "funnel": "funnel",
    "cohort_heatmap": "cohort_mrr_retention",
    "gauge": "kpi_progress",
    "table": "revenue_by_plan",
    "pie": "revenue_by_processor",
}
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "funnel": {"steps": ["signup", "activate", "subscribe"]},
    "kpi_progress": {"kpi": "mrr"},
}
# Parameters the dashboard sets for every widget (the period), never edited per widget.
WINDOW_PARAMS = frozenset({"start", "end", "timezone"})
LABEL_COLUMNS = ("date", "period_start", "cohort", "step", "processor", "plan", "segment", "days")
TEXT_COLUMNS = frozenset(
    {"plan_id", "plan", "processor", "event", "kpi", "cohort", "breakdown", "segment", "step"}
)
PERCENT_METRICS = frozenset({"nrr", "grr", "trial_conversion", "dau_mau", "cohort_mrr_retention"})
COUNT_METRICS = frozenset({"paying_customers", "kpi_progress"})


@dataclass(frozen=True)
class ParamField:
    """One editable metric parameter, as the config panel draws it."""

    name: str
    kind: str  # "enum" | "integer" | "number" | "text" | "list"
    options: tuple[str, ...]
    default: Any
    required: bool
    description: str


def new_draft(title: str = "Untitled dashboard") -> dict[str, Any]:
    return DashboardSpec(key="draft", title=title, widgets=[]).model_dump(mode="json")


def metric_groups() -> list[MetricSpec]:
    return list_metrics()


def param_fields(metric: str) -> list[ParamField]:
    """The parameters of `metric` a widget may set (the window's are left out)."""
    spec = get_metric(metric)
    schema = spec.params.model_json_schema()
    required = set(schema.get("required", []))
    fields = []
    for name, prop in schema.get("properties", {}).items():
        if name in WINDOW_PARAMS:
            continue
        types = {prop.get("type")} | {p.get("type") for p in prop.get("anyOf", [])}
        if prop.get("enum"):
            kind = "enum"
        elif "integer" in types:
            kind = "integer"
        elif "number" in types:
            kind = "number"
        elif "array" in types:
            kind = "list"
        else:
            kind = "text"
        fields.append(
            ParamField(
                name=name,
                kind=kind,
                options=tuple(prop.get("enum") or ()),
                default=prop.get("default"),
                required=name in required,
                description=prop.get("description") or "",
            )
        )
    return fields


def coerce_params(metric: str, raw: dict[str, Any]) -> dict[str, Any]:
    """Form values to metric parameters: empty ones dropped, numbers and lists parsed."""
    params: dict[str, Any] = {}
    for field in param_fields(metric):
        value = raw.get(field.name)
        if value is None or value == "" or value == []:
            continue
        if field.kind == "integer":
            try:
                value = int(value)
            except (TypeError, ValueError):
                continue
        elif field.kind == "number":
            try:
                value = float(value)
            except (TypeError, ValueError):
                continue
        elif field.kind == "list" and isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        params[field.name] = value
    return params


def default_options(metric: str, widget_type: str, fmt: str | None = None) -> dict[str, Any]:
    """Drawing options that fit `metric`'s columns for `widget_type` (x, y, value, format...)."""
    columns = list(get_metric(metric).columns)
    x = next((c for c in LABEL_COLUMNS if c in columns), columns[0])
    numeric = [c for c in columns if c != x and c not in TEXT_COLUMNS]
    value = metric if metric in columns else "value" if "value" in columns else (numeric or [x])[0]
    fmt = fmt or guess_format(metric)
    options: dict[str, Any] = {"x": x, "format": fmt}
    if widget_type == "metric_card":
        options.update(value=value, mode="last" if x == "date" else "period")
    elif widget_type in ("line", "area", "bar", "stacked_bar"):
        ys = [value] if value in numeric else numeric[:1]
        if widget_type == "stacked_bar" or metric in ("revenue_trend", "dau_mau"):
            ys = numeric[: 6 if widget_type == "stacked_bar" else 2]
        options["y"] = ys or [value]
    elif widget_type == "funnel":
        options.update(label="event" if "event" in columns else x, value="count", step="step")
    elif widget_type == "cohort_heatmap":
        period = "months_since" if "months_since" in columns else "period"
        options.update(cohort="cohort", period=period, value=value, format="percent")
    elif widget_type == "gauge":
        options.update(value=value, goal="goal")
    elif widget_type == "pie":
        options.update(names=x, value=numeric[0] if numeric else value)
    return options


def guess_format(metric: str) -> str:
    if metric in PERCENT_METRICS or metric.endswith("_rate") or metric == "quick_ratio":
        return "percent" if metric != "quick_ratio" else "number"
    if metric in COUNT_METRICS:
        return "number"
    spec = get_metric(metric)
    return "money" if spec.group == "revenue" else "number"


def add_widget(
    draft: dict[str, Any], widget_type: str, x: int | None = None, y: int | None = None
) -> tuple[dict[str, Any], str]:
    """`draft` with a new widget of `widget_type` at (x, y) (default: below the others)."""
    spec = DashboardSpec.model_validate(draft)
    taken = {w.id for w in spec.widgets}
    n = 1
    while f"{widget_type.replace('_', '-')}-{n}" in taken:
        n += 1
    widget_id = f"{widget_type.replace('_', '-')}-{n}"
    w, h = DEFAULT_SIZE.get(widget_type, (6, 5))
    bottom = max((wd.position.y + wd.position.h for wd in spec.widgets), default=0)
    x = min(max(x if x is not None else 0, 0), 12 - w)
    metric = DEFAULT_METRIC.get(widget_type, "mrr")
    widget = WidgetSpec(
        id=widget_id,
        type=widget_type,
        title=WIDGET_LABELS.get(widget_type, widget_type),
        metric=metric,
        params=dict(DEFAULT_PARAMS.get(widget_type, DEFAULT_PARAMS.get(metric, {}))),
        options=default_options(metric, widget_type),
        position=GridPosition(x=x, y=max(y if y is not None else bottom, 0), w=w, h=h),
    )
    spec.widgets.append(widget)
    return spec.model_dump(mode="json"), widget_id


def remove_widget(draft: dict[str, Any], widget_id: str) -> dict[str, Any]:
    spec = DashboardSpec.model_validate(draft)
    spec.widgets = [w for w in spec.widgets if w.id != widget_id]
    return spec.model_dump(mode="json")


def apply_layout(
    draft: dict[str, Any], layout: list[dict[str, Any]], widget_of: dict[str, str]
) -> dict[str, Any]:
    """`draft` with positions from a grid layout ([{i, x, y, w, h}]); `widget_of` maps item ids."""
    spec = DashboardSpec.model_validate(draft)
    by_id = {w.id: w for w in spec.widgets}
    for item in layout or []:
        widget = by_id.get(widget_of.get(str(item.get("i")), ""))
        if widget is None:
            continue
        widget.position = GridPosition(
            x=max(0, int(item["x"])),
            y=max(0, int(item["y"])),
            w=min(12, max(1, int(item["w"]))),
            h=max(1, int(item["h"])),
        )
    return spec.model_dump(mode="json")


def configure_widget(
    draft: dict[str, Any],
    widget_id: str,
    *,
    title: str,
    widget_type: str,
    metric: str,
    params: dict[str, Any],
    fmt: str | None,
) -> dict[str, Any]:
    """`draft` with the widget's title, type, metric, parameters and format replaced.

    Drawing options are kept while the metric and type stay; otherwise they are derived anew
    from the metric's columns.
    """
    spec = DashboardSpec.model_validate(draft)
    widget = spec.widget(widget_id)
    same_shape = widget.metric == metric and widget.type == widget_type
    options = dict(widget.options) if same_shape else default_options(metric, widget_type, fmt)
    if fmt:
        options["format"] = fmt
    widget.title = title.strip() or WIDGET_LABELS.get(widget_type, widget_type)
    widget.type = widget_type
    widget.metric = metric
    widget.params = coerce_params(metric, params)
    widget.options = options
    return spec.model_dump(mode="json")
