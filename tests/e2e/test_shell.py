"""The app shell in a real browser: login errors, the navbar, the 404 page, logout."""

import pytest

from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e


def test_wrong_password_shows_a_clear_message(served_app, page):
    sign_in(page, served_app, "analyst", "not-it")
    assert page.locator("#login-error").inner_text() == "Wrong username or password."
    assert "/login" in page.url


def test_navbar_shows_pages_and_the_user_then_logout(served_app, page):
    sign_in(page, served_app, "manager")
    page.wait_for_selector("#home-page")
    assert page.locator("#shell-user-text").inner_text() == "manager · manager"
    assert page.get_by_role("link", name="Dashboards").is_visible()
    page.get_by_role("link", name="Sign out").click()
    page.wait_for_url("**/login")
    page.goto(served_app + "/")
    assert "/login" in page.url


def test_unknown_path_draws_the_404_page(served_app, page):
    sign_in(page, served_app, "viewer", next_path="/no/such/page")
    page.wait_for_selector("#not-found")
    assert "Page not found" in page.locator("#not-found").inner_text()
    assert page.console_errors == []
