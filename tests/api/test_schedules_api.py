"""/api/schedules on the real app: CRUD, validation, permissions, audit, and "run now" delivered for
real — an aiosmtpd server receives the e-mail, a local HTTP server the signed webhook, and the
attached CSV and Excel files are parsed back and compared with `engine.generate`'s numbers."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest
from sqlalchemy import select

from delivery.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from engine.generate import generate
from engine.report_runner import schedule_window
from engine.reports import find_report
from engine.scheduler import purge_run_files
from engine.schedules import window_text
from engine.services import Services
from security.users import load_principal
from store.models import AuditLog, ScheduleRun, User
from tests.delivery.servers import smtp_server_fixture, webhook_server_fixture  # noqa: F401
from workers import build_scheduler

WEEKLY = {
    "name": "Weekly revenue",
    "report": "revenue_overview",
    "frequency": "weekly",
    "time": "09:00",
    "weekday": 0,
    "timezone": "Europe/Berlin",
    "formats": ["csv", "excel"],
    "recipients": {
        "email": ["finance@example.com"],
        "webhook": [{"url": "https://hooks.example.com/nexpo", "secret": "wh-secret-123"}],
    },
}


def client_for(app, username: str):
    client = app.server.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post(
        "/login",
        data={"username": username, "password": "nexpo-demo", "csrf_token": token, "next": "/"},
    )
    return client


@pytest.fixture
def admin(app):
    return client_for(app, "admin")


def services_of(app) -> Services:
    return app.server.extensions["nexpo"]


def audit_actions(app, target: str) -> list[tuple[str, str]]:
    with services_of(app).store.session() as session:
        rows = session.execute(
            select(AuditLog.action, AuditLog.outcome)
            .where(AuditLog.target == target)
            .order_by(AuditLog.id)
        ).all()
    return [tuple(r) for r in rows]


def test_crud_round_trip_with_preview_and_redacted_secret(app, admin):
    created = admin.post("/api/schedules", json=WEEKLY)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    sid = body["id"]
    assert body["cron"] == "0 9 * * 1"
    assert body["description"] == "Every Monday at 09:00 (Europe/Berlin)"
    assert (body["frequency"], body["time"], body["weekday"]) == ("weekly", "09:00", 0)
    assert len(body["next_runs"]) == 5 and all(
        re.fullmatch(r"Mon \d\d \w{3} \d{4} 09:00 CES?T \(0[78]:00 UTC\)", t)
        for t in body["next_runs"]
    )
    assert body["formats"] == ["csv", "excel"] and body["period_resolved"] == "7d"
    assert body["recipients"]["webhook"] == [
        {"url": "https://hooks.example.com/nexpo", "secret": "[redacted]"}
    ]
    assert "wh-secret-123" not in created.get_data(as_text=True)

    listed = admin.get("/api/schedules?per_page=100").get_json()
    assert sid in [s["id"] for s in listed["items"]] and listed["total"] >= 1
    assert "wh-secret-123" not in json.dumps(listed)

    # PATCH with the redacted webhook sent back keeps the stored secret.
    fetched = admin.get(f"/api/schedules/{sid}").get_json()
    patched = admin.patch(
        f"/api/schedules/{sid}",
        json={"time": "07:30", "recipients": fetched["recipients"], "only_if_changed": True},
    )
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["cron"] == "30 7 * * 1" and patched.get_json()["only_if_changed"]
    with services_of(app).store.session() as session:
        from store.models import Schedule

        stored = session.get(Schedule, sid)
        assert stored.recipients["webhook"][0]["secret"] == "wh-secret-123"

    # PUT replaces the whole schedule: a monthly cron on the last day, daily period.
    put = admin.put(
        f"/api/schedules/{sid}",
        json={
            "report": "revenue_overview",
            "frequency": "monthly",
            "day": -1,
            "time": "18:00",
            "timezone": "America/New_York",
            "formats": ["json"],
            "period": "previous_month",
            "recipients": {"storage": ["finance/monthly"]},
        },
    )
    assert put.status_code == 200, put.get_json()
    assert (
        put.get_json()["description"]
        == "On the last day of every month at 18:00 (America/New_York)"
    )
    assert put.get_json()["recipients"] == {"storage": ["finance/monthly"]}

    assert admin.post(f"/api/schedules/{sid}/pause").get_json()["paused"] is True
    assert admin.get(f"/api/schedules/{sid}").get_json()["next_runs"] == []
    resumed = admin.post(f"/api/schedules/{sid}/resume").get_json()
    assert resumed["paused"] is False and len(resumed["next_runs"]) == 5

    assert admin.delete(f"/api/schedules/{sid}").status_code == 204
    assert admin.get(f"/api/schedules/{sid}").status_code == 404
    assert [a for a, _ in audit_actions(app, f"schedule:{sid}")] == [
        "schedule.create",
        "schedule.update",
        "schedule.update",
        "schedule.pause",
        "schedule.resume",
        "schedule.delete",
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"report": None}, "report"),
        ({"report": "no_such_report"}, "report"),
        ({"frequency": "hourly"}, "frequency"),
        ({"time": "25:00"}, "time"),
        ({"weekday": 9}, "weekday"),
        ({"frequency": "monthly", "day": 31}, "day"),
        ({"frequency": "cron", "cron": "every monday"}, "cron"),
        ({"frequency": "cron"}, "cron"),
        ({"timezone": "Mars/Base"}, "timezone"),
        ({"formats": ["docx"]}, "formats[0]"),
        ({"formats": []}, "formats"),
        ({"recipients": {"email": ["finance"]}}, "recipients.email[0]"),
        ({"recipients": {"fax": ["123"]}}, "recipients.fax"),
        ({"recipients": {"webhook": ["ftp://x"]}}, "recipients.webhook[0].url"),
        ({"recipients": {"webhook": ["https://x.example"]}}, "recipients.webhook[0].secret"),
        ({"recipients": {"storage": ["../etc"]}}, "recipients.storage[0]"),
        ({"starts_at": "2027-02-01", "ends_at": "2027-01-01"}, "ends_at"),
        ({"starts_at": "next week"}, "starts_at"),
        ({"period": "fortnight"}, "period"),
        ({"filters": {"start": "2020-01-01"}}, "filters"),
        ({"filters": {"no_such_param": 1}}, "filters"),
        ({"only_if_changed": "yes"}, "only_if_changed"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_validation_errors_are_400_naming_the_field(admin, change, field):
    body = {**WEEKLY, **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = admin.post("/api/schedules", json=body)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"] == "bad_request"
    assert response.get_json()["message"].startswith(f"{field}: "), response.get_json()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:6379/", "127.0.0.1 is a loopback address"),
        ("http://0x7f000001/", "0x7f000001 (127.0.0.1) is a loopback address"),
        ("http://2130706433:8080/", "2130706433 (127.0.0.1) is a loopback address"),
        ("http://[::1]/", "::1 is a loopback address"),
        ("http://[::ffff:127.0.0.1]/", "is a loopback address (inside an IPv6 address)"),
        ("http://localhost:5432/", "localhost is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata service"),
        ("http://10.0.0.1/", "10.0.0.1 is a private address"),
        ("https://user:pw@hooks.example.com/", "must not contain a user name or password"),
    ],
)
def test_a_webhook_to_an_internal_address_is_400_naming_the_field(admin, url, reason):
    body = {**WEEKLY, "recipients": {"webhook": [{"url": url, "secret": "wh-secret-123"}]}}
    response = admin.post("/api/schedules", json=body)
    assert response.status_code == 400, response.get_json()
    message = response.get_json()["message"]
    assert message.startswith("recipients.webhook[0].url: ") and reason in message, message
    if "@" not in url:
        assert "WEBHOOK_ALLOWED_HOSTS" in message


def test_internal_webhooks_are_saved_when_allowed_and_names_are_checked_when_sent(
    app, admin, monkeypatch
):
    svc = services_of(app)
    hooks = {"webhook": [{"url": "http://10.1.2.3:8080/hook", "secret": "wh-secret-123"}]}
    assert admin.post("/api/schedules", json={**WEEKLY, "recipients": hooks}).status_code == 400
    monkeypatch.setattr(
        svc, "settings", svc.settings.replace(webhook_allowed_hosts=("10.0.0.0/8",))
    )
    assert admin.post("/api/schedules", json={**WEEKLY, "recipients": hooks}).status_code == 201
    # A name is not resolved when saving (DNS can change before the run): delivery checks it.
    named = {"webhook": [{"url": "https://hooks.internal/x", "secret": "wh-secret-123"}]}
    assert admin.post("/api/schedules", json={**WEEKLY, "recipients": named}).status_code == 201


def test_non_json_body_is_400(admin):
    response = admin.post("/api/schedules", data="x", content_type="text/plain")
    assert response.status_code == 400


def test_viewer_and_analyst_cannot_schedule_and_see_nothing(app, admin):
    sid = admin.post("/api/schedules", json=WEEKLY).get_json()["id"]
    viewer = client_for(app, "viewer")
    denied = viewer.post("/api/schedules", json=WEEKLY)
    assert denied.status_code == 403
    assert "may not schedule" in denied.get_json()["message"]
    assert viewer.get("/api/schedules").get_json()["total"] == 0
    assert viewer.get(f"/api/schedules/{sid}").status_code == 404
    assert viewer.post(f"/api/schedules/{sid}/run").status_code == 404
    assert viewer.delete(f"/api/schedules/{sid}").status_code == 404
    assert client_for(app, "analyst").post("/api/schedules", json=WEEKLY).status_code == 403
    with services_of(app).store.session() as session:
        denied_rows = session.scalars(
            select(AuditLog.username).where(
                AuditLog.action == "schedule.create", AuditLog.outcome == "denied"
            )
        ).all()
    assert {"viewer", "analyst"} <= set(denied_rows)
    assert client_for(app, "viewer").get("/api/schedules/999999").status_code == 404
    assert app.server.test_client().get("/api/schedules").status_code == 401


def test_manager_schedules_a_company_template_and_cannot_change_admins(app, admin):
    manager = client_for(app, "manager")
    mine = manager.post("/api/schedules", json={**WEEKLY, "name": "Sales weekly"})
    assert mine.status_code == 201, mine.get_json()
    admins = admin.post("/api/schedules", json=WEEKLY).get_json()["id"]
    # Schedules are private (security/policy.py): run with their owner's rights, someone else's
    # is not even listed to a manager — its runs would show rows beyond the manager's scope.
    assert manager.get(f"/api/schedules/{admins}").status_code == 404
    listed = manager.get("/api/schedules?per_page=100").get_json()["items"]
    assert admins not in {s["id"] for s in listed}
    assert manager.patch(f"/api/schedules/{admins}", json={"time": "10:00"}).status_code == 404
    assert manager.post(f"/api/schedules/{admins}/run").status_code == 404
    assert manager.delete(f"/api/schedules/{admins}").status_code == 404
    assert admin.get(f"/api/schedules/{mine.get_json()['id']}").status_code == 200


def test_openapi_documents_every_route(app, admin):
    paths = admin.get("/api/openapi.json").get_json()["paths"]
    assert set(paths["/api/schedules"]) == {"get", "post"}
    assert set(paths["/api/schedules/{id}"]) == {"get", "put", "patch", "delete"}
    for tail in ("run", "pause", "resume"):
        assert "post" in paths[f"/api/schedules/{{id}}/{tail}"]
    assert "get" in paths["/api/schedules/{id}/runs"]
    assert "get" in paths["/api/schedules/runs/{run_id}/files/{name}"]


def test_preview_shows_dst_change_in_berlin(admin):
    response = admin.post(
        "/api/schedules/preview",
        json={
            "frequency": "daily",
            "time": "09:00",
            "timezone": "Europe/Berlin",
            "starts_at": "2027-03-26",
            "count": 4,
        },
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["next_runs"] == [
        "Fri 26 Mar 2027 09:00 CET (08:00 UTC)",
        "Sat 27 Mar 2027 09:00 CET (08:00 UTC)",
        "Sun 28 Mar 2027 09:00 CEST (07:00 UTC)",
        "Mon 29 Mar 2027 09:00 CEST (07:00 UTC)",
    ]


def _csv_sections(text: str) -> dict[str, list[list[str]]]:
    """The whole-report CSV as {section comment: rows} (exports/SCHEMAS.md)."""
    sections: dict[str, list[list[str]]] = {}
    current = None
    for row in csv.reader(io.StringIO(text)):
        if len(row) == 1 and row[0].startswith("# "):
            current = row[0][2:]
            sections[current] = []
        elif row and current is not None:
            sections[current].append(row)
    return sections


def test_run_now_emails_the_revenue_report_and_signs_the_webhook(
    app, admin, smtp_server, webhook_server, monkeypatch
):
    svc = services_of(app)
    # The receiver runs on loopback, which webhooks may reach only when the operator allows it.
    monkeypatch.setattr(svc, "settings", svc.settings.replace(webhook_allowed_hosts=("127.0.0.1",)))
    body = {
        **WEEKLY,
        "name": "Revenue for finance",
        "recipients": {
            "email": ["finance@example.com", "ceo@example.com"],
            "webhook": [{"url": f"{webhook_server.url}/hook", "secret": "wh-secret-123"}],
        },
    }
    sid = admin.post("/api/schedules", json=body).get_json()["id"]
    queued = admin.post(f"/api/schedules/{sid}/run")
    assert queued.status_code == 202 and queued.get_json()["state"] == "queued"
    # A double click queues nothing new.
    assert admin.post(f"/api/schedules/{sid}/run").get_json()["id"] == queued.get_json()["id"]
    run_id = queued.get_json()["id"]

    settings = svc.settings.replace(smtp_port=smtp_server.port)
    scheduler = build_scheduler(Services(settings, svc.store, svc.sources))
    try:
        scheduler.run_pending(timeout=120)
    finally:
        scheduler.executor.shutdown()

    runs = admin.get(f"/api/schedules/{sid}/runs").get_json()
    run = runs["items"][0]
    assert run["id"] == run_id and run["state"] == "succeeded", run
    assert run["trigger"] == "manual"
    states = {(d["channel"], d["recipient"]): d["state"] for d in run["deliveries"]}
    assert states == {
        ("email", "finance@example.com"): "sent",
        ("email", "ceo@example.com"): "sent",
        ("webhook", f"{webhook_server.url}/hook"): "sent",
        ("portal", "admin"): "sent",  # the owner's report history, shown by username
    }

    mine = [m for m in smtp_server.messages if m["X-Nexpo-Run"] == str(run_id)]
    assert sorted(m["To"] for m in mine) == ["ceo@example.com", "finance@example.com"]
    message = mine[0]
    files = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    csv_name = next(n for n in files if n.endswith(".csv"))
    xlsx_name = next(n for n in files if n.endswith(".xlsx"))
    assert csv_name.startswith("revenue-overview_")

    # The numbers: what engine.generate gives the owner for the same window.
    with svc.store.session() as session:
        due_at = session.get(ScheduleRun, run_id).due_at
    window = schedule_window("7d", due_at, "Europe/Berlin")
    assert csv_name == f"revenue-overview_{window.start}_{window.end}.csv"
    owner = load_principal(svc.store, "1")
    found = find_report(svc.store, "revenue_overview")
    expected = {
        r.widget.id: r
        for r in generate(
            found.spec, window, owner, svc, action="schedule", resource=found.resource
        )
    }
    sections = _csv_sections(
        files[csv_name].decode() if isinstance(files[csv_name], bytes) else files[csv_name]
    )
    summary = {row[0]: row for row in sections["Summary"][1:]}
    assert float(summary["mrr"][3]) == pytest.approx(expected["mrr"].value)
    by_processor = next(
        v for k, v in sections.items() if k.startswith("Widget: Revenue by processor")
    )
    frame = expected["revenue-by-processor"].frame
    assert by_processor[0] == list(frame.columns)
    assert [(r[0], float(r[1])) for r in by_processor[1:]] == [
        (p, pytest.approx(float(v)))
        for p, v in zip(frame["processor"], frame["revenue"], strict=True)
    ]

    book = openpyxl.load_workbook(io.BytesIO(files[xlsx_name]), read_only=True)
    sheet = book["Revenue by processor"]
    rows = [r for r in sheet.iter_rows(values_only=True) if any(v is not None for v in r)]
    header = [v for v in rows[0] if v is not None]
    assert len(header) >= 2
    got = [(r[0], r[1]) for r in rows[1:] if r[0] is not None]
    assert [p for p, _ in got] == list(frame["processor"])
    assert [v for _, v in got] == pytest.approx([float(v) for v in frame["revenue"]])

    # The webhook: one signed POST whose body names the run and its files.
    hooks = [r for r in webhook_server.requests if json.loads(r.body)["run"]["id"] == run_id]
    assert len(hooks) == 1
    hook = hooks[0]
    verify_signature(
        "wh-secret-123", hook.body, hook.headers[SIGNATURE_HEADER], hook.headers[TIMESTAMP_HEADER]
    )
    payload = json.loads(hook.body)
    assert {f["name"] for f in payload["files"]} == {csv_name, xlsx_name}
    # The period for people (the days in REPORT_TIMEZONE) and the machine-readable key.
    label = f"{window_text(window)} ({svc.settings.report_timezone})"
    assert message["Subject"] == f"Revenue for finance — {label}"
    assert f"for {label}." in message.get_body(("plain",)).get_content()
    assert payload["period"] == "7d" and payload["period_label"] == label
    assert payload["window"] == {"start": str(window.start), "end": str(window.end)}

    # The download link of each file works for the owner, not for a viewer.
    url = run["files"][0]["url"]
    assert admin.get(url).status_code == 200
    assert client_for(app, "viewer").get(url).status_code == 404
    assert ("schedule.run", "ok") in audit_actions(app, f"schedule:{sid}")


def test_a_failure_is_recorded_with_its_reason(app, admin):
    """SMTP unreachable: the e-mail fails with the reason after its retries; the run says so."""
    from delivery.base import RetryPolicy
    from delivery.email import EmailChannel, SmtpConfig
    from tests.delivery.servers import free_port

    svc = services_of(app)
    sid = admin.post(
        "/api/schedules",
        json={**WEEKLY, "formats": ["csv"], "recipients": {"email": ["ops@example.com"]}},
    ).get_json()["id"]
    admin.post(f"/api/schedules/{sid}/run")
    settings = svc.settings.replace(smtp_port=free_port())
    scheduler = build_scheduler(Services(settings, svc.store, svc.sources))
    scheduler.channels["email"] = EmailChannel(
        SmtpConfig("127.0.0.1", settings.smtp_port, timeout=2),
        retry=RetryPolicy(attempts=2, base_delay=0.01),
    )
    try:
        scheduler.run_pending(timeout=120)
    finally:
        scheduler.executor.shutdown()
    run = admin.get(f"/api/schedules/{sid}/runs").get_json()["items"][0]
    assert run["state"] == "failed"
    email = next(d for d in run["deliveries"] if d["channel"] == "email")
    assert email["state"] == "failed" and email["attempts"] == 2
    assert "unreachable" in email["error"] and "gave up after 2 attempts" in email["error"]
    assert "ops@example.com" in run["error"]


def test_owner_who_lost_access_gets_a_clear_failure(app):
    svc = services_of(app)
    from security.users import create_user

    create_user(svc.store, "mona", "nexpo-demo", role="manager", department="Sales")
    mona = client_for(app, "mona")
    sid = mona.post(
        "/api/schedules", json={**WEEKLY, "formats": ["csv"], "recipients": {}}
    ).get_json()["id"]
    mona.post(f"/api/schedules/{sid}/run")
    with svc.store.session() as session:
        session.scalar(select(User).where(User.username == "mona")).role = "viewer"
    scheduler = build_scheduler(svc)
    try:
        scheduler.run_pending(timeout=120)
    finally:
        scheduler.executor.shutdown()
    admin = client_for(app, "admin")
    run = admin.get(f"/api/schedules/{sid}/runs").get_json()["items"][0]
    assert run["state"] == "failed"
    assert run["error"].startswith("the schedule's owner 'mona' may no longer schedule this report")
    assert isinstance(datetime.fromisoformat(run["finished_at"].replace("Z", "+00:00")), datetime)


def test_a_file_past_its_retention_answers_410_and_its_run_stays(app, admin):
    svc = services_of(app)
    sid = admin.post("/api/schedules", json={**WEEKLY, "name": "Retention"}).get_json()["id"]
    now = datetime.now(UTC)
    with svc.store.session() as session:
        run = ScheduleRun(
            schedule_id=sid,
            due_at=now - timedelta(days=9),
            trigger="manual",
            state="succeeded",
            finished_at=now - timedelta(days=8),
        )
        session.add(run)
        session.flush()
        run_id = run.id
        folder = svc.settings.instance / "schedules" / str(run_id)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "revenue.csv"
        path.write_text("month,mrr\n")
        run.files = [{"name": "revenue.csv", "content_type": "text/csv", "path": str(path)}]
    url = f"/api/schedules/runs/{run_id}/files/revenue.csv"
    assert admin.get(url).status_code == 200

    assert run_id in purge_run_files(svc.store, svc.settings.instance, now)

    gone = admin.get(url)
    assert gone.status_code == 410 and not path.exists()
    body = gone.get_json()
    assert body["error"] == "gone"
    assert "kept for 7 days" in body["message"] and "still listed" in body["message"]
    assert client_for(app, "viewer").get(url).status_code == 404  # nothing revealed
    [listed] = [r for r in admin.get(f"/api/schedules/{sid}/runs").get_json()["items"]]
    assert listed["id"] == run_id and listed["state"] == "succeeded"
    assert listed["files"][0]["purged_at"] is not None
