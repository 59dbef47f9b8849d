"""The audit log on SQLite and PostgreSQL: recording, scrubbing, never raising, filters, purge."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from security import audit
from store.models import AuditLog

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _rows(store) -> list[AuditLog]:
    with store.session() as s:
        return list(s.scalars(select(AuditLog).order_by(AuditLog.id)))


def test_record_writes_who_what_when_where(store, users):
    audit.record(
        store,
        principal=users["analyst"],
        action="export",
        target="dashboard:revenue_overview",
        ip="203.0.113.9",
        detail={"format": "pdf", "rows": 120},
        at=NOW,
    )
    (row,) = _rows(store)
    assert (row.user_id, row.username, row.action, row.target, row.outcome, row.ip) == (
        users["analyst"].id,
        "ana",
        "export",
        "dashboard:revenue_overview",
        "ok",
        "203.0.113.9",
    )
    assert row.detail == {"format": "pdf", "rows": 120}
    assert audit._utc(row.at) == NOW


def test_a_failed_login_records_the_tried_name_without_a_principal(store, users):
    audit.record(
        store,
        principal=None,
        username="nobody",
        action="login",
        outcome="failed",
        ip="198.51.100.7",
        detail={"username": "nobody", "password": "hunter2-secret"},
    )
    (row,) = _rows(store)
    assert (row.user_id, row.username, row.outcome) == (None, "nobody", "failed")
    assert row.detail == {"username": "nobody", "password": "[redacted]"}


def test_secrets_tokens_and_emails_never_reach_the_database(store, users):
    api_token = "nxp_" + "A" * 43
    embed_token = "eyJkIjoia3BpIiwiZXhwIjoxNzk1Nzg2.WHebJ8yHcheff6B5mndr5ZCW-mnwHqami"
    audit.record(
        store,
        principal=users["admin"],
        action="update",
        target=f"/embed/{embed_token}",
        detail={
            "Password": "pw-1",
            "new_password": "pw-2",
            "X-Api-Token": api_token,
            "Authorization": "Bearer abc",
            "nested": {"client_secret": "s3", "list": [{"session_id": "abc123"}]},
            "note": f"used {api_token} and Bearer xyz.abc for ana.analyst@nexpo.example",
            "url": "postgresql://app:db-password@db/reports?token=qwerty&x=1",
            "email": "ana.analyst@nexpo.example",
        },
    )
    (row,) = _rows(store)
    stored = json.dumps(row.detail) + (row.target or "")
    for secret in (
        "pw-1",
        "pw-2",
        api_token,
        "abc",
        "s3",
        "abc123",
        "xyz",
        "db-password",
        "qwerty",
        "ana.analyst@",
        embed_token,
    ):
        assert secret not in stored, secret
    assert row.detail["Password"] == "[redacted]"
    assert row.detail["nested"] == {
        "client_secret": "[redacted]",
        "list": [{"session_id": "[redacted]"}],
    }
    assert row.detail["email"] == "ana***@nexpo.example"
    assert "ana***@nexpo.example" in row.detail["note"]
    assert row.detail["url"] == "postgresql://app:[redacted]@db/reports?token=[redacted]&x=1"
    assert row.target == "/embed/[redacted]"


def test_detail_is_made_json_safe_and_bounded(store, users):
    audit.record(
        store,
        principal=users["viewer"],
        action="view",
        detail={"when": NOW, "nan": float("nan"), "blob": b"\x00\x01", "long": "x" * 2000},
    )
    (row,) = _rows(store)
    assert row.detail["when"] == NOW.isoformat()
    assert row.detail["nan"] == "nan"
    assert row.detail["blob"] == "<2 bytes>"
    assert len(row.detail["long"]) == audit.MAX_STRING


def test_record_never_raises_and_logs_without_the_detail(store, users, caplog):
    store.dispose()
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE audit_log")
    with caplog.at_level(logging.ERROR, logger="security.audit"):
        audit.record(
            store, principal=users["admin"], action="export", detail={"password": "leak-me"}
        )
    assert "audit record of 'export' failed" in caplog.text
    assert "leak-me" not in caplog.text


def test_record_does_nothing_when_the_audit_log_is_disabled(store, users):
    audit.record(store, principal=users["admin"], action="view", enabled=False)
    assert _rows(store) == []


def _seed(store, users) -> None:
    entries = [
        ("analyst", "view", "dashboard:revenue_overview", "ok", NOW - timedelta(days=3)),
        ("analyst", "export", "dashboard:revenue_overview", "ok", NOW - timedelta(days=2)),
        ("viewer", "export", "dashboard:revenue_overview", "denied", NOW - timedelta(days=1)),
        ("admin", "embed.issue", "dashboard:kpi_dashboard", "ok", NOW - timedelta(hours=5)),
        ("admin", "embed.use", "dashboard:kpi_dashboard", "ok", NOW - timedelta(hours=1)),
    ]
    for role, action, target, outcome, at in entries:
        audit.record(
            store,
            principal=users[role],
            action=action,
            target=target,
            outcome=outcome,
            ip="10.0.0.1" if role == "admin" else "10.0.0.2",
            at=at,
        )


def test_query_filters_newest_first(store, users):
    _seed(store, users)
    everything = audit.query(store)
    assert everything.total == 5
    assert [e.action for e in everything.items] == [
        "embed.use",
        "embed.issue",
        "export",
        "export",
        "view",
    ]
    assert [e.outcome for e in audit.query(store, action="export").items] == ["denied", "ok"]
    assert audit.query(store, action="embed.").total == 2
    assert audit.query(store, outcome="denied").items[0].username == "vic"
    assert audit.query(store, user_id=users["analyst"].id).total == 2
    assert audit.query(store, username="AN").total == 2
    assert audit.query(store, target="kpi").total == 2
    assert audit.query(store, ip="10.0.0.1").total == 2
    window = audit.query(store, since=NOW - timedelta(days=2), until=NOW - timedelta(hours=5))
    assert [e.action for e in window.items] == ["export", "export"]
    assert audit.query(store, target="%").total == 0  # LIKE wildcards are escaped


def test_query_pages(store, users):
    _seed(store, users)
    first = audit.query(store, page=1, per_page=2)
    third = audit.query(store, page=3, per_page=2)
    assert (first.total, first.pages, len(first.items), len(third.items)) == (5, 3, 2, 1)
    assert third.items[0].action == "view"
    assert audit.query(store, page=0, per_page=10_000).per_page == audit.MAX_PER_PAGE
    assert first.items[0].as_dict()["at"] == (NOW - timedelta(hours=1)).isoformat()


def test_purge_deletes_rows_older_than_two_years_and_audits_itself(store, users):
    for age in (timedelta(days=800), timedelta(days=732), timedelta(days=700), timedelta(0)):
        audit.record(store, principal=users["analyst"], action="view", at=NOW - age)
    assert audit.purge(store, NOW) == 2
    rows = _rows(store)
    assert sorted(audit._utc(r.at) for r in rows if r.action == "view") == [
        NOW - timedelta(days=700),
        NOW,
    ]
    (purge,) = [r for r in rows if r.action == "audit.purge"]
    assert purge.detail["deleted"] == 2
    assert audit.purge(store, NOW, retention=timedelta(days=1)) == 1


def test_retention_matches_the_seed():
    assert audit.RETENTION["report_cache"] == timedelta(hours=24)
    assert audit.RETENTION["export_files"] == timedelta(days=7)
    assert timedelta(days=730) <= audit.RETENTION["audit_log"] <= timedelta(days=731)
    assert audit.cutoff("export_files", NOW) == NOW - timedelta(days=7)
