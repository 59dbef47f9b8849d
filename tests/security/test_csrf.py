"""The cross-site check of session requests (security/csrf.py), and the API refusing them."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from security import tokens
from security.csrf import cross_site_refusal
from store.models import Export, User

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
