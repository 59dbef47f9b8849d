"""The schedules page in Chromium: create a weekly schedule, read the preview, run it now, and watch
the run arrive in the history with the delivery status of its recipient — and in a real inbox."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator

import pytest

from tests.delivery.servers import smtp_server_fixture  # noqa: F401 - fixture
from tests.e2e.conftest import ARTIFACTS, serve_app, sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def scheduling_app(tmp_path, demo_warehouse, smtp_server) -> Iterator[str]:
    """`python app.py` with its scheduler ticking every second and e-mail going to aiosmtpd."""
    with serve_app(
        tmp_path / "instance",
        demo_warehouse,
        SCHEDULER_ENABLED="true",
        SCHEDULER_TICK_SECONDS="1",
        SCHEDULER_EXECUTOR="threads",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp_server.port),
    ) as base:
        yield base


def _choose(page, dropdown_id: str, text: str) -> None:
    """Pick `text` in a Dash 4 dropdown: open it, search, click the option."""
    page.locator(f"#{dropdown_id}").click()
    page.locator(".dash-dropdown-search").fill(text)
    page.locator(".dash-dropdown-option").filter(has_text=text).first.click()


def test_weekly_schedule_created_previewed_run_and_delivered(scheduling_app, page, smtp_server):
    sign_in(page, scheduling_app, "admin", next_path="/schedules")
    page.wait_for_selector("#schedules-page")
    assert page.get_by_role("link", name="Schedules").is_visible()
    page.click("#sched-new")
    page.wait_for_selector("#sched-form-name", state="visible")

    page.fill("#sched-form-name", "Weekly revenue for finance")
    page.get_by_label("Weekly").check()
    _choose(page, "sched-form-timezone", "Europe/Berlin")
    page.get_by_label("PDF", exact=True).uncheck()
    page.get_by_label("CSV", exact=True).check()
    page.get_by_label("Excel", exact=True).check()
    page.fill("#sched-form-emails", "finance@example.com")

    preview = page.locator("#sched-preview-description")
    preview.wait_for()
    page.wait_for_function(
        "() => document.querySelector('#sched-preview-description')"
        "?.innerText.includes('Every Monday at 09:00 (Europe/Berlin)')"
    )
    items = page.locator("#sched-preview-list li")
    assert items.count() == 5
    first = items.nth(0).inner_text()
    assert first.startswith("Mon ") and " 09:00 CE" in first and "UTC)" in first
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "schedules-form-preview.png"), full_page=True)

    page.click("#sched-form-save")
    page.wait_for_selector("#sched-table")
    row = page.locator("#sched-table tbody tr").filter(has_text="Weekly revenue for finance")
    assert "Every Monday at 09:00 (Europe/Berlin)" in row.inner_text()

    row.get_by_role("button", name="Run now").click()
    page.wait_for_selector("#sched-history-table")
    delivered = page.locator(".sched-delivery").filter(has_text="email → finance@example.com")
    delivered.wait_for(timeout=90_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.sched-delivery')].some("
        "d => d.innerText.includes('finance@example.com') && d.innerText.includes('sent'))",
        timeout=90_000,
    )
    history = page.locator("#sched-history-table").inner_text()
    assert "succeeded" in history and "manual" in history
    assert "revenue-overview_" in history and ".csv" in history and ".xlsx" in history
    assert "portal → admin" in history  # the owner's report history, by username
    page.screenshot(path=str(ARTIFACTS / "schedules-run-history.png"), full_page=True)

    # The e-mail really arrived, with the report attached.
    deadline = time.monotonic() + 10
    while not smtp_server.messages and time.monotonic() < deadline:
        time.sleep(0.1)
    [message] = smtp_server.messages
    assert message["To"] == "finance@example.com"
    # The 7 days before the run, for people: "Weekly revenue for finance — Nov 16 – Nov 22, 2026 (…)"
    assert re.fullmatch(
        r"Weekly revenue for finance — [A-Z][a-z]{2} \d{1,2}(, \d{4})? – [A-Z][a-z]{2} \d{1,2}, "
        r"\d{4} \([\w/]+\)",
        message["Subject"],
    ), message["Subject"]
    attachments = {p.get_filename(): p.get_content() for p in message.iter_attachments()}
    name = next(n for n in attachments if n.endswith(".csv"))
    text = attachments[name]
    text = text.decode() if isinstance(text, bytes) else text
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["# Report: Revenue overview"]
    assert page.console_errors == []


def test_editing_a_schedule_keeps_all_of_its_webhooks(scheduling_app, page):
    sign_in(page, scheduling_app, "admin", next_path="/schedules")
    page.wait_for_selector("#schedules-page")
    page.click("#sched-new")
    page.wait_for_selector("#sched-form-name", state="visible")
    page.fill("#sched-form-name", "Two hooks")
    page.get_by_label("Daily").check()
    page.click("#sched-form-webhook-add")
    rows = page.locator(".sched-webhook")
    rows.nth(1).wait_for()
    for i, host in enumerate(("a", "b")):
        rows.nth(i).locator("input").nth(0).fill(f"https://{host}.example.com/hook")
        rows.nth(i).locator("input").nth(1).fill(f"secret-{host}-123")
    page.click("#sched-form-save")
    row = page.locator("#sched-table tbody tr").filter(has_text="Two hooks")
    row.wait_for()
    assert "2 webhook" in row.inner_text()

    # Edit: both webhooks are in the form, secrets are not; saving keeps both (and the secrets).
    # The saved form is hidden with what was typed still in it: wait for it to close, then for
    # the edit to open it again, filled from the service.
    page.wait_for_selector("#sched-form", state="hidden")
    row.get_by_role("button", name="Edit").click()
    page.wait_for_selector("#sched-form", state="visible")
    page.wait_for_function(
        "() => document.querySelectorAll('.sched-webhook').length === 2"
        " && document.querySelector('#sched-form-name').value === 'Two hooks'"
    )
    urls = [rows.nth(i).locator("input").nth(0).input_value() for i in range(2)]
    assert urls == ["https://a.example.com/hook", "https://b.example.com/hook"]
    assert [rows.nth(i).locator("input").nth(1).input_value() for i in range(2)] == ["", ""]
    page.fill("#sched-form-name", "Two hooks, renamed")
    page.click("#sched-form-save")
    row = page.locator("#sched-table tbody tr").filter(has_text="Two hooks, renamed")
    row.wait_for()
    assert "2 webhook" in row.inner_text()
    assert page.locator("#sched-form-error").is_hidden()

    # Removing a row removes that webhook only.
    page.wait_for_selector("#sched-form", state="hidden")
    row.get_by_role("button", name="Edit").click()
    page.wait_for_selector("#sched-form", state="visible")
    page.wait_for_function("() => document.querySelectorAll('.sched-webhook').length === 2")
    rows.nth(0).get_by_role("button", name="Remove").click()
    page.wait_for_function("() => document.querySelectorAll('.sched-webhook').length === 1")
    assert rows.nth(0).locator("input").nth(0).input_value() == "https://b.example.com/hook"
    page.click("#sched-form-save")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#sched-table tbody tr')].some("
        "r => r.innerText.includes('Two hooks, renamed') && r.innerText.includes('1 webhook'))"
    )
    assert page.console_errors == []
