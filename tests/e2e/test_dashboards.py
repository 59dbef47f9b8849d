"""End to end: the three seed templates and the revenue overview drawn in Chromium, the period and
filters in the URL, and a failing widget that breaks only itself."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from engine.templates import builtin_dashboards
from tests.e2e.conftest import ARTIFACTS, sign_in

pytestmark = pytest.mark.e2e

ALL_DRAWN = """() => {
    const bodies = [...document.querySelectorAll('.widget-body')];
    return bodies.length > 0
        && bodies.every(b => b.childElementCount > 0)
        && document.querySelectorAll('[data-dash-is-loading=true]').length === 0;
}"""

# How much each widget drew: plotted points, bars, slices or heatmap cells (an indicator counts
# 1), a card's value, or grid rows.
DRAWN = """(sel) => {
    const root = document.querySelector(sel);
    const rows = root.querySelectorAll('.ag-center-cols-container .ag-row').length;
    if (rows) return rows;
    const card = root.querySelector('[data-testid=metric-value]');
    if (card) return card.innerText.trim() === '—' ? 0 : 1;
    const gd = root.querySelector('.js-plotly-plot');
    if (!gd || !gd.data || !root.querySelector('.main-svg')) return 0;
    // calcdata: what Plotly computed to draw (points, bars, slices); a heatmap's cells from z.
    return gd.data.reduce((n, t, i) => n + (
        t.type === 'indicator' ? (t.value == null ? 0 : 1)
        : t.type === 'heatmap' ? t.z.flat().filter(v => v != null).length
        : (gd.calcdata && gd.calcdata[i] ? gd.calcdata[i].filter(p => p.y != null || p.v != null || p.s != null).length : 0)), 0);
}"""


def body(widget_id: str) -> str:
    return (
        "[id='"
        + json.dumps({"type": "widget-body", "widget": widget_id}, separators=(",", ":"))
        + "']"
    )


def wait_until_drawn(page) -> None:
    page.wait_for_timeout(300)  # let a just-triggered callback mark its widget as loading
    page.wait_for_function(ALL_DRAWN, timeout=60_000)


@pytest.mark.parametrize(
    "key", ["revenue_analytics", "user_analytics", "kpi_dashboard", "revenue_overview"]
)
def test_every_widget_of_the_template_draws_something(served_app, page, key):
    sign_in(page, served_app, "admin", next_path=f"/dashboards/{key}")
    page.wait_for_url(f"**/dashboards/{key}")
    wait_until_drawn(page)
    assert page.locator(".widget-error").count() == 0, page.locator(
        ".widget-error"
    ).all_inner_texts()
    spec = builtin_dashboards()[key]
    for widget in spec.widgets:  # charts draw asynchronously once their data arrived
        page.wait_for_function(f"(sel) => ({DRAWN})(sel) > 0", arg=body(widget.id), timeout=30_000)
    drawn = {w.id: page.evaluate(DRAWN, body(w.id)) for w in spec.widgets}
    assert all(n > 0 for n in drawn.values()), json.dumps(drawn)
    assert page.console_errors == []
    # Table numbers go through the house formats: never a float's full repr (176.33333333333334).
    cells = page.locator(".comparison-table .ag-cell").all_inner_texts()
    raw = [c for c in cells if re.search(r"\d\.\d{4,}", c)]
    assert not raw, raw[:5]
    if key != "revenue_overview":
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{key}.png"), full_page=True)


def card_texts(page, ids: list[str]) -> dict[str, str]:
    wait_until_drawn(page)
    return {i: page.locator(body(i)).inner_text() for i in ids}


def test_period_and_filters_live_in_the_url(served_app, page):
    cards = ["mrr", "arr", "clv", "churn-rate"]
    sign_in(page, served_app, "admin", next_path="/dashboards/revenue_analytics")
    page.wait_for_url("**/dashboards/revenue_analytics")
    before = card_texts(page, cards)

    page.get_by_role("button", name="7d").click()
    page.wait_for_url("**/dashboards/revenue_analytics?period=7d")
    after = card_texts(page, cards)
    assert after != before  # the change against the previous period (and the churn) moved
    assert after["churn-rate"] != before["churn-rate"]

    page.locator(
        "[id='"
        + json.dumps({"filter": "plan", "type": "dashboard-filter-dropdown"}, separators=(",", ":"))
        + "']"
    ).click()
    plan_filter = page.locator(
        "[id='"
        + json.dumps({"filter": "plan", "type": "dashboard-filter-dropdown"}, separators=(",", ":"))
        + "']"
    )
    page.get_by_role("option", name="Pro Monthly").click()
    page.wait_for_url("**/dashboards/revenue_analytics?period=7d&plan=Pro+Monthly")
    filtered = card_texts(page, cards)
    assert page.locator(".widget-error").count() == 0
    # The accounts on Pro Monthly are a part of all accounts: their MRR is smaller.
    money = lambda text: float(text.split("\n")[0].replace("$", "").replace(",", ""))  # noqa: E731
    assert 0 < money(filtered["mrr"]) < money(after["mrr"])

    page.reload()
    assert card_texts(page, cards) == filtered
    assert "plan=Pro+Monthly" in page.url
    assert "Pro Monthly" in plan_filter.inner_text()
    assert not page.get_by_role("button", name="7d").evaluate(
        "b => b.className.includes('outline')"
    )
    assert page.console_errors == []


def _save_dashboard(instance: Path) -> None:
    """A saved dashboard with one good widget and one whose metric cannot run."""
    from store import init_store
    from store.models import Dashboard

    spec = {
        "key": "half-broken",
        "title": "Half broken",
        "widgets": [
            {"id": "good", "type": "metric_card", "title": "MRR", "metric": "mrr",
             "options": {"value": "mrr", "x": "date", "format": "money"},
             "position": {"x": 0, "y": 0, "w": 6}},
            {"id": "broken", "type": "line", "title": "Retention", "metric": "retention",
             "params": {"start_event": "signup_completed", "return_event": "app_opened", "interval": "fortnight"},
             "position": {"x": 6, "y": 0, "w": 6}},
        ],
    }  # fmt: skip
    store = init_store(f"sqlite:///{instance / 'nexpo.db'}")
    with store.session() as session:
        session.add(Dashboard(slug="half-broken", title="Half broken", spec=spec))
        session.commit()


def test_a_failing_widget_shows_its_error_and_the_others_still_draw(
    served_app, page, tmp_path_factory
):
    logs = tmp_path_factory.getbasetemp().glob("served-instance*/server.log")
    instance = max(logs, key=lambda p: p.stat().st_mtime).parent  # the served app's instance
    _save_dashboard(instance)
    sign_in(page, served_app, "admin", next_path="/dashboards/half-broken")
    page.wait_for_url("**/dashboards/half-broken")
    wait_until_drawn(page)
    error = page.locator(body("broken") + " .widget-error")
    assert error.count() == 1 and "interval" in error.inner_text()
    assert page.locator(".widget-error").count() == 1
    page.wait_for_function(f"(sel) => ({DRAWN})(sel) > 0", arg=body("good"), timeout=30_000)
