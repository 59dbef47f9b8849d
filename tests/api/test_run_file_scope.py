"""Issue 13, item 1: no department escape through schedule runs.

The attack: an admin's schedule (all departments, PII unmasked) delivers to a manager's report
history; the manager downloads the run file and reads every department's rows. Now a recipient
opens a run file only when their own rights cover the owner's: the report, the rows and the
personal data. Schedules, their runs and files are otherwise the owner's and admins'.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from security.users import create_user
from store.models import PortalItem, ScheduleRun, User
from tests.api.test_schedules_api import WEEKLY, client_for, services_of


def _run_with_file(app, schedule_id: int, recipients: list[str]) -> str:
    """A finished run of `schedule_id` with one file, delivered to `recipients`' report history."""
    svc = services_of(app)
    with svc.store.session() as session:
        run = ScheduleRun(
            schedule_id=schedule_id,
            due_at=datetime.now(UTC),
            trigger="manual",
            state="succeeded",
            finished_at=datetime.now(UTC),
        )
        session.add(run)
        session.flush()
        folder = svc.settings.instance / "schedules" / str(run.id)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "report.csv"
        path.write_text("department,mrr\nSales,1\nSupport,2\n")
        run.files = [{"name": "report.csv", "content_type": "text/csv", "path": str(path)}]
        for username in recipients:
            user_id = session.scalar(select(User.id).where(User.username == username))
            session.add(
                PortalItem(user_id=user_id, run_id=run.id, title="r", report_ref="revenue_overview")
            )
        return f"/api/schedules/runs/{run.id}/files/report.csv"


@pytest.fixture(scope="module")
def people(app):
    svc = services_of(app)
    for name, role, dept in [
        ("ada2", "admin", None),
        ("sam", "manager", "Sales"),
        ("sue", "manager", "Support"),
    ]:
        with svc.store.session() as session:
            exists = session.scalar(select(User.id).where(User.username == name))
        if exists is None:
            create_user(svc.store, name, "nexpo-demo", role=role, department=dept)
    return {n: client_for(app, n) for n in ("admin", "ada2", "manager", "sam", "sue", "viewer")}


def test_a_manager_recipient_cannot_open_an_admins_run_file(app, people):
    sid = people["admin"].post("/api/schedules", json=WEEKLY).get_json()["id"]
    url = _run_with_file(app, sid, ["manager", "ada2"])
    assert people["admin"].get(url).status_code == 200  # the owner
    assert people["ada2"].get(url).status_code == 200  # a recipient whose rights cover the owner's
    assert people["manager"].get(url).status_code == 404  # all departments, unmasked: refused
    assert people["viewer"].get(url).status_code == 404  # not a recipient
    assert people["manager"].get(f"/api/schedules/{sid}/runs").status_code == 404


def test_a_manager_recipient_opens_a_colleagues_file_of_their_own_department_only(app, people):
    sid = people["manager"].post("/api/schedules", json=WEEKLY).get_json()["id"]  # Sales
    url = _run_with_file(app, sid, ["sam", "sue"])
    assert people["manager"].get(url).status_code == 200
    assert people["sam"].get(url).status_code == 200  # Sales rows, masked: same as their own
    assert people["sue"].get(url).status_code == 404  # Support may not see Sales rows
    # Schedule details and history stay the owner's (and admins').
    assert people["sam"].get(f"/api/schedules/{sid}").status_code == 404
    assert people["admin"].get(f"/api/schedules/{sid}").status_code == 200


def test_recipients_addresses_are_never_shown_to_anyone_but_the_owner_and_admins(app, people):
    secret_hook = "https://hooks.example.com/services/T000/B000/XXXXSECRET"
    body = {
        **WEEKLY,
        "recipients": {
            "email": ["cfo@example.com"],
            "webhook": [{"url": secret_hook, "secret": "s3cr3t-key"}],
        },
    }
    created = people["manager"].post("/api/schedules", json=body)
    assert created.status_code == 201, created.get_json()
    sid = created.get_json()["id"]
    for who in ("sam", "sue", "viewer"):
        client = people[who]
        texts = [
            client.get("/api/schedules?per_page=100").get_data(as_text=True),
            client.get(f"/api/schedules/{sid}").get_data(as_text=True),
            client.get(f"/api/schedules/{sid}/runs").get_data(as_text=True),
        ]
        assert not any("cfo@example.com" in t or "XXXXSECRET" in t for t in texts), who
    assert "cfo@example.com" in people["manager"].get(f"/api/schedules/{sid}").get_data(
        as_text=True
    )


def test_the_portal_channel_refuses_a_recipient_whose_rights_do_not_cover_the_owners(app, people):
    from delivery.base import Bundle, DeliveryError, Recipient
    from workers import channels_for

    svc = services_of(app)
    sid = people["admin"].post("/api/schedules", json=WEEKLY).get_json()["id"]
    run_id = int(_run_with_file(app, sid, []).split("/")[4])
    portal = channels_for(svc)["portal"]
    bundle = Bundle(
        schedule_id=sid, schedule_name="Weekly", report_ref="revenue_overview", run_id=run_id,
        due_at=datetime.now(UTC), timezone="UTC", artifacts=(),
    )  # fmt: skip
    assert portal.send(bundle, Recipient("portal", "ada2")).channel == "portal"
    with pytest.raises(DeliveryError, match="may not see this report"):
        portal.send(bundle, Recipient("portal", "manager"))
