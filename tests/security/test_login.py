"""Login: every page, callback and route except login and /health needs a session."""

import pytest


def test_pages_redirect_to_login_without_a_session(client):
    response = client.get("/dashboards/revenue_overview?period=7d")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/dashboards/revenue_overview")


@pytest.mark.parametrize("path", ["/_dash-layout", "/_dash-dependencies"])
def test_dash_internals_answer_401_without_a_session(client, path):
    response = client.get(path)
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"


def test_callbacks_answer_401_without_a_session(client):
    response = client.post("/_dash-update-component", json={"output": "x.children", "inputs": []})
    assert response.status_code == 401


def test_health_and_login_are_public(client):
    assert client.get("/health").status_code == 200
    assert client.get("/login").status_code == 200


def test_wrong_password_gets_a_clear_message(client, login):
    response = login("analyst", "not-the-password")
    assert response.status_code == 401
    assert "Wrong username or password." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_login_then_pages_and_logout(client, login):
    response = login("manager")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    assert client.get("/_dash-layout").status_code == 200
    client.get("/logout")
    assert client.get("/").status_code == 302


def test_login_form_without_csrf_token_is_refused(client):
    client.get("/login")
    response = client.post("/login", data={"username": "admin", "password": "nexpo-demo"})
    assert response.status_code == 400


def test_next_cannot_leave_the_site(client, login):
    import re

    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(
        "/login",
        data={
            "username": "admin",
            "password": "nexpo-demo",
            "csrf_token": token,
            "next": "//evil.example/x",
        },
    )
    assert response.headers["Location"] == "/"


def test_demo_users_have_their_roles(app):
    from sqlalchemy import select

    from engine.services import EXTENSION_KEY
    from store.models import User

    store = app.server.extensions[EXTENSION_KEY].store
    demo = ("admin", "manager", "analyst", "viewer")  # other tests add users to the shared app
    with store.session() as s:
        roles = dict(
            s.execute(select(User.username, User.role).where(User.username.in_(demo))).all()
        )
        hashes = list(s.scalars(select(User.password_hash).where(User.username.in_(demo))))
    assert roles == {
        "admin": "admin",
        "manager": "manager",
        "analyst": "analyst",
        "viewer": "viewer",
    }
    assert all(h.startswith("$argon2id$") for h in hashes)


def test_logins_and_failures_are_audited(app, client, login):
    from security.audit import query

    store = app.server.extensions["nexpo"].store
    login("viewer", "wrong-password")
    login("viewer")
    entries = query(store, username="viewer", action="login").items
    assert [e.outcome for e in entries][:2] == ["ok", "denied"]
    assert all("wrong-password" not in str(e.detail) for e in entries)
