"""Exactly once: two scheduler instances, each with its own engine, share one PostgreSQL and race
on every tick; every due run is delivered once to a real webhook receiver."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from delivery import RetryPolicy, WebhookChannel
from engine.scheduler import Scheduler, create_schedule
from store import Store, init_store
from store.models import ScheduleRun
from tests.delivery.servers import webhook_server_fixture  # noqa: F401 - fixture
from tests.engine.scheduler_support import Clock, CsvReport, make_settings, utc

SCHEDULES = 8
MINUTES = 5


@pytest.mark.postgres
def test_two_schedulers_on_one_postgres_deliver_every_run_exactly_once(
    pg_database, tmp_path, webhook_server
):
    init_store(pg_database).dispose()
    start = utc(2026, 6, 1, 12, 0, 0)
    clock = Clock(start)
    setup = Store(pg_database)
    with setup.session() as s:
        for i in range(SCHEDULES):
            create_schedule(
                s,
                now=start,
                name=f"s{i}",
                report_ref="revenue_analytics",
                cron="* * * * *",
                timezone="UTC",
                recipients={"webhook": [{"url": webhook_server.url, "secret": "k"}]},
            )
    setup.dispose()

    instances = []
    for name in ("a", "b"):
        store = Store(pg_database)  # its own engine and connection pool, like another app instance
        settings = make_settings(tmp_path / f"instance-{name}", report_concurrent_limit="3")
        channels = {
            "webhook": WebhookChannel(
                retry=RetryPolicy(attempts=2, base_delay=0.01), allowed_hosts=("127.0.0.1",)
            )
        }
        instances.append(
            Scheduler(
                store,
                settings,
                CsvReport(tmp_path / f"out-{name}"),
                channels,
                clock=clock,
                instance_id=name,
            )
        )

    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def race(scheduler: Scheduler) -> None:
        try:
            for _ in range(4):  # several ticks per instant: both instances see the same due runs
                barrier.wait(timeout=30)
                scheduler.tick()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    try:
        for step in range(MINUTES * 3):  # every 20 seconds for five minutes
            clock.set(start + timedelta(seconds=20 * (step + 1)))
            threads = [threading.Thread(target=race, args=(s,)) for s in instances]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert not errors, errors
        for s in instances:
            s.tick()
            assert s.executor.drain(60)
        for s in instances:  # leftovers queued while both pools were full
            s.run_pending()
    finally:
        for s in instances:
            s.stop()
            s.store.dispose()

    deliveries = Counter(
        (b["schedule"]["id"], b["run"]["due_at"])
        for b in (json.loads(r.body) for r in webhook_server.requests)
    )
    assert len(deliveries) == SCHEDULES * MINUTES  # 12:01 ... 12:05 for every schedule
    assert set(deliveries.values()) == {1}  # and none twice
    check = Store(pg_database)
    with check.session() as s:
        states = Counter(s.scalars(select(ScheduleRun.state)).all())
        by_instance = Counter(s.scalars(select(ScheduleRun.claimed_by)).all())
        assert s.scalar(select(func.count()).select_from(ScheduleRun)) == SCHEDULES * MINUTES
    check.dispose()
    assert states == {"succeeded": SCHEDULES * MINUTES}
    assert set(by_instance) <= {"a", "b"}
