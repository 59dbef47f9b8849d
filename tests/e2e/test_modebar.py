"""The charts' toolbar in Chromium: a dashboard and an embed offer no "Share chart..." upload."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import serve_app, sign_in
from tests.e2e.test_embed import embed_link

pytestmark = pytest.mark.e2e

SHARE = '.modebar-btn[data-title*="Share"], .modebar-btn[data-title*="Cloud"]'


@pytest.fixture(scope="module")
def app_and_instance(tmp_path_factory, demo_warehouse: str) -> Iterator[tuple[str, Path]]:
    instance = tmp_path_factory.mktemp("modebar-instance")
    with serve_app(instance, demo_warehouse) as base:
        yield base, instance


def _toolbar_of_first_chart(page_or_frame) -> None:
    chart = page_or_frame.locator(".widget-graph .js-plotly-plot").first
    expect(chart.locator(".main-svg").first).to_be_visible(timeout=60_000)
    chart.hover()
    # The toolbar is there (download as PNG at least), so an absent Share button means removed.
    expect(chart.locator('.modebar-btn[data-title*="PNG"]')).to_have_count(1, timeout=10_000)


def test_a_dashboard_chart_has_no_share_button(app_and_instance, page):
    base, _ = app_and_instance
    sign_in(page, base, "admin", next_path="/dashboards/revenue_overview")
    page.wait_for_url("**/dashboards/revenue_overview")
    _toolbar_of_first_chart(page)
    assert page.locator(".modebar-btn").count() > 0
    assert page.locator(SHARE).count() == 0


def test_an_embedded_chart_has_no_share_button(app_and_instance, browser):
    base, instance = app_and_instance
    link = embed_link(base, instance)
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    page.goto(link["url"])
    page.locator("#embed-page").wait_for(timeout=30_000)
    _toolbar_of_first_chart(page)
    assert page.locator(SHARE).count() == 0
    context.close()
