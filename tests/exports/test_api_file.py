"""POST /api/export/<fmt> answers the file itself by default (the seed's widget saves it as a blob);
a job is for clients that ask (Prefer: respond-async); early downloads, timeouts and failures."""

from __future__ import annotations

import json
import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

import exports.jobs as jobs
from exports import ExportError
from store.models import Export, User

REPORT = "revenue_overview"


def services_of(app):
    return app.server.extensions["nexpo"]


@pytest.fixture
def admin(login, client):
    login("admin")
    return client


@contextmanager
def generate_blocked(monkeypatch):
    """jobs.generate waits until the block is left (at the latest after 15 s); yields `entered`."""
    entered, release = threading.Event(), threading.Event()
    real = jobs.generate

    def blocked(*args, **kwargs):
        entered.set()
        release.wait(15)
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs, "generate", blocked)
    try:
        yield entered
    finally:
        release.set()


def row_of(app, export_id: str) -> Export:
    with services_of(app).store.session() as session:
        return session.get(Export, export_id)


def test_the_seeds_export_call_gets_the_pdf_itself(app, admin, tmp_path, poppler):
    # The seed's exportReport body, as written: widget_id is the report, format repeats the path.
    response = admin.post(
        "/api/export/pdf", json={"widget_id": "kpi_dashboard", "period": "30d", "format": "pdf"}
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.headers["Content-Type"] == "application/pdf"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment") and ".pdf" in disposition
    assert response.data[:5] == b"%PDF-"
    path = tmp_path / "kpi.pdf"
    path.write_bytes(response.data)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert "kpi dashboard" in text.lower() and "Page 1 of" in text
    with services_of(app).store.session() as session:
        admin_id = session.scalar(select(User.id).where(User.username == "admin"))
        row = session.scalars(select(Export).order_by(Export.created_at.desc())).first()
    assert (row.report_ref, row.format, row.status, row.owner_id) == (
        "kpi_dashboard",
        "pdf",
        "succeeded",
        admin_id,
    )


def test_with_report_id_the_widget_id_picks_one_widget(admin):
    response = admin.post(
        "/api/export/json", json={"report_id": REPORT, "widget_id": "daily-revenue"}
    )
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    doc = json.loads(response.data)
    assert doc["key"] == REPORT and [w["id"] for w in doc["widgets"]] == ["daily-revenue"]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"report_id": REPORT, "format": "csv"}, "format='csv'"),
        ({"report_id": REPORT, "colour": "red"}, "colour"),
        ({"period": "30d"}, "report_id"),
        ({"widget_id": 7}, "widget_id"),
    ],
)
def test_a_bad_body_is_400_naming_the_field(admin, body, named):
    response = admin.post("/api/export/pdf", json=body)
    assert response.status_code == 400
    assert named in response.get_json()["message"]


def test_an_export_past_the_timeout_is_504_with_the_job_and_leaves_no_file(app, admin, monkeypatch):
    svc = services_of(app)
    monkeypatch.setattr(svc, "settings", svc.settings.replace(report_timeout_seconds=1))
    with generate_blocked(monkeypatch) as entered:
        response = admin.post("/api/export/csv", json={"report_id": REPORT, "period": "7d"})
        assert entered.is_set()
    assert response.status_code == 504
    body = response.get_json()
    assert body["error"] == "export_timeout" and "REPORT_TIMEOUT_SECONDS" in body["message"]
    assert response.headers["Location"] == body["status_url"] == f"/api/export/{body['export_id']}"
    row = jobs.wait(svc, body["export_id"], 30)
    assert row.status == "failed" and jobs.timed_out(row) and row.path is None
    folder = jobs.export_root(svc.settings) / row.id
    assert not folder.exists() or not list(folder.iterdir())
    late = admin.get(f"/api/export/{row.id}/download")
    assert late.status_code == 409 and late.get_json()["error"] == "failed"


@pytest.mark.parametrize(
    ("raised", "status", "message"),
    [
        (ExportError("detail", "This report has no chart to draw."), 422, "no chart to draw"),
        (RuntimeError("disk on fire at /secret/path"), 500, "error was logged"),
    ],
)
def test_a_failed_export_answers_its_safe_reason_and_the_job(
    app, admin, monkeypatch, raised, status, message
):
    def fail(*args, **kwargs):
        raise raised

    monkeypatch.setattr(jobs, "render", fail)
    response = admin.post("/api/export/csv", json={"report_id": REPORT, "period": "7d"})
    assert response.status_code == status
    body = response.get_json()
    assert body["error"] == "export_failed" and message in body["message"]
    assert "/secret" not in body["message"]
    assert row_of(app, body["export_id"]).status == "failed"


def test_a_download_asked_for_before_the_file_is_ready_is_202_with_retry_after(
    app, admin, monkeypatch
):
    with generate_blocked(monkeypatch) as entered:
        created = admin.post(
            "/api/export/csv",
            json={"report_id": REPORT, "period": "7d"},
            headers={"Prefer": "respond-async"},
        )
        assert created.status_code == 202
        export_id = created.get_json()["id"]
        assert entered.wait(10)
        early = admin.get(f"/api/export/{export_id}/download")
        assert early.status_code == 202 and int(early.headers["Retry-After"]) > 0
        assert early.headers["Location"] == f"/api/export/{export_id}"
        assert early.get_json()["status"] in ("pending", "running")
        assert early.get_json()["download_url"] is None
    assert jobs.wait(services_of(app), export_id, 30).status == "succeeded"
    done = admin.get(f"/api/export/{export_id}/download")
    assert done.status_code == 200 and done.headers["Content-Type"].startswith("text/csv")


def test_a_cancelled_export_download_is_409(app, admin, monkeypatch):
    with generate_blocked(monkeypatch) as entered:
        created = admin.post(
            "/api/export/csv",
            json={"report_id": REPORT, "period": "7d"},
            headers={"Prefer": "respond-async"},
        ).get_json()
        assert entered.wait(10)
        assert admin.post(f"/api/export/{created['id']}/cancel").status_code == 200
    response = admin.get(f"/api/export/{created['id']}/download")
    assert response.status_code == 409 and response.get_json()["error"] == "cancelled"
    assert not Path(row_of(app, created["id"]).path or "/nonexistent").exists()
