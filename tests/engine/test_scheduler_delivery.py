"""Scheduled reports delivered through the real channels to real servers on loopback: an aiosmtpd
inbox, a signed-webhook receiver, a storage folder and the owner's portal history."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import select

from delivery import (
    EmailChannel,
    PortalChannel,
    RetryPolicy,
    SmtpConfig,
    StorageChannel,
    WebhookChannel,
    default_channels,
)
from delivery.webhook import verify_signature
from engine.scheduler import Scheduler, create_schedule, history
from store.models import PortalItem, Schedule, User
from tests.delivery.network import network_fixture  # noqa: F401 - fixture
from tests.delivery.servers import SmtpServer, smtp_server_fixture, webhook_server_fixture  # noqa: F401 - fixtures
from tests.engine.scheduler_support import Clock, CsvReport, make_settings, utc

SECRET = "whsec-e2e"
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)


@pytest.fixture
def owner(store):
    with store.session() as s:
        user = User(username="ana", email="ana@example.com", password_hash="x", role="analyst")
        s.add(user)
        s.flush()
        return user.id


@pytest.fixture
def clock():
    return Clock(utc(2026, 3, 25, 12))


def build(store, tmp_path, clock, smtp_port, render):
    channels = {
        "email": EmailChannel(
            SmtpConfig("127.0.0.1", smtp_port, sender="reports@nexpo.test", timeout=5), retry=FAST
        ),
        "webhook": WebhookChannel(retry=FAST, timeout=5, allowed_hosts=("127.0.0.1",)),
        "storage": StorageChannel(tmp_path / "deliveries"),
        "portal": PortalChannel(store),
    }
    return Scheduler(
        store,
        make_settings(tmp_path / "instance"),
        render,
        channels,
        clock=clock,
        link_for=lambda run_id, a: f"https://reports.example/runs/{run_id}/{a.name}",
    )


def weekly_revenue(store, clock, owner, webhook_url):
    with store.session() as s:
        return create_schedule(
            s,
            now=clock(),
            name="Weekly revenue",
            report_ref="revenue_analytics",
            cron="0 9 * * 1",
            timezone="Europe/Berlin",
            params={"period": "7d"},
            formats={"csv": True},
            recipients={
                "email": ["ana@example.com"],
                "webhook": [{"url": webhook_url, "secret": SECRET}],
                "storage": ["finance"],
            },
            owner_id=owner,
        ).id


def test_weekly_revenue_arrives_once_by_email_webhook_storage_and_portal(
    store, tmp_path, clock, owner, smtp_server, webhook_server
):
    report = CsvReport(tmp_path / "out")
    scheduler = build(store, tmp_path, clock, smtp_server.port, report)
    sid = weekly_revenue(store, clock, owner, webhook_server.url + "/nexpo")
    clock.set(utc(2026, 3, 30, 7, 0, 5))  # Monday 09:00:05 CEST
    try:
        scheduler.run_pending()
        scheduler.run_pending()
    finally:
        scheduler.stop()

    [message] = smtp_server.messages
    [attachment] = list(message.iter_attachments())
    content = attachment.get_content()
    rows = list(
        csv.DictReader(io.StringIO(content.decode() if isinstance(content, bytes) else content))
    )
    assert attachment.get_filename() == "revenue_analytics.csv"
    assert rows == [{"month": "2026-01", "mrr": "1200.00"}, {"month": "2026-02", "mrr": "1350.50"}]

    [hook] = webhook_server.requests
    assert verify_signature(
        SECRET, hook.body, hook.headers["X-Nexpo-Signature"], hook.headers["X-Nexpo-Timestamp"]
    )
    body = json.loads(hook.body)
    assert body["run"]["due_at"] == "2026-03-30T07:00:00+00:00" and body["period"] == "7d"
    # The days for people, in the zone the report cuts them in (REPORT_TIMEZONE).
    label = f"Mar 23 – Mar 29, 2026 ({scheduler.settings.report_timezone})"
    assert body["period_label"] == label
    assert message["Subject"] == f"Weekly revenue — {label}"
    assert body["files"][0]["url"].startswith("https://reports.example/runs/")

    stored = list((tmp_path / "deliveries" / "finance").rglob("revenue_analytics.csv"))
    assert len(stored) == 1 and stored[0].read_text().startswith("month,mrr")

    with store.session() as s:
        [run] = history(s, sid)
        assert run.state == "succeeded"
        assert sorted((d.channel, d.state) for d in run.deliveries) == [
            ("email", "sent"),
            ("portal", "sent"),
            ("storage", "sent"),
            ("webhook", "sent"),
        ]
        [item] = s.scalars(select(PortalItem)).all()
        assert (item.user_id, item.run_id) == (owner, run.id)


def test_smtp_server_stopped_mid_run_gives_retries_then_a_recorded_failure_and_the_schedule_survives(
    store, tmp_path, clock, owner, smtp_server, webhook_server
):
    report = CsvReport(tmp_path / "out")

    def render_then_smtp_dies(schedule, due_at):
        artifacts = report(schedule, due_at)
        smtp_server.stop()  # the mail server goes away while the run is in progress
        return artifacts

    scheduler = build(store, tmp_path, clock, smtp_server.port, render_then_smtp_dies)
    sid = weekly_revenue(store, clock, owner, webhook_server.url)
    clock.set(utc(2026, 3, 30, 7, 0, 5))
    scheduler.run_pending()

    with store.session() as s:
        [run] = history(s, sid)
        deliveries = {d.channel: d for d in run.deliveries}
        assert run.state == "failed"
        assert "email to ana@example.com" in run.error and "gave up after 3 attempts" in run.error
        assert (deliveries["email"].state, deliveries["email"].attempts) == ("failed", 3)
        assert "unreachable" in deliveries["email"].error
        assert deliveries["webhook"].state == "sent"  # the other recipients still got it
        schedule = s.get(Schedule, sid)
        assert not schedule.paused
        assert schedule.next_run_at.replace(tzinfo=None) == utc(2026, 4, 6, 7).replace(tzinfo=None)
    assert smtp_server.messages == []

    # The mail server is back; next Monday's run is delivered as usual.
    revived = SmtpServer(smtp_server.port)
    revived.start()
    scheduler.render = report
    try:
        clock.set(utc(2026, 4, 6, 7, 0, 5))
        scheduler.run_pending()
    finally:
        revived.stop()
        scheduler.stop()
    assert len(revived.messages) == 1
    with store.session() as s:
        assert [r.state for r in history(s, sid)] == ["succeeded", "failed"]


def test_webhooks_to_internal_addresses_fail_in_the_run_history_without_a_connect(
    store, tmp_path, clock, owner, network, webhook_server
):
    """SSRF through a stored schedule (saved before the check, or a name that resolves inward):
    nothing connects, and the run history says "refused" with no status or answer to read."""
    network.open_ports.add(webhook_server.port)
    network.names["redis.internal.test"] = ["127.0.0.1"]
    settings = make_settings(tmp_path / "instance", WEBHOOK_SECRET=SECRET)
    scheduler = Scheduler(
        store,
        settings,
        CsvReport(tmp_path / "out"),
        {"webhook": default_channels(settings, store)["webhook"]},
        clock=clock,
    )
    targets = [
        f"{webhook_server.url}/hook",
        "http://0x7f000001:6379/",
        "http://169.254.169.254/latest/meta-data/",
        f"http://redis.internal.test:{webhook_server.port}/",
    ]
    with store.session() as s:
        sid = create_schedule(
            s,
            now=clock(),
            name="Probe",
            report_ref="revenue_analytics",
            cron="0 9 * * 1",
            timezone="Europe/Berlin",
            params={"period": "7d"},
            formats={"csv": True},
            recipients={"webhook": targets},
            owner_id=owner,
        ).id
    clock.set(utc(2026, 3, 30, 7, 0, 5))
    try:
        scheduler.run_pending()
    finally:
        scheduler.stop()

    with store.session() as s:
        [run] = history(s, sid)
        deliveries = {d.recipient: d for d in run.deliveries}
        assert run.state == "failed"
        assert [deliveries[t].state for t in targets] == ["failed"] * 4
        for delivery in (deliveries[t] for t in targets):
            assert delivery.error.startswith("webhook refused: "), delivery.error
            assert delivery.attempts == 1 and "status" not in (delivery.detail or {})
            assert "HTTP" not in delivery.error
    assert webhook_server.requests == [] and network.connects == []
