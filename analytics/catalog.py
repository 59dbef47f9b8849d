"""The metric catalog: every metric with its parameters, output columns and a one-line definition.

Metric modules register themselves with `@metric(...)`; the UI, the API and the `flask metric`
command list and run metrics only through this catalog.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pydantic import BaseModel, ValidationError

from analytics.filters import ACCOUNT_FILTERS, ActivityWindow, RowFilter, use_filter
from datasources.base import Fetcher


class MetricError(ValueError):
    """A bad metric name or parameter; the message is one line naming it and what is accepted."""


@dataclass(frozen=True)
class MetricSpec:
    name: str
    fn: Callable[[Fetcher, Any], pd.DataFrame]
    params: type[BaseModel]
    columns: tuple[str, ...]
    definition: str
    group: str  # "revenue" | "product" | "kpi"
    # The dashboard filters this metric honours (analytics/filters.py); others are ignored.
    filters: tuple[str, ...] = ACCOUNT_FILTERS

    def ignored_filters(self, names: Iterable[str]) -> list[str]:
        """Which of the filter `names` this metric does not apply, sorted."""
        return sorted(n for n in names if n not in self.filters)

    def describe(self) -> dict[str, Any]:
        schema = self.params.model_json_schema()
        return {
            "name": self.name,
            "group": self.group,
            "definition": self.definition,
            "columns": list(self.columns),
            "filters": list(self.filters),
            "parameters": {
                key: {
                    "type": prop.get("type") or [p.get("type") for p in prop.get("anyOf", [])],
                    "enum": prop.get("enum"),
                    "default": prop.get("default"),
                    "description": prop.get("description"),
                }
                for key, prop in schema.get("properties", {}).items()
            },
        }


CATALOG: dict[str, MetricSpec] = {}


# The filters a metric honours unless it says otherwise: product metrics count persons, so the
# seed's user_type (active persons) applies to them; revenue_type only to the payment metrics.
GROUP_FILTERS = {
    "revenue": ACCOUNT_FILTERS,
    "kpi": ACCOUNT_FILTERS,
    "product": (*ACCOUNT_FILTERS, "user_type"),
}
PAYMENT_FILTERS = (*ACCOUNT_FILTERS, "revenue_type")


def metric(
    name: str,
    *,
    params: type[BaseModel],
    columns: tuple[str, ...],
    definition: str,
    group: str,
    filters: tuple[str, ...] | None = None,
) -> Callable[[Callable[[Fetcher, Any], pd.DataFrame]], Callable[[Fetcher, Any], pd.DataFrame]]:
    """Register a metric function `fn(source, params) -> DataFrame` under `name`; `filters` are
    the dashboard filters it honours (default: its group's)."""

    def register(
        fn: Callable[[Fetcher, Any], pd.DataFrame],
    ) -> Callable[[Fetcher, Any], pd.DataFrame]:
        if name in CATALOG:
            raise RuntimeError(f"metric {name!r} registered twice")
        honoured = filters if filters is not None else GROUP_FILTERS[group]
        CATALOG[name] = MetricSpec(name, fn, params, columns, definition, group, honoured)
        return fn

    return register


def get_metric(name: str) -> MetricSpec:
    _load()
    try:
        return CATALOG[name]
    except KeyError:
        raise MetricError(
            f"unknown metric {name!r}; accepted: {', '.join(sorted(CATALOG))}"
        ) from None


def list_metrics() -> list[MetricSpec]:
    _load()
    return sorted(CATALOG.values(), key=lambda spec: (spec.group, spec.name))


def parse_params(spec: MetricSpec, raw: Mapping[str, Any]) -> BaseModel:
    """Validate raw parameters (strings from a CLI or URL are fine); raise MetricError naming the bad one."""
    unknown = set(raw) - set(spec.params.model_fields)
    if unknown:
        accepted = ", ".join(spec.params.model_fields)
        raise MetricError(
            f"{spec.name}: unknown parameter {sorted(unknown)[0]!r}; accepted: {accepted}"
        )
    try:
        return spec.params.model_validate(dict(raw))
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or spec.name
        raise MetricError(f"{spec.name}: parameter {field!r}: {err['msg']}") from None


def run_metric(
    name: str, source: Fetcher, raw_params: Mapping[str, Any] | BaseModel
) -> pd.DataFrame:
    """Validate parameters, run the metric inside `source`, and return exactly its declared columns."""
    spec = get_metric(name)
    params = raw_params if isinstance(raw_params, BaseModel) else parse_params(spec, raw_params)
    filters = getattr(params, "filters", None)
    if isinstance(filters, RowFilter):
        # A filter the metric does not honour must not change its SQL (nor its cache key).
        filters = filters.only(spec.filters)
        params = params.model_copy(update={"filters": filters})
    with use_filter(filters, activity_window(params)):
        frame = spec.fn(source, params)
    missing = [c for c in spec.columns if c not in frame.columns]
    if missing:
        raise RuntimeError(f"metric {name!r} returned no column(s) {missing}")
    return frame.loc[:, list(spec.columns)]


def activity_window(params: BaseModel) -> ActivityWindow | None:
    """The days a metric looks at (start..end, or the window a metric derives from its end), for
    user_type=active; None for a metric without an end day."""
    end = getattr(params, "end", None)
    start = getattr(params, "start", None) or getattr(params, "window_start", None)
    if end is None or start is None:
        return None
    return ActivityWindow(start, end, getattr(params, "timezone", "UTC"))


def _load() -> None:
    # Importing the metric modules registers them; done lazily so the catalog has no import cycle.
    import analytics.comparison  # noqa: F401
    import analytics.kpi  # noqa: F401
    import analytics.product  # noqa: F401
    import analytics.revenue  # noqa: F401
