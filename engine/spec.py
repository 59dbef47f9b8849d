"""Specs are data: a dashboard, a report and a template are the same pydantic model."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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


class DashboardSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str
    description: str = ""
    default_period: Period = "30d"
    widgets: list[WidgetSpec]

    def widget(self, widget_id: str) -> WidgetSpec:
        for widget in self.widgets:
            if widget.id == widget_id:
                return widget
        raise KeyError(widget_id)
