"""The cross-site check of session requests (security/csrf.py), and the API refusing them."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from security import tokens
from security.csrf import cross_site_refusal
from store.models import Export, Schedule, ScheduleRun, User

HOST = "reports.example:8050"


@pytest.mark.parametrize(
    ("method", "headers", "refused"),
    [
        ("POST", {"Sec-Fetch-Site": "same-origin", "Origin": "http://reports.example:8050"}, False),
        ("POST", {"Sec-Fetch-Site": "none"}, False),
        ("POST", {"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"}, True),
        ("DELETE", {"Sec-Fetch-Site": "same-site", "Origin": "http://a.reports.example"}, True),
        ("POST", {"Origin": "http://reports.example:8050"}, False),  # no Sec-Fetch-*: old browser
        ("PUT", {"Origin": "http://evil.example"}, True),
        ("PATCH", {"Origin": "null"}, True),  # sandboxed frames, data: URLs
        ("POST", {"Origin": "http://reports.example:9999"}, True),  # another port, another origin
        ("POST", {}, False),  # not a browser page: curl, scripts
        ("POST", {"Referer": "http://evil.example/page"}, True),  # no Origin: the Referer decides
        ("POST", {"Referer": "http://reports.example:8050/dashboards"}, False),
        ("GET", {"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"}, False),
    ],
)
def test_cross_site_refusal(method, headers, refused):
    reason = cross_site_refusal(method, headers, HOST)
    assert (reason is not None) == refused
    if refused and "Origin" in headers:
        assert headers["Origin"] in reason


BODY = {"type": "kpi_dashboard", "period": "7d"}


def test_a_session_post_from_the_same_origin_is_accepted(login, client):
    login("admin")
    response = client.post(
        "/api/reports/widget-data",
        json=BODY,
        headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://sub.localhost", "Sec-Fetch-Site": "same-site"},
    ],
)
def test_a_session_post_from_another_site_is_refused(login, client, headers):
    login("admin")
    response = client.post("/api/reports/widget-data", json=BODY, headers=headers)
    assert response.status_code == 403
    assert response.get_json()["error"] == "cross_site"


def test_a_cross_site_export_is_refused_before_any_job_exists(app, login, client):
    login("admin")
    store = app.server.extensions["nexpo"].store
    with store.session() as session:
        before = session.scalar(select(func.count()).select_from(Export))
    response = client.post(
        "/api/export/pdf",
        json={"widget_id": "kpi_dashboard", "period": "30d", "format": "pdf"},
        headers={"Origin": "http://evil.example"},
    )
    assert response.status_code == 403 and response.get_json()["error"] == "cross_site"
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Export)) == before


def test_a_bearer_token_is_not_an_ambient_credential_so_its_origin_is_not_checked(app):
    store = app.server.extensions["nexpo"].store
    with store.session() as session:
        admin_id = session.scalar(select(User.id).where(User.username == "admin"))
    plaintext, _ = tokens.issue(store, admin_id, "origin test")
    response = app.server.test_client().post(
        "/api/reports/widget-data",
        json=BODY,
        headers={"Authorization": f"Bearer {plaintext}", "Origin": "http://evil.example"},
    )
    assert response.status_code == 200


# --- the login form: its token must be present on both sides ---


@pytest.mark.parametrize("form", [{}, {"csrf_token": ""}])
def test_a_login_post_with_no_token_and_no_cookie_is_refused(app, form):
    fresh = app.server.test_client()  # never loaded the form: no session cookie at all
    answer = fresh.post("/login", data={"username": "admin", "password": "nexpo-demo", **form})
    assert answer.status_code == 400
    assert "expired" in answer.get_data(as_text=True)
    assert fresh.get("/").status_code == 302  # not signed in


def test_a_login_post_from_another_site_is_refused(app):
    import re

    fresh = app.server.test_client()
    page = fresh.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = fresh.post(
        "/login",
        data={"username": "admin", "password": "nexpo-demo", "csrf_token": token},
        headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert answer.status_code == 403
    assert fresh.get("/").status_code == 302


# --- every state-changing session request, body-less ones and callbacks included ---

EVIL = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
SAME = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
SCHEDULE = {
    "name": "CSRF target",
    "report": "revenue_overview",
    "frequency": "weekly",
    "time": "09:00",
    "weekday": 0,
    "timezone": "UTC",
    "formats": ["csv"],
    "recipients": {"email": ["finance@example.com"]},
}


@pytest.fixture
def schedule_id(login, client):
    login("admin")
    created = client.post("/api/schedules", json=SCHEDULE, headers=SAME)
    assert created.status_code == 201, created.get_json()
    return created.get_json()["id"]


def _runs_and_paused(app, sid: int) -> tuple[int, bool]:
    with app.server.extensions["nexpo"].store.session() as session:
        runs = session.scalar(
            select(func.count()).select_from(ScheduleRun).where(ScheduleRun.schedule_id == sid)
        )
        return runs, session.get(Schedule, sid).paused


@pytest.mark.parametrize("action", ["run", "pause", "resume"])
def test_a_body_less_schedule_action_from_another_site_is_refused(app, client, schedule_id, action):
    before = _runs_and_paused(app, schedule_id)
    answer = client.post(f"/api/schedules/{schedule_id}/{action}", headers=EVIL)
    assert answer.status_code == 403 and answer.get_json()["error"] == "cross_site"
    assert _runs_and_paused(app, schedule_id) == before
    deleted = client.delete(f"/api/schedules/{schedule_id}", headers=EVIL)
    assert deleted.status_code == 403
    assert client.get(f"/api/schedules/{schedule_id}").status_code == 200


def test_a_body_less_schedule_action_from_this_site_works(app, client, schedule_id):
    assert client.post(f"/api/schedules/{schedule_id}/pause", headers=SAME).status_code == 200
    assert _runs_and_paused(app, schedule_id)[1] is True
    assert client.post(f"/api/schedules/{schedule_id}/resume", headers=SAME).status_code == 200
    assert _runs_and_paused(app, schedule_id)[1] is False


def test_a_bearer_token_from_another_origin_still_pauses(app, schedule_id):
    store = app.server.extensions["nexpo"].store
    with store.session() as session:
        admin_id = session.scalar(select(User.id).where(User.username == "admin"))
    plaintext, _ = tokens.issue(store, admin_id, "csrf test")
    stranger = app.server.test_client()
    answer = stranger.post(
        f"/api/schedules/{schedule_id}/pause",
        headers={"Authorization": f"Bearer {plaintext}", **EVIL},
    )
    assert answer.status_code == 200, answer.get_json()
    assert _runs_and_paused(app, schedule_id)[1] is True


def test_a_bad_bearer_token_is_401_even_with_a_session(login, client):
    login("admin")
    answer = client.get("/api/reports", headers={"Authorization": "Bearer nxp_nope"})
    assert answer.status_code == 401


PAGES_BODY = {  # the page router's callback, as Dash sends it for "/"
    "output": ".._pages_content.children..._pages_store.data..",
    "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
    "inputs": [{"id": "_pages_location", "property": "pathname", "value": "/"},
               {"id": "_pages_location", "property": "search", "value": ""}],
    "changedPropIds": ["_pages_location.pathname"],
}  # fmt: skip


@pytest.mark.parametrize(
    "headers",
    [EVIL, {"Origin": "http://evil.example"}, {"Referer": "http://evil.example/x"}],
    ids=["fetch-metadata", "origin", "referer"],
)
def test_a_dash_callback_from_another_site_is_refused(login, client, headers):
    login("viewer")
    answer = client.post("/_dash-update-component", json=PAGES_BODY, headers=headers)
    assert answer.status_code == 403 and answer.get_json()["error"] == "cross_site"


def test_a_dash_callback_from_this_site_works(login, client):
    login("viewer")
    answer = client.post("/_dash-update-component", json=PAGES_BODY, headers=SAME)
    assert answer.status_code == 200


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_logout_from_another_site_is_refused_and_the_session_lives(login, client, method):
    login("viewer")
    answer = client.open("/logout", method=method, headers=EVIL)
    assert answer.status_code == 403
    assert client.get("/").status_code == 200
    assert client.open("/logout", method=method, headers=SAME).status_code == 302
    assert client.get("/").status_code == 302


def test_embed_callbacks_are_cross_site_by_design_and_not_refused(app, login, client):
    login("analyst")
    link = client.get("/api/dashboards/kpi_dashboard/embed").get_json()
    widget = {"type": "embed-widget-body", "widget": "mrr-trend"}
    body = {
        "output": '{"type":"embed-widget-body","widget":["MATCH"]}.children',
        "outputs": {"id": widget, "property": "children"},
        "inputs": [{"id": "embed-state-store", "property": "data", "value": {"token": link["token"], "period": "7d"}}],
        "state": [{"id": widget, "property": "id", "value": widget}],
        "changedPropIds": ["embed-state-store.data"],
    }  # fmt: skip
    frame = app.server.test_client()
    answer = frame.post(
        f"/embed/{link['token']}/_dash-update-component",
        json=body,
        headers={"Origin": "https://partner.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert answer.status_code == 200
