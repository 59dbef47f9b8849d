"""The builder in Chromium: drag a widget from the palette with a real mouse, resize it, configure
it, save, reload, and find it where it was."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS, sign_in

pytestmark = pytest.mark.e2e


def drag(page, source, dx: float, dy: float, *, to=None) -> None:
    """Press on `source`'s centre, move in small steps to `to` (a point) or by (dx, dy), release."""
    box = source.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    tx, ty = to if to is not None else (x + dx, y + dy)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 5, y + 5, steps=2)
    page.mouse.move(tx, ty, steps=15)
    page.mouse.up()


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll `condition` from Python (the app's CSP forbids the eval behind wait_for_function)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def item_box(page, widget_id: str) -> dict[str, float]:
    """The widget's box relative to the grid's top-left corner."""
    grid = page.locator(".builder-canvas .react-grid-layout").bounding_box()
    box = page.locator(f".builder-item[data-widget='{widget_id}']").bounding_box()
    return {**box, "x": box["x"] - grid["x"], "y": box["y"] - grid["y"]}


def settled_box(page, widget_id: str, timeout: float = 5.0) -> dict[str, float]:
    """The widget's box once two measurements 150 ms apart agree (CSS transitions have ended)."""
    deadline = time.monotonic() + timeout
    last = item_box(page, widget_id)
    while True:
        time.sleep(0.15)
        now = item_box(page, widget_id)
        if now == last or time.monotonic() > deadline:
            return now
        last = now


def test_drag_resize_configure_save_reload(served_app, page):
    sign_in(page, served_app, "admin", next_path="/builder")
    page.wait_for_selector(".builder-canvas .react-grid-layout")
    canvas = page.locator(".builder-canvas .react-grid-layout").bounding_box()

    # A real mouse drag of the "Bar chart" palette entry to the middle of the empty grid.
    drag(
        page,
        page.locator("#builder-palette--bar .palette-label"),
        0,
        0,
        to=(canvas["x"] + canvas["width"] * 0.15, canvas["y"] + 200),
    )
    item = page.locator(".builder-item[data-widget='bar-1']")
    item.wait_for(timeout=10_000)
    before = item_box(page, "bar-1")

    # Resize from the south-east handle: wider and taller.
    handle = page.locator(
        ".react-grid-item:has(.builder-item[data-widget='bar-1']) > .react-resizable-handle"
    )
    drag(page, handle, 180, 120)
    wait_until(lambda: item_box(page, "bar-1")["width"] > before["width"] + 100)
    resized = settled_box(page, "bar-1")  # the grid animates the snap to whole cells
    assert resized["height"] > before["height"] + 60

    # Configure: open the panel, pick the MRR metric, rename it; the preview draws a chart.
    item.locator("button[title=Configure]").click()
    expect(page.locator(".widget-config-panel input").first).to_have_value("Bar chart")
    page.locator(".builder-metric-dropdown").click()
    page.get_by_role("option", name="revenue · mrr", exact=True).click()
    page.keyboard.press("Escape")
    title = page.locator(
        "#"
        + _css_id(
            '{"aio_id":"builder-config","component":"WidgetConfigPanel","subcomponent":"title"}'
        )
    )
    title.fill("MRR by day")
    title.press("Enter")
    page.wait_for_selector(".builder-preview .js-plotly-plot", timeout=30_000)
    expect(item.locator("code")).to_have_text("mrr")
    page.locator("#builder-title-input").fill("Browser built")
    page.locator("#builder-title-input").press("Enter")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "builder-configured.png"), full_page=True)

    page.click("#builder-save-button")
    page.wait_for_url(re.compile(r"/dashboards/browser-built/edit"), timeout=15_000)
    page.get_by_text("Saved version 1.").wait_for()

    page.reload()
    item = page.locator(".builder-item[data-widget='bar-1']")
    item.wait_for()

    def where_it_was() -> bool:  # polled: the grid measures its width once mounted
        after = item_box(page, "bar-1")
        # A grid cell is ~90 px wide and 50+ px tall: 10 px tells a moved or resized widget
        # apart from sub-pixel layout differences after the reload.
        return all(abs(after[k] - resized[k]) < 10 for k in ("x", "y", "width", "height"))

    try:
        wait_until(where_it_was, timeout=5)
    except AssertionError:
        raise AssertionError(f"moved: {resized} -> {item_box(page, 'bar-1')}") from None
    assert item.locator(".builder-item-title").inner_text() == "MRR by day"
    assert item.locator("code").inner_text() == "mrr"
    assert page.locator("#builder-version-badge").inner_text() == "version 1"
    page.screenshot(path=str(ARTIFACTS / "builder-reloaded.png"), full_page=True)
    assert page.console_errors == []


def _css_id(dash_id: str) -> str:
    """The CSS-escaped DOM id Dash gives a dict id (keys sorted, JSON without spaces)."""
    return re.sub(r"([{}\":,\[\]])", r"\\\1", dash_id)


def test_a_stale_save_is_refused_with_a_message_and_keeps_the_edits(served_app, page, browser):
    sign_in(page, served_app, "admin", next_path="/builder?template=revenue_overview")
    page.wait_for_selector(".builder-item[data-widget='mrr']")
    page.locator("#builder-title-input").fill("Two tabs")
    page.locator("#builder-title-input").press("Enter")
    page.click("#builder-save-button")
    page.wait_for_url(re.compile(r"/dashboards/two-tabs/edit"))
    page.get_by_text("Saved version 1.").wait_for()

    other = page.context.new_page()  # same session, a second tab on version 1
    other.goto(served_app + "/dashboards/two-tabs/edit")
    other.wait_for_selector(".builder-item[data-widget='mrr']")
    other.locator("#builder-palette--pie button").click()
    other.locator(".builder-item[data-widget='pie-1']").wait_for()
    other.click("#builder-save-button")
    other.get_by_text("Saved version 2.").wait_for()

    page.locator("#builder-palette--gauge button").click()
    page.locator(".builder-item[data-widget='gauge-1']").wait_for()
    page.click("#builder-save-button")
    alert = page.locator("#builder-status-alert .alert")
    expect(alert).to_contain_text("you edited version 1, the saved one is now version 2")
    assert page.locator(".builder-item[data-widget='gauge-1']").is_visible()  # edits kept
    assert page.locator("#builder-version-badge").inner_text() == "version 1"
    page.screenshot(path=str(ARTIFACTS / "builder-stale-save.png"), full_page=True)

    # History lists both versions; restoring version 1 in the fresh tab saves it as version 3.
    other.click("#builder-history-button")
    other.get_by_role("button", name="Restore").click()
    other.get_by_text("Restored version 1 as version 3.").wait_for()
    expect(other.locator(".builder-item[data-widget='pie-1']")).to_have_count(0)


def test_templates_page_clones_a_builtin_and_home_lists_recent_first(served_app, page):
    sign_in(page, served_app, "admin", next_path="/templates")
    card = page.locator("[data-key='revenue_overview']")
    card.get_by_role("button", name="Clone").click()
    page.get_by_text("Cloned as “Copy of Revenue overview”").wait_for()
    copy = page.locator("[data-key='copy-of-revenue-overview']")
    expect(copy.get_by_role("button", name="Delete")).to_be_visible()
    assert card.get_by_role("button", name="Delete").count() == 0  # built-ins stay
    page.screenshot(path=str(ARTIFACTS / "templates-page.png"), full_page=True)

    copy.get_by_role("button", name="Edit").click()
    page.locator("#templates-edit-name-input").fill("Revenue, my way")
    page.click("#templates-edit-save-button")
    page.get_by_text("Template “Revenue, my way” saved.").wait_for()

    page.goto(served_app + "/builder")  # a new dashboard, opened last: first on the home page
    page.locator("#builder-palette--metric_card button").click()
    page.locator(".builder-item[data-widget='metric-card-1']").wait_for()
    page.locator("#builder-title-input").fill("Opened last")
    page.locator("#builder-title-input").press("Enter")
    page.click("#builder-save-button")
    page.get_by_text("Saved version 1.").wait_for()
    page.goto(served_app + "/")
    page.wait_for_selector("#home-page")
    first = page.locator(".home-item").first
    expect(first).to_contain_text("Opened last")
    expect(first).to_contain_text("viewed")
    page.screenshot(path=str(ARTIFACTS / "home-page.png"), full_page=True)
