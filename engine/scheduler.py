"""The scheduler: turns due schedules into recorded runs, executes each exactly once, delivers.

How a run happens exactly once, however many app instances share the metadata database:
  1. *Claim* (any instance, every tick): for each schedule whose `next_run_at` has passed, one
     transaction locks the row (`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL), advances
     `next_run_at` with a compare-and-swap (`UPDATE ... WHERE next_run_at = <old value>`) and inserts
     the due `ScheduleRun` as `queued`. The unique (schedule_id, due_at) constraint backs this up:
     a second insert of the same occurrence fails and that instance rolls back.
  2. *Dispatch*: an instance with free workers moves queued runs to `running` with a second
     compare-and-swap (`WHERE state = 'queued'`, rows locked with SKIP LOCKED on PostgreSQL),
     stamps `claimed_by` and a lease, and hands the run id to its executor.
  3. *Execute*: render (bounded by REPORT_TIMEOUT_SECONDS), then deliver to every recipient,
     recording each delivery; the run ends `succeeded`, `failed` or `skipped`.
A run whose worker died (lease expired while `running`) is marked failed, never re-sent: a
delivery may already have gone out, and a duplicate is worse than a visible failure.

Misfires (occurrences missed while no scheduler ran): see `engine.schedules.plan_due` — the latest
missed occurrence runs if it is at most `misfire_grace` late (6 hours by default); every other
missed occurrence is recorded as a `skipped` run with the reason.

Execution seam: the `Executor` protocol. The default `ThreadExecutor` runs runs in this process on
REPORT_CONCURRENT_LIMIT threads. A Celery executor (later) implements `submit` by sending the run id
to a task that calls `Scheduler.execute(run_id)` in a worker; claiming and dispatching stay here.

Retention: run files under `<instance>/schedules/` are deleted once older than the export-file
retention (`security.audit.cutoff("export_files")`, 7 days); the runs stay in the history with their
files marked `purged_at`, and their download links answer 410. The tick does this at most hourly
(`purge_run_files`).

Timeouts: Python threads cannot be killed. A render still going at the deadline has its run marked
failed at once, its worker slot freed and its late output discarded; it is asked to stop through
`current_run().cancelled` / `check_cancelled()`, which long renders should poll.
"""

from __future__ import annotations

import contextvars
import logging
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, selectinload

from engine.schedules import (
    DEFAULT_MISFIRE_GRACE,
    Artifact,
    Bundle,
    Channel,
    Recipient,
    ScheduleError,
    as_utc,
    data_hash,
    first_fire,
    format_fire,
    parse_recipients,
    plan_due,
    upcoming,
    validate_cron,
    zone,
)
from security import audit
from settings import Settings
from store import Store
from store.models import DeliveryAttempt, Schedule, ScheduleRun

log = logging.getLogger(__name__)

RenderFn = Callable[[Schedule, datetime], Sequence[Artifact]]
LinkFn = Callable[[int, Artifact], str | None]
CHANNEL_FLAGS = {
    "email": "EMAIL_DELIVERY_ENABLED",
    "webhook": "WEBHOOK_DELIVERY_ENABLED",
    "storage": "STORAGE_DELIVERY_ENABLED",
}
FINAL_STATES = ("succeeded", "failed", "skipped")
PURGE_EVERY = timedelta(hours=1)  # how often a tick deletes run files past their retention


def utcnow() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------------------------
# Run context (for cooperative cancellation inside `render`)


class RunCancelled(Exception):
    """Raised by `check_cancelled()` inside a render whose run passed its deadline."""


@dataclass(frozen=True)
class RunContext:
    run_id: int
    schedule_id: int
    due_at: datetime
    deadline: float  # time.monotonic() value
    cancelled: threading.Event = field(default_factory=threading.Event)


_current_run: contextvars.ContextVar[RunContext | None] = contextvars.ContextVar(
    "nexpo_run", default=None
)


def current_run() -> RunContext | None:
    """The run being rendered on this thread, if any."""
    return _current_run.get()


def check_cancelled() -> None:
    """Raise RunCancelled when the current run has been stopped (timeout); a no-op elsewhere."""
    ctx = _current_run.get()
    if ctx is not None and ctx.cancelled.is_set():
        raise RunCancelled(f"run {ctx.run_id} was stopped")


class RunTimeout(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Executors


class Executor(Protocol):
    """Where claimed runs execute. `free_slots` bounds how many runs an instance claims."""

    def free_slots(self) -> int: ...

    def submit(self, run_id: int, execute: Callable[[int], None]) -> None: ...

    def drain(self, timeout: float | None = None) -> bool: ...

    def shutdown(self, wait: bool = True) -> None: ...


class ThreadExecutor:
    """In-process workers: at most `max_workers` runs at once (REPORT_CONCURRENT_LIMIT)."""

    def __init__(self, max_workers: int) -> None:
        self.max_workers = max_workers
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="nexpo-run")
        self._lock = threading.Condition()
        self._in_flight = 0

    def free_slots(self) -> int:
        with self._lock:
            return self.max_workers - self._in_flight

    def submit(self, run_id: int, execute: Callable[[int], None]) -> None:
        with self._lock:
            self._in_flight += 1

        def job() -> None:
            try:
                execute(run_id)
            except Exception:  # noqa: BLE001 - a worker must survive any run
                log.exception("run %s crashed its worker", run_id)
            finally:
                with self._lock:
                    self._in_flight -= 1
                    self._lock.notify_all()

        self._pool.submit(job)

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until no run is in flight; False if `timeout` passed first."""
        with self._lock:
            return self._lock.wait_for(lambda: self._in_flight == 0, timeout)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)


# ---------------------------------------------------------------------------------------------
# Schedule operations (used by the API and the UI; they take a session and commit with it)


def prepare_schedule(schedule: Schedule, now: datetime | None = None) -> Schedule:
    """Validate cron, time zone, dates and recipients, and set `next_run_at`. Call after every
    create or edit; raises ScheduleError with a message for the form."""
    schedule.cron = validate_cron(schedule.cron)
    zone(schedule.timezone)
    parse_recipients(schedule.recipients)
    if (
        schedule.starts_at
        and schedule.ends_at
        and as_utc(schedule.ends_at) <= as_utc(schedule.starts_at)
    ):
        raise ScheduleError("the schedule ends before it starts")
    schedule.next_run_at = first_fire(
        schedule.cron,
        schedule.timezone,
        now or utcnow(),
        starts_at=schedule.starts_at,
        ends_at=schedule.ends_at,
    )
    return schedule


def create_schedule(session: Session, *, now: datetime | None = None, **fields: Any) -> Schedule:
    """A new schedule from model fields (name, report_ref, cron, timezone, params, formats,
    recipients, starts_at, ends_at, owner_id, only_if_changed), validated and with its next run."""
    fields.setdefault("params", {})
    fields.setdefault("formats", {})
    fields.setdefault("recipients", {})
    fields.setdefault("timezone", "UTC")
    schedule = prepare_schedule(Schedule(**fields), now)
    session.add(schedule)
    session.flush()
    return schedule


def pause(session: Session, schedule_id: int) -> Schedule:
    schedule = _get(session, schedule_id)
    schedule.paused = True
    return schedule


def resume(session: Session, schedule_id: int, now: datetime | None = None) -> Schedule:
    """Resume from now on: occurrences that fell inside the pause are not run or recorded."""
    schedule = _get(session, schedule_id)
    schedule.paused = False
    return prepare_schedule(schedule, now)


def run_now(session: Session, schedule_id: int, now: datetime | None = None) -> ScheduleRun:
    """Queue a manual run (POST /api/schedules/:id/run). A manual run still waiting is returned
    instead of queueing a second one, so a double click sends once."""
    _get(session, schedule_id)
    waiting = session.scalar(
        select(ScheduleRun).where(
            ScheduleRun.schedule_id == schedule_id,
            ScheduleRun.trigger == "manual",
            ScheduleRun.state == "queued",
        )
    )
    if waiting is not None:
        return waiting
    run = ScheduleRun(
        schedule_id=schedule_id, due_at=as_utc(now or utcnow()), trigger="manual", state="queued"
    )
    session.add(run)
    session.flush()
    return run


def next_runs(schedule: Schedule, n: int = 5, now: datetime | None = None) -> list[datetime]:
    """The next `n` run times (UTC) of a schedule, from its cron, zone, start and end."""
    return upcoming(
        validate_cron(schedule.cron),
        schedule.timezone,
        n,
        now or utcnow(),
        starts_at=schedule.starts_at,
        ends_at=schedule.ends_at,
    )


def preview(schedule: Schedule, n: int = 5, now: datetime | None = None) -> list[str]:
    """Human-readable next run times: 'Mon 30 Mar 2026 09:00 CEST (07:00 UTC)'."""
    return [format_fire(fire, schedule.timezone) for fire in next_runs(schedule, n, now)]


def history(session: Session, schedule_id: int, limit: int = 50) -> list[ScheduleRun]:
    """The latest runs of a schedule, newest first, with their deliveries loaded."""
    return list(
        session.scalars(
            select(ScheduleRun)
            .where(ScheduleRun.schedule_id == schedule_id)
            .options(selectinload(ScheduleRun.deliveries))
            .order_by(ScheduleRun.due_at.desc())
            .limit(limit)
        )
    )


def _get(session: Session, schedule_id: int) -> Schedule:
    schedule = session.get(Schedule, schedule_id)
    if schedule is None:
        raise ScheduleError(f"no schedule {schedule_id}")
    return schedule


# ---------------------------------------------------------------------------------------------
# The scheduler


@dataclass
class TickReport:
    queued: list[int] = field(default_factory=list)  # runs created as due
    skipped: list[int] = field(default_factory=list)  # runs recorded as skipped (misfires)
    started: list[int] = field(default_factory=list)  # runs handed to the executor
    expired: list[int] = field(default_factory=list)  # running runs whose worker was lost
    purged: list[int] = field(default_factory=list)  # runs whose files passed their retention


class Scheduler:
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

    # -- executing one run ------------------------------------------------------------------

    def execute(self, run_id: int) -> None:
        """Render and deliver a run this instance has moved to `running`, and record the outcome."""
        started = time.monotonic()
        with self.store.session() as session:
            run = session.get(ScheduleRun, run_id)
            if run is None or run.state != "running" or run.claimed_by != self.instance_id:
                return
            schedule = session.get(Schedule, run.schedule_id)
            assert schedule is not None  # runs are deleted with their schedule
            due_at, trigger = as_utc(run.due_at), run.trigger
        outcome: dict[str, Any] = {}
        try:
            if schedule.paused and trigger == "schedule":
                outcome.update(
                    state="skipped", error="the schedule was paused before this run started"
                )
                return
            render_started = time.monotonic()
            artifacts = self._render(schedule, run_id, due_at)
            outcome["render_ms"] = int((time.monotonic() - render_started) * 1000)
            outcome["files"] = [a.describe() for a in artifacts]
            outcome["data_hash"] = digest = data_hash(artifacts)
            if schedule.only_if_changed and trigger == "schedule":
                previous = self._last_success(schedule.id)
                if previous is not None and previous[1] == digest:
                    outcome.update(
                        state="skipped",
                        error=f"the data has not changed since run #{previous[0]}: nothing sent",
                    )
                    return
            failures = self._deliver(run_id, schedule, due_at, artifacts)
            outcome["state"] = "failed" if failures else "succeeded"
            outcome["error"] = "; ".join(failures) or None
        except RunTimeout:
            outcome.update(
                state="failed", error=f"stopped after {self.timeout:g} s (REPORT_TIMEOUT_SECONDS)"
            )
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the run
            log.exception("run %s of schedule %s failed", run_id, schedule.id)
            outcome.update(
                state="failed", error=_safe_error(exc, "the report could not be generated")
            )
        finally:
            outcome.setdefault("state", "failed")
            self._finish(run_id, outcome, time.monotonic() - started)

    def _render(self, schedule: Schedule, run_id: int, due_at: datetime) -> list[Artifact]:
        ctx = RunContext(run_id, schedule.id, due_at, time.monotonic() + self.timeout)
        done = threading.Event()
        box: dict[str, Any] = {}

        def target() -> None:
            _current_run.set(ctx)
            try:
                box["artifacts"] = list(self.render(schedule, due_at))
            except BaseException as exc:  # noqa: BLE001 - handed back to the worker thread
                box["error"] = exc
            finally:
                done.set()

        threading.Thread(target=target, name=f"nexpo-render-{run_id}", daemon=True).start()
        if not done.wait(self.timeout):
            ctx.cancelled.set()
            log.warning(
                "run %s exceeded %ss; marked failed, render asked to stop", run_id, self.timeout
            )
            raise RunTimeout
        if "error" in box:
            raise box["error"]
        return box["artifacts"]

    def _last_success(self, schedule_id: int) -> tuple[int, str | None] | None:
        with self.store.session() as session:
            row = session.execute(
                select(ScheduleRun.id, ScheduleRun.data_hash)
                .where(ScheduleRun.schedule_id == schedule_id, ScheduleRun.state == "succeeded")
                .order_by(ScheduleRun.finished_at.desc(), ScheduleRun.id.desc())
                .limit(1)
            ).first()
        return (row[0], row[1]) if row else None

    def _recipients(self, schedule: Schedule) -> list[Recipient]:
        recipients = parse_recipients(schedule.recipients)
        if schedule.owner_id is not None and not any(
            r.channel == "portal" and r.address == str(schedule.owner_id) for r in recipients
        ):
            recipients.append(
                Recipient("portal", str(schedule.owner_id))
            )  # every run in the owner's history
        return recipients

    def _deliver(
        self, run_id: int, schedule: Schedule, due_at: datetime, artifacts: list[Artifact]
    ) -> list[str]:
        """Deliver to every recipient, recording each; returns the failures as sentences."""
        recipients = self._recipients(schedule)
        links = {
            a.name: link for a in artifacts if self.link_for and (link := self.link_for(run_id, a))
        }
        bundle = Bundle(
            schedule_id=schedule.id,
            schedule_name=schedule.name,
            report_ref=schedule.report_ref,
            run_id=run_id,
            due_at=due_at,
            timezone=schedule.timezone,
            artifacts=tuple(artifacts),
            params=dict(schedule.params or {}),
            links=links,
            owner_id=schedule.owner_id,
            report_timezone=self.settings.report_timezone,
        )
        with self.store.session() as session:
            rows = [
                DeliveryAttempt(run_id=run_id, channel=r.channel, recipient=r.label[:500])
                for r in recipients
            ]
            session.add_all(rows)
            session.flush()
            ids = [row.id for row in rows]
        failures = []
        for recipient, attempt_id in zip(recipients, ids, strict=True):
            values = self._deliver_one(bundle, recipient)
            with self.store.session() as session:
                session.execute(
                    update(DeliveryAttempt).where(DeliveryAttempt.id == attempt_id).values(**values)
                )
            if values["state"] == "failed":
                failures.append(f"{recipient.channel} to {recipient.label}: {values['error']}")
        return failures

    def _deliver_one(self, bundle: Bundle, recipient: Recipient) -> dict[str, Any]:
        started = utcnow()
        channel = self.channels.get(recipient.channel)
        if channel is None:
            flag = CHANNEL_FLAGS.get(recipient.channel)
            disabled = flag is not None and not getattr(self.settings, flag.lower(), True)
            reason = (
                f"{recipient.channel} delivery is disabled ({flag}=false)"
                if disabled
                else f"no {recipient.channel!r} delivery channel is configured"
            )
            return {
                "state": "skipped",
                "error": reason,
                "started_at": started,
                "finished_at": utcnow(),
            }
        try:
            result = channel.send(bundle, recipient)
        except Exception as exc:  # noqa: BLE001 - recorded per recipient; the others still go out
            if not hasattr(exc, "user_message"):
                log.exception("%s delivery of run %s crashed", recipient.channel, bundle.run_id)
            return {
                "state": "failed",
                "attempts": int(getattr(exc, "attempts", 1)),
                "error": _safe_error(exc, f"{recipient.channel} delivery failed"),
                "started_at": started,
                "finished_at": utcnow(),
            }
        return {
            "state": "sent",
            "attempts": result.attempts,
            "detail": dict(result.detail),
            "error": None,
            "started_at": started,
            "finished_at": utcnow(),
        }

    def _finish(self, run_id: int, outcome: dict[str, Any], seconds: float) -> None:
        values = {
            "finished_at": self.clock(),
            "duration_ms": int(seconds * 1000),
            "lease_until": None,
            **outcome,
        }
        with self.store.session() as session:
            moved = session.execute(
                update(ScheduleRun)
                .where(ScheduleRun.id == run_id, ScheduleRun.state == "running")
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        if moved.rowcount != 1:
            log.warning(
                "run %s was no longer running when it finished (%s)", run_id, outcome.get("state")
            )


def purge_run_files(
    store: Store, instance: Path, now: datetime, *, audit_enabled: bool = True
) -> list[int]:
    """Delete the files of runs that finished before the export-file retention cutoff (7 days).

    The runs stay (the history); each of their files is marked `purged_at`, so its download link
    answers 410 instead of 404. Only files inside `<instance>/schedules/` are deleted (storage
    deliveries are the recipient's copies). Folders there that belong to no run (a deleted schedule,
    a render outside the scheduler) go too once they are older than the cutoff. Returns the ids of
    the runs whose files were purged now."""
    now = as_utc(now)
    before = audit.cutoff("export_files", now)
    root = (Path(instance) / "schedules").resolve()
    purged: list[int] = []
    with store.session() as session:
        old = session.execute(
            select(ScheduleRun.id, ScheduleRun.files).where(
                ScheduleRun.state.in_(FINAL_STATES), ScheduleRun.finished_at < before
            )
        ).all()
        for run_id, files in old:
            if not files or all(f.get("purged_at") for f in files):
                continue
            for f in files:
                path = Path(str(f.get("path") or ""))
                if f.get("path") and path.resolve().is_relative_to(root):
                    path.unlink(missing_ok=True)
            _remove_dir(root / str(run_id), root)
            marked = [
                f if f.get("purged_at") else {**f, "purged_at": now.isoformat()} for f in files
            ]
            session.execute(
                update(ScheduleRun)
                .where(ScheduleRun.id == run_id)
                .values(files=marked)
                .execution_options(synchronize_session=False)
            )
            purged.append(run_id)
        known = {str(i) for i in session.scalars(select(ScheduleRun.id)).all()}
    if root.is_dir():
        for folder in root.iterdir():
            mtime = datetime.fromtimestamp(folder.stat().st_mtime, UTC)
            if folder.is_dir() and folder.name not in known and mtime < before:
                _remove_dir(folder, root)
    if purged:
        log.info("purged the files of %d run(s) older than %s", len(purged), before.isoformat())
        audit.record(
            store,
            principal=None,
            username="system",
            action="schedule.purge_files",
            target="schedule_runs",
            detail={"runs": len(purged), "before": before.isoformat()},
            enabled=audit_enabled,
        )
    return purged


def _remove_dir(folder: Path, root: Path) -> None:
    if folder.is_dir() and folder.resolve().is_relative_to(root) and folder.resolve() != root:
        shutil.rmtree(folder, ignore_errors=True)


def _safe_error(exc: BaseException, fallback: str) -> str:
    """The error's `user_message` if it has one; otherwise a generic sentence with its type
    (driver messages can carry DSNs or SQL, which users must not see)."""
    message = getattr(exc, "user_message", None)
    return str(message) if message else f"{fallback} ({type(exc).__name__})"
