"""/api/templates (custom templates, clone) and /api/dashboards (create, versioned update, delete)."""

from __future__ import annotations

import uuid

import pytest

from engine.templates import builtin_dashboards


def _spec(title: str | None = None) -> dict:
    return {
        "title": title or f"Board {uuid.uuid4().hex[:6]}",
        "description": "MRR only",
        "widgets": [
            {"id": "mrr", "type": "line", "title": "MRR", "metric": "mrr",
             "options": {"x": "date", "y": ["mrr"]}},
        ],
    }  # fmt: skip


@pytest.fixture
def admin(bearer):
    return bearer("admin")


# --- templates ---


def test_admin_creates_updates_and_deletes_a_custom_template(client, admin):
    made = client.post("/api/templates", json=_spec("Finance view"), headers=admin)
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    key = body["id"]
    assert key.startswith("finance-view") and body["builtin"] is False
    assert made.headers["Location"].endswith(f"/api/templates/{key}")
    listed = client.get("/api/templates?per_page=100", headers=admin).get_json()["items"]
    assert key in {t["id"] for t in listed}
    changed = client.put(f"/api/templates/{key}", json=_spec("Finance view 2"), headers=admin)
    assert changed.status_code == 200 and changed.get_json()["title"] == "Finance view 2"
    assert changed.get_json()["spec"]["key"] == key
    assert client.delete(f"/api/templates/{key}", headers=admin).status_code == 204
    assert client.get(f"/api/templates/{key}", headers=admin).status_code == 404


def test_clone_makes_a_new_custom_template_titled_copy_of(client, admin):
    answer = client.post("/api/templates/kpi_dashboard/clone", headers=admin)
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["id"] != "kpi_dashboard" and body["builtin"] is False
    assert body["title"] == "Copy of " + builtin_dashboards()["kpi_dashboard"].title
    assert len(body["spec"]["widgets"]) == len(builtin_dashboards()["kpi_dashboard"].widgets)
    named = client.post(
        "/api/templates/kpi_dashboard/clone", json={"name": "My KPIs"}, headers=admin
    ).get_json()
    assert named["title"] == "My KPIs" and named["id"] != body["id"]


def test_built_in_templates_cannot_be_changed_or_deleted(client, admin):
    for answer in (
        client.put("/api/templates/revenue_analytics", json=_spec(), headers=admin),
        client.delete("/api/templates/revenue_analytics", headers=admin),
    ):
        assert answer.status_code == 409
        assert "built-in template" in answer.get_json()["message"]


def test_templates_answer_404_for_an_unknown_key(client, admin):
    assert client.put("/api/templates/nope", json=_spec(), headers=admin).status_code == 404
    assert client.delete("/api/templates/nope", headers=admin).status_code == 404
    assert client.post("/api/templates/nope/clone", headers=admin).status_code == 404


def test_a_template_body_is_validated(client, admin):
    unknown_metric = _spec()
    unknown_metric["widgets"][0]["metric"] = "bogus"
    answer = client.post("/api/templates", json=unknown_metric, headers=admin)
    assert answer.status_code == 400
    assert answer.get_json()["message"] == "widgets.0.metric: unknown metric 'bogus'"
    no_widgets = client.post("/api/templates", json={"title": "x"}, headers=admin)
    assert no_widgets.status_code == 400 and no_widgets.get_json()["message"].startswith("widgets")
    not_json = client.post("/api/templates", data="x", headers=admin)
    assert not_json.status_code == 400


def test_a_viewer_may_not_create_change_delete_or_clone_templates(client, admin, bearer):
    key = client.post("/api/templates", json=_spec(), headers=admin).get_json()["id"]
    viewer = bearer("viewer")
    assert client.post("/api/templates", json=_spec(), headers=viewer).status_code == 403
    assert client.put(f"/api/templates/{key}", json=_spec(), headers=viewer).status_code == 403
    assert client.delete(f"/api/templates/{key}", headers=viewer).status_code == 403
    # The viewer may read the KPI dashboard, but may not create a copy of it.
    assert client.post("/api/templates/kpi_dashboard/clone", headers=viewer).status_code == 403


# --- dashboards ---


def test_admin_creates_a_dashboard_and_saves_new_versions(client, admin):
    made = client.post("/api/dashboards", json=_spec("Ops board"), headers=admin)
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    slug = body["id"]
    assert slug.startswith("ops-board") and body["version"] == 1 and body["kind"] == "dashboard"
    assert client.get(f"/api/dashboards/{slug}", headers=admin).status_code == 200
    v2 = client.put(f"/api/dashboards/{slug}", json={**_spec("Ops 2"), "version": 1}, headers=admin)
    assert v2.status_code == 200 and v2.get_json()["version"] == 2
    assert v2.get_json()["title"] == "Ops 2"
    # A save based on version 1 again: someone (this client) saved version 2 meanwhile.
    stale = client.put(f"/api/dashboards/{slug}", json={**_spec(), "version": 1}, headers=admin)
    assert stale.status_code == 409
    assert "version 1" in stale.get_json()["message"] and "version 2" in stale.get_json()["message"]
    assert client.get(f"/api/dashboards/{slug}", headers=admin).get_json()["title"] == "Ops 2"


def test_a_dashboard_update_needs_the_version_it_is_based_on(client, admin):
    slug = client.post("/api/dashboards", json=_spec(), headers=admin).get_json()["id"]
    answer = client.put(f"/api/dashboards/{slug}", json=_spec(), headers=admin)
    assert answer.status_code == 400 and answer.get_json()["message"].startswith("version:")


def test_delete_a_dashboard(client, admin):
    slug = client.post("/api/dashboards", json=_spec(), headers=admin).get_json()["id"]
    assert client.delete(f"/api/dashboards/{slug}", headers=admin).status_code == 204
    assert client.get(f"/api/dashboards/{slug}", headers=admin).status_code == 404
    assert client.delete(f"/api/dashboards/{slug}", headers=admin).status_code == 404


def test_dashboards_answer_404_unknown_and_409_built_in(client, admin):
    body = {**_spec(), "version": 1}
    assert client.put("/api/dashboards/nope", json=body, headers=admin).status_code == 404
    assert client.delete("/api/dashboards/nope", headers=admin).status_code == 404
    for answer in (
        client.put("/api/dashboards/kpi_dashboard", json=body, headers=admin),
        client.delete("/api/dashboards/kpi_dashboard", headers=admin),
    ):
        assert answer.status_code == 409 and "clone it" in answer.get_json()["message"]


def test_a_viewer_may_not_create_change_or_delete_dashboards(client, admin, bearer):
    slug = client.post("/api/dashboards", json=_spec(), headers=admin).get_json()["id"]
    viewer = bearer("viewer")
    assert client.post("/api/dashboards", json=_spec(), headers=viewer).status_code == 403
    put = client.put(f"/api/dashboards/{slug}", json={**_spec(), "version": 1}, headers=viewer)
    assert put.status_code == 403
    assert client.delete(f"/api/dashboards/{slug}", headers=viewer).status_code == 403
    assert client.get(f"/api/dashboards/{slug}", headers=admin).get_json()["version"] == 1


def test_a_dashboard_body_with_a_bad_widget_answers_400(client, admin):
    spec = _spec()
    spec["widgets"][0]["type"] = "sparkle"
    answer = client.post("/api/dashboards", json=spec, headers=admin)
    assert answer.status_code == 400 and answer.get_json()["message"].startswith("widgets.0.type")
