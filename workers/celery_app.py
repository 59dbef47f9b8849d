"""Celery on Redis for scheduled runs (REDIS_URL): the Executor seam of engine/scheduler/.

The scheduler (in a web process or `flask --app app scheduler`) still claims due runs and moves each
to `running` in the metadata database; `CeleryExecutor.submit` then sends the run id and the
claiming instance's id to the task `nexpo.execute_run`, which a worker executes with
`Scheduler.execute(run_id)` (render, deliver, record). Nothing else travels through Redis.

    .venv/bin/flask --app app worker                    # or:
    .venv/bin/celery -A workers.celery_app worker --pool=threads --concurrency=10

Delivery semantics: a task is acknowledged when a worker takes it (not late). A worker that dies
mid-run leaves the run `running` until its lease expires, and the scheduler then marks it failed:
runs are never re-sent, because a delivery may already have gone out.

Pins (checked with pip in .venv; dash[celery] is not used, it caps redis-py at 5.0.4): celery 5.6.3
with kombu 5.7.0 run on our redis==8.1.0. celery 5.7.0 pins python-dateutil==2.9.0.post0 (we pin
4.0.0) and kombu[redis] pins packaging==26.3 (we pin 26.4), so use plain kombu, not the extra.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from celery import Celery
from sqlalchemy import func, select

from engine.scheduler import Scheduler
from engine.services import Services
from store import Store
from store.models import ScheduleRun

log = logging.getLogger(__name__)
TASK = "nexpo.execute_run"
QUEUE = "nexpo-runs"

_services: Services | None = None
_lock = threading.Lock()


def configure(services: Services) -> None:
    """Use these services in this process's worker (tests, `flask worker`)."""
    global _services
    _services = services


def _current_services() -> Services:
    """The services of this worker: configured, or built from the environment (`celery -A ...`)."""
    global _services
    with _lock:
        if _services is None:
            from datasources.registry import DataSources
            from settings import Settings
            from store import init_store

            settings = Settings.from_env()
            _services = Services(
                settings, init_store(settings.database_url), DataSources.from_settings(settings)
            )
        return _services


class _NoExecutor:
    """A worker's Scheduler only executes; it never claims or dispatches."""

    def free_slots(self) -> int:
        return 0

    def submit(self, run_id: int, execute: Callable[[int], None]) -> None:  # pragma: no cover
        raise RuntimeError("a worker does not dispatch runs")

    def drain(self, timeout: float | None = None) -> bool:
        return True

    def shutdown(self, wait: bool = True) -> None:
        pass


def execute_run(run_id: int, claimed_by: str) -> None:
    """The task: execute a run on behalf of the scheduler instance that claimed it."""
    from workers import build_scheduler

    services = _current_services()
    scheduler: Scheduler = build_scheduler(services, executor=_NoExecutor(), instance_id=claimed_by)
    scheduler.execute(run_id)


def make_celery(broker_url: str) -> Celery:
    app = Celery("nexpo", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=QUEUE,
        task_ignore_result=True,
        task_acks_late=False,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    app.task(name=TASK, ignore_result=True)(execute_run)
    return app


class CeleryExecutor:
    """Sends claimed runs to Celery workers. `free_slots` is REPORT_CONCURRENT_LIMIT minus the runs
    running anywhere (from the metadata database), so the limit holds across all schedulers."""

    def __init__(self, app: Celery, store: Store, limit: int) -> None:
        self.app, self.store, self.limit = app, store, limit
        self._sent: set[int] = set()
        self._sent_lock = threading.Lock()

    def free_slots(self) -> int:
        with self.store.session() as session:
            running = session.scalar(
                select(func.count()).select_from(ScheduleRun).where(ScheduleRun.state == "running")
            )
        return max(0, self.limit - int(running or 0))

    def submit(self, run_id: int, execute: Callable[[int], None]) -> None:
        instance_id = getattr(getattr(execute, "__self__", None), "instance_id", None)
        if instance_id is None:
            raise TypeError("CeleryExecutor.submit needs Scheduler.execute (for its instance id)")
        self.app.send_task(TASK, args=[run_id, instance_id], queue=QUEUE)
        with self._sent_lock:
            self._sent.add(run_id)

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until the runs sent from here have left `running`/`queued` (tests, --once)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._sent_lock:
                ids = list(self._sent)
            if not ids:
                return True
            with self.store.session() as session:
                busy = set(
                    session.scalars(
                        select(ScheduleRun.id).where(
                            ScheduleRun.id.in_(ids), ScheduleRun.state.in_(("queued", "running"))
                        )
                    )
                )
            with self._sent_lock:
                self._sent &= busy
            if not busy:
                return True
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.2)

    def shutdown(self, wait: bool = True) -> None:
        if wait:
            self.drain(timeout=0)
        self.app.close()


def __getattr__(name: str) -> Any:
    # `celery -A workers.celery_app worker` finds the app here; built from the environment on use.
    if name in ("app", "celery"):
        settings = _current_services().settings
        if not settings.redis_url:
            raise RuntimeError("REDIS_URL is empty: Celery needs Redis as its broker")
        app = make_celery(settings.redis_url)
        globals()["app"] = globals()["celery"] = app
        return app
    raise AttributeError(name)
