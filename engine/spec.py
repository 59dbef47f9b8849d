"""Specs are data: a dashboard, a report and a template are the same pydantic model."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from analytics.filters import ACCOUNT_FILTERS, FILTER_NAMES, FILTER_VALUES
from engine.periods import PERIODS
from settings import EXPORT_FORMATS

__all__ = ["FILTER_NAMES", "FILTER_VALUES", "DashboardSpec", "WidgetSpec"]

WidgetType = Literal[
    "metric_card",
    "line",
    "area",
    "bar",
    "stacked_bar",
    "funnel",
    "cohort_heatmap",
    "gauge",
    "table",
    "pie",
]
Period = Literal[PERIODS]  # type: ignore[valid-type]  (the one list, engine/periods.py)
ValueFormat = Literal["money", "percent", "number"]
# The seed's vocabulary, kept as data in the templates and validated here.
DateRange = Literal["last_7_days", "last_30_days", "last_90_days"]
DATE_RANGE_PERIODS: dict[str, str] = {
    "last_7_days": "7d",
    "last_30_days": "30d",
    "last_90_days": "90d",
}
# The one list of filter names, and the fixed values of revenue_type and user_type.
FilterName = Literal[
    "processor", "plan", "country", "department", "user_role", "revenue_type", "user_type"
]
RevenueType = Literal["all", "recurring", "one_time"]
UserType = Literal["all", "active"]
ExportFormat = Literal[EXPORT_FORMATS]  # type: ignore[valid-type]  (the one list, settings.py)
# The seed's schedule options; "cron" (a custom expression) only where a spec lists it.
Frequency = Literal["daily", "weekly", "monthly", "cron"]
# A seed visualization and the widget types that draw it.
VISUALIZATIONS: dict[str, tuple[str, ...]] = {
    "funnel_chart": ("funnel",),
    "revenue_trend": ("line", "area", "bar", "stacked_bar"),
    "cohort_analysis": ("cohort_heatmap",),
    "gauge_chart": ("gauge",),
    "trend_lines": ("line", "area"),
    "comparison_table": ("table",),
    "metric_cards": ("metric_card",),
    "distribution": ("pie", "bar"),
}
Visualization = Literal[
    "funnel_chart",
    "revenue_trend",
    "cohort_analysis",
    "gauge_chart",
    "trend_lines",
    "comparison_table",
    "metric_cards",
    "distribution",
]


class GridPosition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    x: int = Field(0, ge=0)
    y: int = Field(0, ge=0)
    w: int = Field(6, ge=1, le=12)
    h: int = Field(4, ge=1)


class WidgetSpec(BaseModel):
    """One widget: which metric it shows, with which parameters, drawn how and where."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    type: WidgetType
    title: str
    metric: str
    params: dict[str, Any] = Field(default_factory=dict)
    # Drawing options: x/y columns, value column, number format, card mode ("last" or "period").
    options: dict[str, Any] = Field(default_factory=dict)
    # Which of the seed's visualizations (the spec's `visualizations`) this widget draws.
    visualization: Visualization | None = None
    position: GridPosition = Field(default_factory=GridPosition)


class DefaultFilters(BaseModel):
    """The view a dashboard opens with, in the seed's shape: a date range, revenue_type and
    user_type ("all" or one value), and account filters (a list, or "all" = empty)."""

    model_config = ConfigDict(extra="forbid")

    date_range: DateRange | None = None
    revenue_type: RevenueType = "all"
    user_type: UserType = "all"
    processor: list[str] = Field(default_factory=list)
    plan: list[str] = Field(default_factory=list)
    country: list[str] = Field(default_factory=list)
    department: list[str] = Field(default_factory=list)
    user_role: list[str] = Field(default_factory=list)

    @field_validator(*ACCOUNT_FILTERS, mode="before")
    @classmethod
    def _all_is_empty(cls, value: Any) -> Any:
        if value is None or value == "all":
            return []
        return [value] if isinstance(value, str) else value

    @field_validator(*FILTER_VALUES, mode="before")
    @classmethod
    def _one_value(cls, value: Any) -> Any:
        # Saved specs hold lists (the page's multi-select): [] is "all", [x] is x.
        if isinstance(value, list | tuple):
            if len(value) > 1:
                raise ValueError("one value, or all")
            return value[0] if value else "all"
        return value

    def dimensions(self) -> dict[str, list[str]]:
        """The filters that restrict something, by name, as lists of values."""
        out: dict[str, list[str]] = {}
        for name in FILTER_NAMES:
            value = getattr(self, name)
            if isinstance(value, str):
                if value != "all":
                    out[name] = [value]
            elif value:
                out[name] = list(value)
        return out


def _plain_list(value: Any) -> Any:
    """Schedule options as the seed writes them (a list); the older {frequencies: [...]} shape of
    saved specs is read as its frequencies."""
    if isinstance(value, dict):
        return value.get("frequencies", ["daily", "weekly", "monthly"])
    return value


class DashboardSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str
    description: str = ""
    default_period: Period = "30d"
    widgets: list[WidgetSpec]
    # The seed's template fields; optional so saved dashboards and older specs stay valid.
    data_sources: list[str] = Field(default_factory=lambda: ["warehouse"])
    default_filters: DefaultFilters = Field(default_factory=DefaultFilters)
    # Headline metrics in the seed's names (clv, churn_rate...); engine.templates resolves them.
    metrics: list[str] = Field(default_factory=list)
    visualizations: list[Visualization] = Field(default_factory=list)
    # What the dashboard offers, as the seed's names: export formats, and schedule frequencies.
    export_formats: list[ExportFormat] = Field(default_factory=lambda: ["pdf", "excel", "csv"])
    schedule_options: list[Frequency] = Field(
        default_factory=lambda: ["daily", "weekly", "monthly", "cron"]
    )

    @field_validator("schedule_options", mode="before")
    @classmethod
    def _schedule_list(cls, value: Any) -> Any:
        return _plain_list(value)

    @model_validator(mode="after")
    def _period_follows_date_range(self) -> DashboardSpec:
        date_range = self.default_filters.date_range
        if date_range is None:
            return self
        period = DATE_RANGE_PERIODS[date_range]
        if "default_period" in self.model_fields_set and self.default_period != period:
            raise ValueError(
                f"default_period {self.default_period!r} contradicts default_filters.date_range"
                f" {date_range!r}"
            )
        self.default_period = period  # type: ignore[assignment]
        return self

    def widget(self, widget_id: str) -> WidgetSpec:
        for widget in self.widgets:
            if widget.id == widget_id:
                return widget
        raise KeyError(widget_id)
