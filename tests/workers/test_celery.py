"""Celery on the real Redis (127.0.0.1:6379): a scheduler sends a claimed run to a worker, which
renders and e-mails it to an aiosmtpd server; the run is recorded as executed for the claimer."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.scheduler import create_schedule, run_now
from engine.services import Services
from store.models import DeliveryAttempt, ScheduleRun
from tests.delivery.servers import smtp_server_fixture  # noqa: F401 - fixture

pytest.importorskip("celery", reason="celery is not installed (see workers/celery_app.py for pins)")


def test_a_celery_worker_executes_and_delivers_a_run(app, redis_url, smtp_server):
    from celery.contrib.testing.worker import start_worker

    from workers import build_scheduler, choose_executor
    from workers.celery_app import CeleryExecutor, configure, make_celery

    base = app.server.extensions["nexpo"]
    settings = base.settings.replace(smtp_port=smtp_server.port, redis_url=redis_url)
    services = Services(settings, base.store, base.sources)
    assert choose_executor(settings) == "celery"
    with services.store.session() as session:
        schedule = create_schedule(
            session,
            name="Celery weekly",
            report_ref="revenue_overview",
            cron="0 9 * * 1",
            timezone="Europe/Berlin",
            params={"period": "7d"},
            formats={"csv": True},
            recipients={"email": ["celery@example.com"]},
            owner_id=1,
        )
        run_id = run_now(session, schedule.id).id

    configure(services)
    worker_app = make_celery(redis_url)
    with start_worker(
        worker_app, pool="threads", concurrency=2, perform_ping_check=False, loglevel="WARNING"
    ):
        scheduler = build_scheduler(services)
        assert isinstance(scheduler.executor, CeleryExecutor)
        report = scheduler.run_pending(timeout=120)
        assert run_id in report.started
        scheduler.executor.shutdown()

    with services.store.session() as session:
        run = session.get(ScheduleRun, run_id)
        assert run.state == "succeeded", run.error
        assert run.claimed_by == scheduler.instance_id
        states = session.execute(
            select(DeliveryAttempt.channel, DeliveryAttempt.state).where(
                DeliveryAttempt.run_id == run_id
            )
        ).all()
    assert sorted(states) == [("email", "sent"), ("portal", "sent")]
    [message] = [m for m in smtp_server.messages if m["X-Nexpo-Run"] == str(run_id)]
    assert message["To"] == "celery@example.com"
    assert any(p.get_filename().endswith(".csv") for p in message.iter_attachments())
