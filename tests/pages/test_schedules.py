"""The schedules page's callbacks, called directly: editing keeps every webhook and its secret,
and the recipients the form does not show."""

from __future__ import annotations

import json

import pytest
from flask_login import login_user
from sqlalchemy import select

from engine import scheduler as sched
from engine.schedule_service import Ops
from security.users import load_principal
from store.models import DeliveryAttempt, Schedule, User

SECRETS = {
    "https://a.example.com/hook": "secret-a-123",
    "https://b.example.com/hook": "secret-b-456",
}


@pytest.fixture(scope="module")
def page(app):
    """The page module: Dash pages register only once an app exists."""
    import sys

    import dash

    (name,) = [
        p["module"] for p in dash.page_registry.values() if p["module"].endswith(".schedules")
    ]
    return sys.modules[name]


@pytest.fixture
def as_admin(app):
    services = app.server.extensions["nexpo"]
    with services.store.session() as session:
        admin_id = session.scalar(select(User.id).where(User.username == "admin"))
    principal = load_principal(services.store, str(admin_id))
    with app.server.test_request_context("/schedules"):
        login_user(principal)
        yield services, principal


@pytest.fixture
def schedule_id(as_admin):
    services, principal = as_admin
    created = Ops(services, principal).create(
        {
            "name": "Two webhooks",
            "report": "revenue_overview",
            "frequency": "weekly",
            "timezone": "Europe/Berlin",
            "formats": ["csv"],
            "recipients": {
                "email": ["finance@example.com"],
                "webhook": [{"url": url, "secret": secret} for url, secret in SECRETS.items()],
                "portal": ["analyst"],
            },
        }
    )
    return created["id"]


def _webhook_inputs(rows) -> list[tuple[str, str]]:
    """(url, secret) shown in each webhook row of the form."""
    out = []
    for row in rows:
        url_input, secret_input = row.children[0].children, row.children[1].children
        out.append((url_input.value, secret_input.value))
    return out


def _stored(services, schedule_id: int) -> dict:
    with services.store.session() as session:
        return dict(session.get(Schedule, schedule_id).recipients)


def test_editing_through_the_form_keeps_both_webhooks_their_secrets_and_the_portal(
    page, as_admin, schedule_id
):
    services, _ = as_admin
    style, title, _error_open, rows, kept, *values = page.fill_form({"id": schedule_id})
    assert style == {} and title == "Edit “Two webhooks”"
    # Every webhook is shown; no secret ever reaches the browser.
    assert _webhook_inputs(rows) == [(url, "") for url in SECRETS]
    assert not any(s in json.dumps(rows, default=repr) for s in SECRETS.values())
    assert "portal: analyst" in kept

    form = dict(zip(page.FIELD_IDS, values, strict=True))
    form[page.IDS.NAME] = "Two webhooks, renamed"
    urls = [u for u, _ in _webhook_inputs(rows)]
    result = page.save(1, {"id": schedule_id}, 0, urls, ["", ""], *form.values())
    error, error_open = result[0], result[1]
    assert (error, error_open) == ("", False)

    stored = _stored(services, schedule_id)
    assert stored["webhook"] == [{"url": url, "secret": secret} for url, secret in SECRETS.items()]
    assert stored["portal"] == ["analyst"] and stored["email"] == ["finance@example.com"]


def test_a_new_secret_replaces_only_its_webhooks_and_a_removed_row_is_removed(
    page, as_admin, schedule_id
):
    services, _ = as_admin
    _style, _title, _open, rows, _kept, *values = page.fill_form({"id": schedule_id})
    urls = [u for u, _ in _webhook_inputs(rows)]

    # The second secret changes, a third webhook is added in a new row, an empty row is ignored.
    result = page.save(
        1,
        {"id": schedule_id},
        0,
        [*urls, "https://c.example.com/hook", ""],
        ["[redacted]", "new-secret-b", "secret-c-789", ""],
        *values,
    )
    assert result[1] is False, result[0]
    assert _stored(services, schedule_id)["webhook"] == [
        {"url": "https://a.example.com/hook", "secret": "secret-a-123"},
        {"url": "https://b.example.com/hook", "secret": "new-secret-b"},
        {"url": "https://c.example.com/hook", "secret": "secret-c-789"},
    ]

    # Removing the first row (the form sends the other rows only) removes that webhook alone.
    page.save(1, {"id": schedule_id}, 0, urls[1:], [""], *values)
    assert _stored(services, schedule_id)["webhook"] == [
        {"url": "https://b.example.com/hook", "secret": "new-secret-b"}
    ]


def test_a_new_schedule_starts_with_one_empty_webhook_row(page, as_admin):
    _style, title, _open, rows, kept, *_values = page.fill_form({"id": None})
    assert title == "New schedule" and kept == ""
    assert _webhook_inputs(rows) == [("", "")]


def test_the_history_shows_the_portal_recipient_by_username(page, as_admin, schedule_id):
    services, principal = as_admin
    with services.store.session() as session:
        run = sched.run_now(session, schedule_id)
        session.flush()
        run.state = "succeeded"
        session.add(
            DeliveryAttempt(
                run_id=run.id, channel="portal", recipient=str(principal.id), state="sent"
            )
        )
    history = page.render_history(schedule_id, 0, None)
    text = json.dumps(history.to_plotly_json(), default=lambda c: c.to_plotly_json())
    assert "portal \\u2192 admin" in text or "portal → admin" in text
    assert f'portal \\u2192 {principal.id}"' not in text


def _new_form(page, **changes) -> list:
    _style, _title, _open, _rows, _kept, *values = page.fill_form({"id": None})
    form = dict(zip(page.FIELD_IDS, values, strict=True))
    form.update({getattr(page.IDS, k): v for k, v in changes.items()})
    return list(form.values())


def _count(services) -> int:
    with services.store.session() as session:
        return len(session.scalars(select(Schedule.id)).all())


def test_an_empty_form_is_refused_in_plain_words_and_nothing_is_stored(page, as_admin):
    services, _ = as_admin
    before = _count(services)
    values = _new_form(page, REPORT=None, EMAILS="", STORAGE="")
    error, error_open, *_ = page.save(1, None, 0, [""], [""], *values)
    assert error_open is True
    items = [li.children for li in error.children]
    assert items == [
        "Choose a report.",
        "Add at least one recipient: an e-mail address, a webhook or a storage folder.",
    ]
    assert _count(services) == before


def test_a_form_without_recipients_says_so_and_a_bad_address_names_its_field(page, as_admin):
    error, error_open, *_ = page.save(1, None, 0, [""], [""], *_new_form(page, EMAILS=" "))
    assert (error, error_open) == (
        "Add at least one recipient: an e-mail address, a webhook or a storage folder.",
        True,
    )
    values = _new_form(page, EMAILS="finance@example.com, bob")
    error, error_open, *_ = page.save(1, None, 0, [""], [""], *values)
    assert error == "E-mail address 2: 'bob' is not an e-mail address."
    assert "recipients.email" not in error


def test_bad_json_in_the_filters_box_is_an_inline_error_in_save_and_preview(page, as_admin):
    values = _new_form(page, EMAILS="finance@example.com", FILTERS='{"country": ')
    error, error_open, *_ = page.save(1, None, 0, [""], [""], *values)
    assert error_open is True and error.startswith("Filters: Expected JSON such as")
    from components.schedule_callbacks import show_preview

    shown = show_preview(*values)
    assert shown.id == "sched-preview-error" and "Filters: Expected JSON" in shown.children
    values = _new_form(page, EMAILS="finance@example.com", FILTERS="[1, 2]")
    error, _open, *_ = page.save(1, None, 0, [""], [""], *values)
    assert error == "Filters: Expected an object of parameter values."


def test_a_long_name_is_refused_and_a_padded_one_is_trimmed(page, as_admin):
    services, _ = as_admin
    values = _new_form(page, EMAILS="finance@example.com", NAME="n" * 121)
    error, _open, *_ = page.save(1, None, 0, [""], [""], *values)
    assert error == "Name: The schedule name is 121 characters long; keep it to 120."
    values = _new_form(page, EMAILS="finance@example.com", NAME="  Weekly   revenue ")
    error, _open, _editing, _version, saved_id, *_ = page.save(1, None, 0, [""], [""], *values)
    assert error == ""
    with services.store.session() as session:
        assert session.get(Schedule, saved_id).name == "Weekly revenue"
