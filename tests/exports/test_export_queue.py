"""`redis-cli llen export_queue` counts the pending exports (exports/jobs/queue.py), on the real Redis."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import redis
from sqlalchemy import func, select, update

import exports.jobs as jobs
from engine.services import Services
from security.users import load_principal
from store.models import Export, User

REPORT = "revenue_overview"


@pytest.fixture
def queued_services(app, redis_url):
    base = app.server.extensions["nexpo"]
    # One worker, so that every export after the first waits in the queue.
    svc = Services(
        base.settings.replace(redis_url=redis_url, report_concurrent_limit=1),
        base.store,
        base.sources,
    )
    yield svc
    jobs.shutdown_manager(svc)


@pytest.fixture
def analyst(app):
    store = app.server.extensions["nexpo"].store
    with store.session() as session:
        user_id = session.scalar(select(User.id).where(User.username == "manager"))
    return load_principal(store, str(user_id))


@pytest.fixture
def blocked_worker(monkeypatch):
    entered, release = threading.Event(), threading.Event()
    real = jobs.generate

    def blocked(*args, **kwargs):
        entered.set()
        release.wait(20)
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs, "generate", blocked)
    yield entered, release
    release.set()


def pending_rows(svc: Services) -> int:
    with svc.store.session() as session:
        return session.scalar(
            select(func.count()).select_from(Export).where(Export.status == jobs.PENDING)
        )


def test_llen_is_the_number_of_pending_exports(queued_services, analyst, redis_url, blocked_worker):
    svc, client = queued_services, redis.Redis.from_url(redis_url)
    entered, release = blocked_worker
    first = jobs.create_export(svc, analyst, REPORT, "csv", "7d", {}, widget_id="mrr")
    assert entered.wait(10)  # the one worker claimed it: running, no longer queued
    assert client.llen("export_queue") == 0
    queued = [
        jobs.create_export(svc, analyst, REPORT, "json", "7d", {}, widget_id="mrr")
        for _ in range(3)
    ]
    assert client.llen("export_queue") == 3 == pending_rows(svc)
    assert {i.decode() for i in client.lrange("export_queue", 0, -1)} == {r.id for r in queued}

    jobs.cancel_export(svc, analyst, queued[1].id)
    assert client.llen("export_queue") == 2 == pending_rows(svc)
    assert queued[1].id.encode() not in client.lrange("export_queue", 0, -1)

    jobs.cancel_export(svc, analyst, first.id)  # cancelling a running export changes nothing
    assert client.llen("export_queue") == 2

    release.set()  # the worker takes the two left, one by one, and the list drains
    for row in (queued[0], queued[2]):
        assert jobs.wait(svc, row.id, 60).status == "succeeded"
    assert client.llen("export_queue") == 0 == pending_rows(svc)


def test_the_list_drains_as_the_worker_claims(queued_services, analyst, redis_url, monkeypatch):
    svc, client = queued_services, redis.Redis.from_url(redis_url)
    all_queued = threading.Event()
    real = jobs.generate
    seen: list[int] = []

    def step(*args, **kwargs):
        all_queued.wait(20)
        seen.append(client.llen("export_queue"))
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs, "generate", step)
    # One-widget exports: one generate call per export.
    rows = [
        jobs.create_export(svc, analyst, REPORT, "csv", "7d", {}, widget_id="mrr") for _ in range(3)
    ]
    all_queued.set()
    for row in rows:
        assert jobs.wait(svc, row.id, 60).status == "succeeded"
    # Each claim took one off: 2 behind the first, then 1, then none.
    assert seen == [2, 1, 0]
    assert client.llen("export_queue") == 0 == pending_rows(svc)


def test_reconcile_makes_the_list_equal_to_the_pending_rows(queued_services, analyst, redis_url):
    svc, client = queued_services, redis.Redis.from_url(redis_url)
    queue = jobs.ExportQueueList(redis_url)
    client.lpush("export_queue", "gone-long-ago")  # left by a process that died
    old = Export(
        id="a" * 32,
        report_ref=REPORT,
        format="csv",
        status=jobs.PENDING,
        params={},
        owner_id=analyst.id,
        created_at=datetime.now(UTC) - timedelta(minutes=5),
        heartbeat_at=datetime.now(UTC),  # its process is alive (a stale row would be failed)
    )
    with svc.store.session() as session:
        session.add(old)  # queued while Redis was down: not in the list
    try:
        queue.reconcile(svc.store)
        assert [i.decode() for i in client.lrange("export_queue", 0, -1)] == [old.id]
    finally:
        with svc.store.session() as session:
            session.execute(update(Export).where(Export.id == old.id).values(status=jobs.CANCELLED))
        queue.close()


def test_a_dead_redis_never_fails_an_export(app, analyst):
    base = app.server.extensions["nexpo"]
    svc = Services(
        base.settings.replace(redis_url="redis://127.0.0.1:1/15"), base.store, base.sources
    )
    try:
        row = jobs.create_export(svc, analyst, REPORT, "csv", "7d", {}, widget_id="mrr")
        row = jobs.wait(svc, row.id, 60)
        assert row.status == "succeeded"
        assert jobs.manager(svc).queue.length() is None
    finally:
        jobs.shutdown_manager(svc)
