"""Specs are data: a dashboard, a report and a template are the same pydantic model."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
Period = Literal["7d", "30d", "90d", "custom"]
ValueFormat = Literal["money", "percent", "number"]
# The seed's vocabulary, kept as data in the templates and validated here.
DateRange = Literal["last_7_days", "last_30_days", "last_90_days"]
DATE_RANGE_PERIODS: dict[str, str] = {
    "last_7_days": "7d",
    "last_30_days": "30d",
    "last_90_days": "90d",
}
FilterName = Literal["processor", "plan", "country", "department", "user_type"]
FILTER_NAMES: tuple[str, ...] = ("processor", "plan", "country", "department", "user_type")
ExportFormat = Literal["pdf", "excel", "csv", "json", "xml", "png", "svg", "jpg"]
Frequency = Literal["daily", "weekly", "monthly"]
Channel = Literal["email", "webhook", "storage"]
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
    position: GridPosition = Field(default_factory=GridPosition)


class DefaultFilters(BaseModel):
    """The view a dashboard opens with: a date range and dimension filters (empty = all)."""

    model_config = ConfigDict(extra="forbid")

    date_range: DateRange | None = None
    processor: list[str] = Field(default_factory=list)
    plan: list[str] = Field(default_factory=list)
    country: list[str] = Field(default_factory=list)
    department: list[str] = Field(default_factory=list)
    user_type: list[str] = Field(default_factory=list)

    def dimensions(self) -> dict[str, list[str]]:
        """The non-empty dimension filters, by name."""
        return {name: getattr(self, name) for name in FILTER_NAMES if getattr(self, name)}


class ScheduleOptions(BaseModel):
    """What the schedule form offers for this dashboard."""

    model_config = ConfigDict(extra="forbid")

    frequencies: list[Frequency] = Field(default_factory=lambda: ["daily", "weekly", "monthly"])
    default_frequency: Frequency = "weekly"
    channels: list[Channel] = Field(default_factory=lambda: ["email"])

    @model_validator(mode="after")
    def _default_is_offered(self) -> ScheduleOptions:
        if self.default_frequency not in self.frequencies:
            raise ValueError(f"default_frequency {self.default_frequency!r} is not in frequencies")
        return self


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
    export_formats: list[ExportFormat] = Field(default_factory=lambda: ["pdf", "excel", "csv"])
    schedule_options: ScheduleOptions = Field(default_factory=ScheduleOptions)

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
