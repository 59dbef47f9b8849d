"""Executing one claimed run: render it under REPORT_TIMEOUT_SECONDS, deliver it to every
recipient, record each delivery and the run's outcome. `Scheduler` gets these methods from
`RunExecution`."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from engine.scheduler.runs import RunContext, RunTimeout, _current_run, utcnow
from engine.schedules import (
    Artifact,
    Bundle,
    Channel,
    Recipient,
    as_utc,
    data_hash,
    parse_recipients,
)
from settings import Settings
from store import Store
from store.models import DeliveryAttempt, Schedule, ScheduleRun

log = logging.getLogger(__name__)

RenderFn = Callable[[Schedule, datetime], Sequence[Artifact]]
LinkFn = Callable[[int, Artifact], str | None]
CHANNEL_FLAGS = {
    "email": "EMAIL_DELIVERY_ENABLED",
    "webhook": "WEBHOOK_DELIVERY_ENABLED",
    "storage": "FILE_STORAGE_ENABLED",
    "portal": "REPORT_PORTAL_ENABLED",
}


class RunExecution:
    """The run-executing half of `Scheduler` (which sets these attributes in its `__init__`)."""

    store: Store
    settings: Settings
    render: RenderFn
    channels: dict[str, Channel]
    clock: Callable[[], datetime]
    link_for: LinkFn | None
    instance_id: str
    timeout: float

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
        if not self.settings.report_portal_enabled:
            return recipients  # no owner's history entry to add (explicit ones are skipped)
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


def _safe_error(exc: BaseException, fallback: str) -> str:
    """The error's `user_message` if it has one; otherwise a generic sentence with its type
    (driver messages can carry DSNs or SQL, which users must not see)."""
    message = getattr(exc, "user_message", None)
    return str(message) if message else f"{fallback} ({type(exc).__name__})"
