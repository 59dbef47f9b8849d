"""The seed's troubleshooting endpoints (api/troubleshooting.py): who may call them and what they answer.

Role cases hold under the old policy table and the seed's (issue 12): viewers read the KPI
dashboard but not the revenue report and may not export; analysts and admins may export.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from datasources.registry import DataSources
from engine import smoke
from engine.generate import generate
from engine.periods import resolve
from engine.services import EXTENSION_KEY, Services
from engine.templates import builtin_dashboards
from exports import ExportError, content_type
from security.users import load_principal
from settings import EXPORT_FORMATS
from store.models import User

MAGIC = {"pdf": "%PDF", "png": "\x89PNG"}


def services_of(app) -> Services:
    return app.server.extensions[EXTENSION_KEY]


def demo_user(app, username: str):
    store = services_of(app).store
    with store.session() as session:
        user_id = session.scalar(select(User.id).where(User.username == username))
    return load_principal(store, str(user_id))


# --- GET /api/health/datasources ---


def test_datasource_health_is_open_and_answers_like_health_datasources(client, app):
    api = client.get("/api/health/datasources")
    plain = client.get("/health/datasources")
    assert api.status_code == 200 and api.headers["Cache-Control"] == "no-store"
    body = api.get_json()
    assert body["status"] == "ok" == plain.get_json()["status"]
    assert [(s["name"], s["status"]) for s in body["datasources"]] == [("warehouse", "up")]
    assert body["datasources"][0]["latency_ms"] >= 0
    assert set(body) == set(plain.get_json())
    # no DSN, no file path of the warehouse
    assert "duckdb://" not in api.get_data(as_text=True)
    assert services_of(app).settings.warehouse_url not in api.get_data(as_text=True)


def test_datasource_health_reports_a_down_warehouse_without_its_dsn(
    client, app, monkeypatch, tmp_path
):
    base = services_of(app)
    dsn = "postgresql+psycopg2://reports:s3cret@127.0.0.1:1/warehouse"
    broken = base.settings.replace(warehouse_url=dsn)
    monkeypatch.setitem(
        app.server.extensions,
        EXTENSION_KEY,
        Services(broken, base.store, DataSources.from_settings(broken)),
    )
    response = client.get("/api/health/datasources")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "degraded" and body["datasources"][0]["status"] == "down"
    assert body["datasources"][0]["error"]
    assert "s3cret" not in response.get_data(as_text=True)
    assert "127.0.0.1:1" not in response.get_data(as_text=True)


# --- GET /api/reports/performance/<id> ---


def test_performance_needs_a_token_or_session(client):
    response = client.get("/api/reports/performance/kpi_dashboard")
    assert response.status_code == 401 and response.get_json()["error"] == "unauthorized"


def test_performance_of_an_unknown_report_is_404(client, bearer):
    response = client.get("/api/reports/performance/no_such_report", headers=bearer("admin"))
    assert response.status_code == 404 and "no_such_report" in response.get_json()["message"]


def test_performance_needs_read_on_the_report(client, bearer):
    response = client.get("/api/reports/performance/revenue_analytics", headers=bearer("viewer"))
    assert response.status_code == 403 and response.get_json()["error"] == "forbidden"
    assert (
        client.get("/api/reports/performance/kpi_dashboard", headers=bearer("viewer")).status_code
        == 200
    )


def test_performance_counts_a_new_generation_with_its_widgets(client, app, bearer):
    def read():
        response = client.get("/api/reports/performance/revenue_overview", headers=bearer("admin"))
        assert response.status_code == 200
        return response.get_json()

    before = read()
    svc = services_of(app)
    spec = builtin_dashboards()["revenue_overview"]
    results = generate(
        spec, resolve("30d", svc.settings.report_timezone), demo_user(app, "admin"), svc
    )
    after = read()
    assert after["source"] == "store"
    assert after["generations"]["count"] == min(
        before["generations"]["count"] + 1, after["samples"]
    )
    assert (
        after["generations"]["p50_ms"] > 0
        and after["generations"]["p95_ms"] >= after["generations"]["p50_ms"]
    )
    widgets = {w["id"]: w for w in after["widgets"]}
    assert list(widgets) == [w.id for w in spec.widgets]
    for result in results:
        assert widgets[result.widget.id]["rows"] == result.row_count
        assert widgets[result.widget.id]["samples"] >= 1
    assert after["cache"]["fetches"] > before["cache"]["fetches"]
    assert 0 <= after["cache"]["hit_ratio"] <= 1


# --- POST /api/export/test ---


def test_export_test_needs_a_token_or_session(client):
    response = client.post("/api/export/test", json={"format": "pdf", "data": "sample"})
    assert response.status_code == 401


def test_export_test_needs_the_export_permission_somewhere(client, bearer):
    response = client.post(
        "/api/export/test", json={"format": "csv", "data": "sample"}, headers=bearer("viewer")
    )
    assert response.status_code == 403 and "export" in response.get_json()["message"]
    response = client.post(
        "/api/export/test", json={"format": "csv", "data": "sample"}, headers=bearer("analyst")
    )
    assert response.status_code == 200 and response.get_json()["ok"] is True


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_export_test_renders_the_sample_in_every_format(client, bearer, fmt):
    response = client.post(
        "/api/export/test", json={"format": fmt, "data": "sample"}, headers=bearer("admin")
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["format"] == fmt and body["ok"] is True and body["offered"] is True
    assert body["content_type"] == content_type(fmt)
    assert body["bytes"] > 500 and body["seconds"] > 0


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"format": "docx", "data": "sample"}, "'docx'"),
        ({"data": "sample"}, "format is required"),
        ({"format": "pdf", "data": "warehouse"}, "'warehouse'"),
        ({"format": "pdf", "data": "sample", "pages": 3}, "'pages'"),
    ],
)
def test_export_test_bad_bodies_are_400_naming_the_problem(client, bearer, body, names):
    response = client.post("/api/export/test", json=body, headers=bearer("admin"))
    assert response.status_code == 400 and names in response.get_json()["message"]


def test_export_test_reads_curls_form_encoded_json(client, bearer):
    # `curl -d '{...}'` labels the JSON application/x-www-form-urlencoded.
    response = client.post(
        "/api/export/test",
        data=json.dumps({"format": "json", "data": "sample"}),
        content_type="application/x-www-form-urlencoded",
        headers=bearer("admin"),
    )
    assert response.status_code == 200 and response.get_json()["format"] == "json"


def test_a_failing_renderer_is_503_naming_the_format(client, bearer, monkeypatch):
    import exports.sample

    def broken(*args, **kwargs):
        raise ExportError("chromium gone", "Chromium could not start.")

    monkeypatch.setattr(exports.sample, "render", broken)
    response = client.post(
        "/api/export/test", json={"format": "pdf", "data": "sample"}, headers=bearer("admin")
    )
    assert response.status_code == 503
    body = response.get_json()
    assert body["ok"] is False and body["format"] == "pdf"
    assert body["message"] == "The pdf export test failed: Chromium could not start."


# --- POST /api/reports/test ---


@pytest.fixture
def fresh_smoke(monkeypatch):
    monkeypatch.setattr(smoke, "REUSE_SECONDS", 0.0)


def test_smoke_test_is_open_and_passes_every_template(client, fresh_smoke):
    response = client.post("/api/reports/test")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "pass"
    assert [t["id"] for t in body["templates"]] == list(builtin_dashboards())
    for template in body["templates"]:
        assert template["status"] == "pass" and template["failed_widgets"] == []
        assert template["seconds"] > 0 and template["widgets"] > 0
        # pass/fail and times only: no rows, no values
        assert set(template) == {"id", "title", "status", "seconds", "widgets", "failed_widgets"}


def test_smoke_test_with_a_broken_warehouse_is_503_naming_the_templates(
    client, app, monkeypatch, tmp_path, fresh_smoke
):
    import duckdb

    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()  # a warehouse without a single table
    base = services_of(app)
    broken = base.settings.replace(warehouse_url=f"duckdb:///{empty}")
    sources = DataSources.from_settings(broken)
    monkeypatch.setitem(app.server.extensions, EXTENSION_KEY, Services(broken, base.store, sources))
    try:
        response = client.post("/api/reports/test")
    finally:
        sources.close()
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "fail"
    failed = {t["id"]: t for t in body["templates"] if t["status"] == "fail"}
    assert set(failed) == set(builtin_dashboards())
    for template in failed.values():
        assert template["failed_widgets"]
        assert all(w["message"] for w in template["failed_widgets"])
    text = response.get_data(as_text=True)
    assert str(empty) not in text and "select " not in text.lower()


def test_smoke_test_reuses_a_run_finished_moments_ago(client, app, monkeypatch):
    calls = []
    real = smoke.run_smoke_test

    def counted(services):
        calls.append(1)
        return real(services)

    monkeypatch.setattr(smoke, "run_smoke_test", counted)
    monkeypatch.setattr(smoke, "REUSE_SECONDS", 0.0)
    client.post("/api/reports/test")
    monkeypatch.setattr(smoke, "REUSE_SECONDS", 60.0)
    first = client.post("/api/reports/test").get_json()
    second = client.post("/api/reports/test").get_json()
    assert len(calls) == 1 and first == second
