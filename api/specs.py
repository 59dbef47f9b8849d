"""Request bodies that carry a DashboardSpec (POST/PUT of /api/dashboards and /api/templates)."""

from __future__ import annotations

from typing import Any, NoReturn

from analytics.catalog import CATALOG, list_metrics
from api import ApiError, schema
from engine.dashboards import DashboardError, DashboardNotFound, ReadOnlyTemplate, StaleVersion
from engine.names import clean_name
from engine.periods import PERIODS
from engine.spec import DashboardSpec

WIDGET_TYPES = [
    "metric_card", "line", "area", "bar", "stacked_bar", "funnel", "cohort_heatmap", "gauge",
    "table", "pie",
]  # fmt: skip
SPEC_PROPERTIES: dict[str, Any] = {
    "key": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$"},
    "title": {"type": "string", "minLength": 1, "maxLength": 120},
    "description": {"type": "string"},
    "default_period": {"type": "string", "enum": list(PERIODS)},
    "widgets": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["id", "type", "title", "metric"],
            "properties": {
                "id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$"},
                "type": {"type": "string", "enum": WIDGET_TYPES},
                "title": {"type": "string"},
                "metric": {"type": "string"},
                "params": {"type": "object"},
                "options": {"type": "object"},
                "position": {"type": "object"},
            },
        },
    },
}
SPEC_BODY = schema(
    "DashboardSpecBody",
    {
        "type": "object",
        "description": "A DashboardSpec (key optional: made from the title); unknown fields: 400",
        "required": ["title", "widgets"],
        "properties": SPEC_PROPERTIES,
    },
)
VERSIONED_SPEC_BODY = schema(
    "VersionedDashboardSpecBody",
    {
        "type": "object",
        "description": "A DashboardSpec and the version the edit is based on",
        "required": ["title", "widgets", "version"],
        "properties": {**SPEC_PROPERTIES, "version": {"type": "integer", "minimum": 1}},
    },
)


def spec_from_body(body: dict[str, Any], *, key: str = "new") -> DashboardSpec:
    """The body as a DashboardSpec (its `key` defaults to `key`); every widget's metric must exist.

    Raises:
        ValidationError: a bad or unknown field (the API answers 400 naming it).
        ApiError: 400 for a widget whose metric the catalog does not know.
    """
    spec = DashboardSpec.model_validate({"key": key, **body})
    title = clean_name(
        spec.title, "title", error=lambda m: ApiError(400, "bad_request", f"title: {m}")
    )
    spec = spec.model_copy(update={"title": title})
    list_metrics()  # loads the catalog
    for i, widget in enumerate(spec.widgets):
        if widget.metric not in CATALOG:
            raise ApiError(
                400, "bad_request", f"widgets.{i}.metric: unknown metric {widget.metric!r}"
            )
    return spec


def raise_dashboard_error(exc: DashboardError) -> NoReturn:
    """A dashboards-store error as the API's answer: 404, 409 (stale or built-in) or 400."""
    if isinstance(exc, DashboardNotFound):
        raise ApiError(404, "not_found", exc.user_message) from None
    if isinstance(exc, StaleVersion | ReadOnlyTemplate):
        raise ApiError(409, "conflict", exc.user_message) from None
    raise ApiError(400, "bad_request", exc.user_message) from None
