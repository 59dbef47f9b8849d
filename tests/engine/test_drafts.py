"""The builder's draft transforms: add, drop, move, configure, and parameters from the catalog."""

from __future__ import annotations

import pytest

from analytics.catalog import list_metrics
from components.builder import grid_item_id, grid_layout, param_controls, widget_of_item
from engine import drafts
from engine.spec import DashboardSpec, GridPosition


def test_add_widget_puts_it_where_dropped_with_a_fresh_id_and_fitting_options():
    draft, first = drafts.add_widget(drafts.new_draft(), "line", x=2, y=1)
    draft, second = drafts.add_widget(draft, "line")
    spec = DashboardSpec.model_validate(draft)
    assert (first, second) == ("line-1", "line-2")
    assert spec.widget("line-1").position == GridPosition(x=2, y=1, w=6, h=5)
    assert spec.widget("line-2").position.y == 6  # below the others
    assert spec.widget("line-1").options["y"] == ["revenue", "revenue_ma7"]


def test_a_drop_near_the_right_edge_keeps_the_widget_inside_the_grid():
    draft, widget_id = drafts.add_widget(drafts.new_draft(), "bar", x=11, y=0)
    assert DashboardSpec.model_validate(draft).widget(widget_id).position.x == 6


def test_apply_layout_writes_grid_positions_into_the_spec():
    draft, widget_id = drafts.add_widget(drafts.new_draft(), "metric_card")
    layout = [
        {"i": grid_item_id(widget_id), "x": 4, "y": 3, "w": 5, "h": 2},
        {"i": "builder-palette--bar", "x": 0, "y": 0, "w": 1, "h": 1},  # a drop in flight
    ]
    draft = drafts.apply_layout(draft, layout, {i["i"]: widget_of_item(i["i"]) for i in layout})
    spec = DashboardSpec.model_validate(draft)
    assert spec.widget(widget_id).position == GridPosition(x=4, y=3, w=5, h=2)
    assert grid_layout(spec)[0]["i"] == grid_item_id(widget_id)


def test_configure_with_a_new_metric_derives_options_and_parses_parameters():
    draft, widget_id = drafts.add_widget(drafts.new_draft(), "bar")
    draft = drafts.configure_widget(
        draft,
        widget_id,
        title="Trial conversion",
        widget_type="line",
        metric="trial_conversion",
        params={"method": "rolling", "interval": "", "nonsense": 1},
        fmt=None,
    )
    widget = DashboardSpec.model_validate(draft).widget(widget_id)
    assert (widget.title, widget.type, widget.metric) == (
        "Trial conversion",
        "line",
        "trial_conversion",
    )
    assert widget.params == {"method": "rolling"}
    assert widget.options == {"x": "period_start", "format": "percent", "y": ["value"]}


def test_remove_widget():
    draft, widget_id = drafts.add_widget(drafts.new_draft(), "pie")
    assert DashboardSpec.model_validate(drafts.remove_widget(draft, widget_id)).widgets == []


def test_parameters_exclude_the_window_and_keep_enums_and_defaults():
    fields = {f.name: f for f in drafts.param_fields("retention")}
    assert "start" not in fields and "timezone" not in fields
    assert fields["interval"].kind == "enum" and fields["interval"].default == "week"
    assert fields["periods"].kind == "integer" and fields["periods"].default == 8
    assert drafts.coerce_params("funnel", {"steps": "signup, subscribe", "window_days": "7"}) == {
        "steps": ["signup", "subscribe"],
        "window_days": 7,
    }


@pytest.mark.parametrize("metric", [m.name for m in list_metrics()])
def test_every_metric_gets_parameter_controls_and_options(metric):
    param_controls("panel", metric, {})
    for widget_type in drafts.WIDGET_TYPES:
        assert "format" in drafts.default_options(metric, widget_type)
