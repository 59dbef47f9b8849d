"""The dashboard page's view state: read from the URL, written back to it, live or settled."""

from datetime import date, timedelta

import pytest

from engine.periods import Window, today_in
from engine.templates import builtin_dashboards


@pytest.fixture(scope="module")
def page(app):
    """The page module: Dash pages register only once an app exists."""
    import sys

    import dash

    (name,) = [
        p["module"] for p in dash.page_registry.values() if p["module"].endswith("dashboards")
    ]
    return sys.modules[name]


OPTIONS = {"plan": ["Pro Monthly", "Team"], "processor": ["stripe", "paypal"], "country": []}


def test_a_url_without_parameters_opens_the_templates_defaults(page):
    spec = builtin_dashboards()["kpi_dashboard"]
    state = page.view_state(spec, {}, OPTIONS)
    assert state == {
        "key": "kpi_dashboard",
        "period": "7d",
        "start": None,
        "end": None,
        "filters": {},
        "refresh": "off",
    }


def test_a_copied_url_reproduces_the_view(page):
    spec = builtin_dashboards()["revenue_analytics"]
    params = {
        "period": "custom",
        "start": "2026-09-01",
        "end": "2026-09-30",
        "plan": ["Pro Monthly", "Team"],
        "processor": "stripe",
        "refresh": "1m",
    }
    state = page.view_state(spec, params, OPTIONS)
    assert state["filters"] == {"plan": ["Pro Monthly", "Team"], "processor": ["stripe"]}
    query = page.state_query(state)
    assert query == (
        "?period=custom&start=2026-09-01&end=2026-09-30"
        "&processor=stripe&plan=Pro+Monthly&plan=Team&refresh=1m"
    )


def test_unknown_values_fall_back_to_defaults(page):
    spec = builtin_dashboards()["revenue_analytics"]
    state = page.view_state(
        spec, {"period": "custom", "plan": "Gold", "refresh": "1s"}, OPTIONS
    )  # custom without dates, a plan that does not exist, an unknown refresh
    assert (state["period"], state["filters"], state["refresh"]) == ("30d", {}, "off")
    assert page.state_query(state) == "?period=30d"


def test_only_a_window_that_includes_today_is_live(page):
    today = today_in("UTC")
    assert page.is_live(Window(today - timedelta(days=6), today), "UTC")
    assert not page.is_live(Window(date(2026, 1, 1), date(2026, 1, 31)), "UTC")


def test_the_header_says_how_fresh_the_data_is(page, app):
    from datetime import UTC, datetime

    from analytics.freshness import Freshness

    spec = builtin_dashboards()["revenue_analytics"]
    window = Window(date(2026, 11, 9), date(2026, 12, 8))
    fresh = Freshness({"events": datetime(2026, 12, 8, 14, 5, tzinfo=UTC)}).label("UTC")
    state = {"period": "30d", "refresh": "off", "filters": {}}
    with app.server.test_request_context("/"):
        bar = page._toolbar(spec, state, window, window, "UTC", freshness=fresh)
    texts = [c.children for c in _walk(bar) if getattr(c, "id", None) == page.IDS.FRESHNESS]
    assert texts == ["Data up to Dec 8, 2026 14:05 UTC"]


def test_the_embed_header_says_how_fresh_the_data_is():
    from layouts.embed import IDS, embed_shell

    spec = builtin_dashboards()["kpi_dashboard"]
    shell = embed_shell(
        spec, "t", "30d", locked=True, window_text="w", freshness="Data up to Dec 8, 2026"
    )
    texts = [c.children for c in _walk(shell) if getattr(c, "id", None) == IDS.FRESHNESS]
    assert texts == ["Data up to Dec 8, 2026"]


def _walk(node):
    yield node
    children = getattr(node, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if hasattr(child, "to_plotly_json"):
            yield from _walk(child)
