"""The `Scheduler`: its background tick, claiming due occurrences (with the misfire policy),
dispatching queued runs to free workers and expiring lost ones. Executing a run is in
`engine.scheduler.execution`."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from engine.scheduler.execution import LinkFn, RenderFn, RunExecution
from engine.scheduler.purge import purge_run_files
from engine.scheduler.runs import Executor, ThreadExecutor, utcnow
from engine.schedules import (
    DEFAULT_MISFIRE_GRACE,
    Channel,
    ScheduleError,
    as_utc,
    plan_due,
)
from settings import Settings
from store import Store
from store.models import Schedule, ScheduleRun

log = logging.getLogger(__name__)

PURGE_EVERY = timedelta(hours=1)  # how often a tick deletes run files past their retention


@dataclass
class TickReport:
    queued: list[int] = field(default_factory=list)  # runs created as due
    skipped: list[int] = field(default_factory=list)  # runs recorded as skipped (misfires)
    started: list[int] = field(default_factory=list)  # runs handed to the executor
    expired: list[int] = field(default_factory=list)  # running runs whose worker was lost
    purged: list[int] = field(default_factory=list)  # runs whose files passed their retention


class Scheduler(RunExecution):
    """Claims due runs, executes them on an executor and records every step.

    Args:
        store: the metadata store (shared by all instances).
        settings: REPORT_TIMEOUT_SECONDS, REPORT_CONCURRENT_LIMIT and the *_DELIVERY_ENABLED flags.
        render: `render(schedule, due_at) -> [Artifact]`, the report for one occurrence.
        channels: delivery channels by name (`delivery.default_channels(settings, store)`).
        executor: where runs execute (default: ThreadExecutor(REPORT_CONCURRENT_LIMIT)).
        clock: the current UTC time (tests pass a fake clock).
        tick_seconds: how often the background thread looks for due runs.
        misfire_grace: how late the latest missed occurrence may be and still run.
        link_for: download URL of a run's file (for emails over the size limit and webhooks).
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        render: RenderFn,
        channels: Mapping[str, Channel] | None = None,
        *,
        executor: Executor | None = None,
        clock: Callable[[], datetime] = utcnow,
        tick_seconds: float = 15.0,
        misfire_grace: timedelta = DEFAULT_MISFIRE_GRACE,
        link_for: LinkFn | None = None,
        instance_id: str | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.render = render
        self.channels = dict(channels or {})
        self.executor = executor or ThreadExecutor(settings.report_concurrent_limit)
        self.clock = clock
        self.tick_seconds = tick_seconds
        self.misfire_grace = misfire_grace
        self.link_for = link_for
        self.instance_id = (
            instance_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        )
        self.timeout = float(settings.report_timeout_seconds)
        # A run's lease covers the render timeout plus delivery retries with room to spare.
        self.lease = timedelta(seconds=2 * self.timeout + 900)
        self._postgres = store.engine.dialect.name == "postgresql"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_purge: datetime | None = None

    # -- background thread ------------------------------------------------------------------

    def start(self) -> None:
        """Tick now and then every `tick_seconds` on a daemon thread until `stop()`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="nexpo-scheduler", daemon=True)
        self._thread.start()

    def stop(self, wait: bool = True) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.executor.shutdown(wait=wait)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the loop outlives a database hiccup
                log.exception("scheduler tick failed")
            self._stop.wait(self.tick_seconds)

    # -- one tick ---------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> TickReport:
        """Expire lost runs, claim due occurrences, dispatch queued runs to free workers."""
        now = as_utc(now or self.clock())
        report = TickReport()
        report.expired = self._expire_leases(now)
        with self.store.session() as session:
            due = session.scalars(
                select(Schedule.id)
                .where(
                    Schedule.paused.is_(False),
                    Schedule.next_run_at.is_not(None),
                    Schedule.next_run_at <= now,
                )
                .order_by(Schedule.next_run_at)
                .limit(500)
            ).all()
        for schedule_id in due:
            try:
                queued, skipped = self._claim(schedule_id, now)
            except (IntegrityError, OperationalError) as exc:
                # Another instance claimed it first (unique run, or SQLite's writer lock).
                log.info("schedule %s claimed elsewhere (%s)", schedule_id, type(exc).__name__)
                continue
            report.queued += queued
            report.skipped += skipped
        report.started = self._dispatch(now)
        if self._next_purge is None or now >= self._next_purge:
            self._next_purge = now + PURGE_EVERY
            try:
                report.purged = purge_run_files(
                    self.store,
                    self.settings.instance,
                    now,
                    audit_enabled=self.settings.enable_audit_log,
                )
            except Exception:  # noqa: BLE001 - retention must never stop the runs
                log.exception("purging old run files failed")
        return report

    def run_pending(self, now: datetime | None = None, timeout: float | None = 60) -> TickReport:
        """One tick, then wait for the runs it started (tests, CLI)."""
        report = self.tick(now)
        self.executor.drain(timeout)
        return report

    def _claim(self, schedule_id: int, now: datetime) -> tuple[list[int], list[int]]:
        with self.store.session() as session:
            query = select(Schedule).where(
                Schedule.id == schedule_id, Schedule.paused.is_(False), Schedule.next_run_at <= now
            )
            if self._postgres:
                query = query.with_for_update(skip_locked=True)
            schedule = session.scalar(query)
            if schedule is None or schedule.next_run_at is None:
                return [], []
            old = schedule.next_run_at
            try:
                plan = plan_due(
                    schedule.cron,
                    schedule.timezone,
                    old,
                    now,
                    ends_at=schedule.ends_at,
                    grace=self.misfire_grace,
                )
            except ScheduleError as exc:
                # A schedule the engine cannot evaluate any more: stop it, visibly.
                runs = [
                    ScheduleRun(
                        schedule_id=schedule_id,
                        due_at=as_utc(old),
                        state="failed",
                        error=exc.user_message,
                        finished_at=now,
                    )
                ]
                new_next = None
            else:
                runs = [
                    ScheduleRun(
                        schedule_id=schedule_id,
                        due_at=due,
                        state="skipped",
                        finished_at=now,
                        error=self._misfire_note(plan.more_skipped),
                    )
                    for due in plan.skipped
                ]
                if plan.run is not None:
                    runs.append(
                        ScheduleRun(schedule_id=schedule_id, due_at=plan.run, state="queued")
                    )
                new_next = plan.next_run_at
            swapped = session.execute(
                update(Schedule)
                .where(Schedule.id == schedule_id, Schedule.next_run_at == old)
                .values(next_run_at=new_next)
                .execution_options(synchronize_session=False)
            )
            if swapped.rowcount != 1:  # another instance advanced it first: nothing was changed
                return [], []
            session.add_all(runs)
            session.flush()
            return [r.id for r in runs if r.state == "queued"], [
                r.id for r in runs if r.state != "queued"
            ]

    def _misfire_note(self, more: bool) -> str:
        hours = self.misfire_grace.total_seconds() / 3600
        note = (
            f"missed while no scheduler was running; misfire policy: only the latest missed run is sent, "
            f"and only if it is less than {hours:g} h late"
        )
        return note + (" (older missed runs are not listed)" if more else "")

    def _dispatch(self, now: datetime) -> list[int]:
        free = self.executor.free_slots()
        if free <= 0:
            return []
        with self.store.session() as session:
            query = (
                select(ScheduleRun.id)
                .where(ScheduleRun.state == "queued")
                .order_by(ScheduleRun.due_at)
                .limit(free)
            )
            if self._postgres:
                query = query.with_for_update(skip_locked=True)
            claimed = []
            for run_id in session.scalars(query).all():
                moved = session.execute(
                    update(ScheduleRun)
                    .where(ScheduleRun.id == run_id, ScheduleRun.state == "queued")
                    .values(
                        state="running",
                        claimed_by=self.instance_id,
                        started_at=now,
                        lease_until=now + self.lease,
                        attempts=ScheduleRun.attempts + 1,
                    )
                    .execution_options(synchronize_session=False)
                )
                if moved.rowcount == 1:
                    claimed.append(run_id)
        for run_id in claimed:
            self.executor.submit(run_id, self.execute)
        return claimed

    def _expire_leases(self, now: datetime) -> list[int]:
        with self.store.session() as session:
            lost = session.scalars(
                select(ScheduleRun.id).where(
                    ScheduleRun.state == "running", ScheduleRun.lease_until < now
                )
            ).all()
            expired = []
            for run_id in lost:
                moved = session.execute(
                    update(ScheduleRun)
                    .where(
                        ScheduleRun.id == run_id,
                        ScheduleRun.state == "running",
                        ScheduleRun.lease_until < now,
                    )
                    .values(
                        state="failed",
                        finished_at=now,
                        error="the worker running this report stopped before it finished",
                    )
                    .execution_options(synchronize_session=False)
                )
                if moved.rowcount == 1:
                    expired.append(run_id)
        return expired
