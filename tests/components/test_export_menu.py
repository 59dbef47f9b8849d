"""Export menus offer image formats only for widgets that draw a chart (issue 14)."""

from __future__ import annotations

from typing import Any

from components.export_menu import IDS, export_menu
from engine.request import offered_formats
from engine.templates import builtin_dashboards

IMAGES = {"png", "svg", "jpg"}


def _walk(node: Any) -> list[Any]:
    if node is None or isinstance(node, str | int | float):
        return []
    if isinstance(node, list | tuple):
        return [n for child in node for n in _walk(child)]
    return [node, *_walk(getattr(node, "children", None))]


def _formats_by_scope(layout: Any) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for node in _walk(layout):
        cid = getattr(node, "id", None)
        if isinstance(cid, dict) and cid.get("type") == IDS.ITEM:
            out.setdefault(cid["scope"], set()).add(cid["fmt"])
    return out


def test_a_card_or_table_menu_has_no_image_formats(app):
    with app.server.test_request_context("/"):
        chart = _formats_by_scope(export_menu("revenue_analytics", "revenue-trend"))
        card = _formats_by_scope(export_menu("revenue_analytics", "mrr", chart=False))
    assert chart["widget-revenue-trend"] >= IMAGES
    assert card["widget-mrr"] and not IMAGES & card["widget-mrr"]


def test_the_dashboard_grid_offers_images_on_charts_only(app):
    from pages.dashboards import _grid

    spec = builtin_dashboards()["revenue_analytics"]
    with app.server.test_request_context("/"):
        menus = _formats_by_scope(_grid(spec, offered_formats(spec)))
    kinds = {f"widget-{w.id}": w.type for w in spec.widgets}
    assert set(menus) == set(kinds)
    for scope, formats in menus.items():
        charted = kinds[scope] not in ("metric_card", "table")
        assert (formats >= IMAGES) if charted else not (IMAGES & formats), (scope, formats)
    # Both sides are present on this dashboard: cards, a table, and charts (a pie among them).
    assert {"metric_card", "table", "pie", "cohort_heatmap"} <= set(kinds.values())


def test_offered_formats_of_one_widget():
    spec = builtin_dashboards()["revenue_analytics"]
    assert not IMAGES & set(offered_formats(spec, widget="mrr"))
    assert not IMAGES & set(offered_formats(spec, widget="revenue-by-plan"))
    assert set(offered_formats(spec, widget="revenue-by-processor")) >= IMAGES
    assert set(offered_formats(spec)) >= IMAGES  # the dashboard: its first chart
