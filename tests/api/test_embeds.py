"""Embed links through the API and the /embed/<token> routes: issue, use, tamper, expire, revoke."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.services import EXTENSION_KEY
from security.embed import issue_embed
from security.users import Principal


def _link(client, headers, key="kpi_dashboard", **query):
    answer = client.get(f"/api/dashboards/{key}/embed", headers=headers, query_string=query)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_a_link_opens_without_a_session_and_its_requests_stay_under_the_token(app, bearer):
    link = _link(app.server.test_client(), bearer("analyst"), period="7d", ttl_seconds=600)
    stranger = app.server.test_client()  # no cookie at all, as in a cross-site iframe
    page = stranger.get(f"/embed/{link['token']}")
    assert page.status_code == 200
    assert f'"requests_pathname_prefix": "/embed/{link["token"]}/"' in page.get_data(as_text=True)
    assert "Set-Cookie" not in page.headers
    layout = stranger.get(f"/embed/{link['token']}/_dash-layout").get_data(as_text=True)
    assert "embed-state-store" in layout and "shell-navbar" not in layout
    assert "embed-period-radio" not in layout  # the token locks 7d
    graph = stranger.get(f"/embed/{link['token']}/_dash-dependencies").get_json()
    assert graph and all("embed-" in c["output"] for c in graph)


def test_tampered_expired_and_revoked_links_get_an_error_page_never_data(app, bearer):
    client = app.server.test_client()
    headers = bearer("analyst")
    link = _link(client, headers)
    token = link["token"]
    body, sig = token.split(".")
    tampered = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + sig
    for bad in (tampered, token + "x", "garbage"):
        answer = client.get(f"/embed/{bad}")
        assert answer.status_code == 403
        assert "Cannot show this dashboard" in answer.get_data(as_text=True)
        assert client.get(f"/embed/{bad}/_dash-layout").status_code == 403
    svc = app.server.extensions[EXTENSION_KEY]
    issuer = Principal(1, "admin", "admin")
    old, _ = issue_embed(
        svc.store, svc.settings.embed_secret, issuer, "kpi_dashboard", {}, 60,
        datetime(2020, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    expired = client.get(f"/embed/{old}")
    assert expired.status_code == 403 and "expired" in expired.get_data(as_text=True)
    assert client.delete(f"/api/embeds/{link['jti']}", headers=headers).status_code == 204
    revoked = client.get(f"/embed/{token}")
    assert revoked.status_code == 403 and "revoked" in revoked.get_data(as_text=True)


def test_an_embed_token_cannot_drive_the_apps_other_callbacks(app, bearer):
    link = _link(app.server.test_client(), bearer("admin"))
    stranger = app.server.test_client()
    body = {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
        "inputs": [{"id": "_pages_location", "property": "pathname", "value": "/admin/users"},
                   {"id": "_pages_location", "property": "search", "value": ""}],
        "changedPropIds": ["_pages_location.pathname"],
    }  # fmt: skip
    answer = stranger.post(f"/embed/{link['token']}/_dash-update-component", json=body)
    assert answer.status_code == 403
    assert stranger.post("/_dash-update-component", json=body).status_code == 401


def test_editing_the_page_state_cannot_swap_in_another_token(app, bearer):
    client = app.server.test_client()
    mine = _link(client, bearer("analyst"))["token"]
    other = _link(client, bearer("admin"), key="user_analytics")["token"]
    body = {
        "output": '{"type":"embed-widget-body","widget":["MATCH"]}.children',
        "outputs": {"id": {"type": "embed-widget-body", "widget": "mrr"}, "property": "children"},
        "inputs": [{"id": "embed-state-store", "property": "data", "value": {"token": other, "period": "90d"}}],
        "state": [{"id": {"type": "embed-widget-body", "widget": "mrr"}, "property": "id",
                   "value": {"type": "embed-widget-body", "widget": "mrr"}}],
        "changedPropIds": ["embed-state-store.data"],
    }  # fmt: skip
    answer = client.post(f"/embed/{mine}/_dash-update-component", json=body)
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "changed or was not issued" in text


def test_viewers_may_not_issue_links_and_bad_options_are_400(app, bearer):
    client = app.server.test_client()
    viewer = client.get("/api/dashboards/kpi_dashboard/embed", headers=bearer("viewer"))
    assert viewer.status_code == 403
    admin = bearer("admin")
    assert client.get("/api/dashboards/nope/embed", headers=admin).status_code == 404
    for query in ({"ttl_seconds": "5"}, {"ttl_seconds": "x"}, {"period": "1y"}):
        answer = client.get(
            "/api/dashboards/kpi_dashboard/embed", headers=admin, query_string=query
        )
        assert answer.status_code == 400 and answer.get_json()["error"] == "bad_request"


def test_api_tokens_are_shown_once_listed_and_revoked(app, bearer):
    client = app.server.test_client()
    headers = bearer("viewer")
    created = client.post("/api/tokens", json={"name": "script"}, headers=headers)
    assert created.status_code == 201
    secret = created.get_json()["token"]
    listed = client.get("/api/tokens", headers=headers).get_json()["items"]
    assert all("token" not in t for t in listed)
    assert any(t["id"] == created.get_json()["id"] for t in listed)
    mine = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/reports", headers=mine).status_code == 200
    assert (
        client.delete(f"/api/tokens/{created.get_json()['id']}", headers=headers).status_code == 204
    )
    assert client.get("/api/reports", headers=mine).status_code == 401
    others = client.delete(f"/api/tokens/{created.get_json()['id'] - 1}", headers=bearer("analyst"))
    assert others.status_code == 404


def test_pagination_and_json_errors(app, bearer):
    client = app.server.test_client()
    headers = bearer("admin")
    page = client.get("/api/templates?per_page=2&page=2", headers=headers).get_json()
    assert page["page"] == 2 and page["per_page"] == 2 and len(page["items"]) <= 2
    assert page["pages"] == -(-page["total"] // 2)
    bad = client.get("/api/reports?page=0", headers=headers)
    assert bad.status_code == 400 and bad.get_json()["error"] == "bad_request"
    missing = client.get("/api/reports/nope", headers=headers)
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"
    unknown = client.get("/api/no/such/route", headers=headers)
    assert unknown.status_code == 404 and unknown.is_json
