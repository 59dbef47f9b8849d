"""Sessions and embeds end when access ends: a copied cookie dies at sign-out, a password, role or
department change and deactivation; an embed link dies when its issuer loses the right to share."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest
from flask import session
from flask_login import login_user
from sqlalchemy import select

from engine.services import EXTENSION_KEY
from security.csrf import form_token
from security.embed import issue_embed
from security.users import create_user, load_principal, set_password
from store.models import User

PASSWORD = "a-long-test-password"
PAGES_BODY = {  # the page router's callback, as Dash sends it for "/"
    "output": ".._pages_content.children..._pages_store.data..",
    "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
    "inputs": [{"id": "_pages_location", "property": "pathname", "value": "/"},
               {"id": "_pages_location", "property": "search", "value": ""}],
    "changedPropIds": ["_pages_location.pathname"],
}  # fmt: skip


def store_of(app):
    return app.server.extensions[EXTENSION_KEY].store


def new_user(app, role: str = "analyst", department: str | None = None):
    """A user of its own, so that ending its sessions leaves the demo users alone."""
    name = f"{role}-{uuid.uuid4().hex[:8]}"
    return create_user(store_of(app), name, PASSWORD, role, department=department)


def signed_in(app, username: str):
    client = app.server.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token, "next": "/"},
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client


def replay(app, client):
    """A second client holding a copy of `client`'s session cookie, as an attacker would."""
    thief = app.server.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def assert_signed_in(client) -> None:
    assert client.get("/").status_code == 200
    assert client.get("/_dash-layout").status_code == 200
    assert client.get("/api/reports").status_code == 200


def assert_signed_out(client) -> None:
    page = client.get("/")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    assert client.get("/_dash-layout").status_code == 401
    assert client.get("/api/reports").status_code == 401
    assert client.post("/_dash-update-component", json=PAGES_BODY).status_code == 401


def test_a_cookie_copied_before_logout_no_longer_works_after_it(app):
    user = new_user(app)
    client = signed_in(app, user.username)
    thief = replay(app, client)
    assert_signed_in(thief)
    assert client.get("/logout").status_code == 302
    assert_signed_out(thief)
    assert_signed_out(client)
    assert_signed_in(signed_in(app, user.username))  # signing in again works


def test_a_password_change_ends_existing_sessions(app):
    user = new_user(app)
    client = signed_in(app, user.username)
    set_password(store_of(app), user.id, "another-long-password")
    assert_signed_out(client)


def save_user_as_admin(app, user_id: int, role: str, department: str | None, active: bool):
    """The admin page's Save callback, run as the demo admin with a valid form token."""
    from pages.admin_users import on_save_user  # pages register themselves once the app exists

    admin = load_principal(store_of(app), str(_id_of(app, "admin")))
    with app.server.test_request_context("/_dash-update-component", method="POST"):
        login_user(admin)
        token = form_token()
        message, *_ = on_save_user(1, token, user_id, role, department, active)
        session.clear()
    assert "Saved" in str(message), message


def _id_of(app, username: str) -> int:
    with store_of(app).session() as s:
        return s.scalar(select(User.id).where(User.username == username))


@pytest.mark.parametrize(
    ("role", "department", "active"),
    [("viewer", None, True), ("analyst", "Sales", True), ("analyst", None, False)],
    ids=["role", "department", "deactivated"],
)
def test_an_admin_change_ends_the_users_sessions(app, role, department, active):
    user = new_user(app, "analyst")
    client = signed_in(app, user.username)
    assert_signed_in(client)
    save_user_as_admin(app, user.id, role, department, active)
    assert_signed_out(client)


def test_an_admin_save_that_changes_nothing_keeps_the_session(app):
    user = new_user(app, "analyst")
    client = signed_in(app, user.username)
    save_user_as_admin(app, user.id, "analyst", None, True)
    assert_signed_in(client)


def test_a_session_stored_before_versions_or_with_a_forged_version_is_refused(app):
    user = new_user(app)
    for stale in (str(user.id), f"{user.id}:7", f"{user.id}:x", f"{user.id}"):
        client = app.server.test_client()
        with client.session_transaction() as sess:
            sess["_user_id"] = stale
            sess["_fresh"] = True
        assert_signed_out(client)


# --- embeds follow their issuer ---


def embed_link(app, issuer, dashboard: str = "kpi_dashboard") -> str:
    svc = app.server.extensions[EXTENSION_KEY]
    token, _ = issue_embed(
        svc.store, svc.settings.embed_secret, issuer, dashboard, {}, 600, datetime.now(UTC)
    )
    return token


def widget_body(token: str) -> dict:
    widget = {"type": "embed-widget-body", "widget": "mrr-trend"}
    return {
        "output": '{"type":"embed-widget-body","widget":["MATCH"]}.children',
        "outputs": {"id": widget, "property": "children"},
        "inputs": [{"id": "embed-state-store", "property": "data", "value": {"token": token, "period": "7d"}}],
        "state": [{"id": widget, "property": "id", "value": widget}],
        "changedPropIds": ["embed-state-store.data"],
    }  # fmt: skip


def assert_embed_serves(client, token: str) -> None:
    assert client.get(f"/embed/{token}").status_code == 200
    assert client.get(f"/embed/{token}/_dash-layout").status_code == 200
    answer = client.post(f"/embed/{token}/_dash-update-component", json=widget_body(token))
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    assert "widget-error" not in answer.get_data(as_text=True)


def assert_embed_refused(client, token: str) -> None:
    page = client.get(f"/embed/{token}")
    assert page.status_code == 403
    assert "no longer has access" in page.get_data(as_text=True)
    assert client.get(f"/embed/{token}/_dash-layout").status_code == 403
    assert client.get(f"/embed/{token}/_dash-dependencies").status_code == 403
    answer = client.post(f"/embed/{token}/_dash-update-component", json=widget_body(token))
    assert answer.status_code == 403
    assert "no longer has access" in answer.get_json()["message"]


@pytest.mark.parametrize(
    ("role", "department", "active"),
    [("analyst", None, False), ("viewer", None, True), ("manager", "Sales", True)],
    ids=["deactivated", "lost-export", "other-scope"],
)
def test_an_embed_stops_when_its_issuer_loses_access(app, role, department, active):
    issuer = new_user(app, "analyst")
    token = embed_link(app, issuer)
    stranger = app.server.test_client()  # no cookie: a cross-site iframe
    assert_embed_serves(stranger, token)
    save_user_as_admin(app, issuer.id, role, department, active)
    assert_embed_refused(stranger, token)


def test_an_embed_callback_rechecks_the_issuer_itself(app):
    from pages.embed import update_embed_widget

    issuer = new_user(app, "analyst")
    token = embed_link(app, issuer)
    with app.server.test_request_context("/"):
        ok = update_embed_widget({"token": token, "period": "7d"}, {"widget": "mrr-trend"})
    assert "widget-error" not in str(ok)
    save_user_as_admin(app, issuer.id, "analyst", None, False)
    with app.server.test_request_context("/"):
        refused = update_embed_widget({"token": token, "period": "7d"}, {"widget": "mrr-trend"})
    assert "no longer has access" in str(refused)


def test_an_embed_of_an_issuer_who_was_deleted_is_refused(app):
    issuer = new_user(app, "analyst")
    token = embed_link(app, issuer)
    with store_of(app).session() as s:
        s.delete(s.get(User, issuer.id))
    assert_embed_refused(app.server.test_client(), token)


def test_the_set_password_command_ends_sessions_and_the_new_password_works(app):
    user = new_user(app)
    client = signed_in(app, user.username)
    runner = app.server.test_cli_runner()
    short = runner.invoke(args=["set-password", user.username, "--password", "short"])
    assert short.exit_code != 0 and "at least 10 characters" in short.output
    assert_signed_in(client)
    result = runner.invoke(args=["set-password", user.username, "--password", "new-password-99"])
    assert result.exit_code == 0, result.output
    assert_signed_out(client)
    fresh = app.server.test_client()
    page = fresh.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = fresh.post(
        "/login",
        data={"username": user.username, "password": "new-password-99", "csrf_token": token},
    )
    assert answer.status_code == 302
    unknown = runner.invoke(args=["set-password", "nobody-here", "--password", "new-password-99"])
    assert unknown.exit_code != 0 and "No user named" in unknown.output
