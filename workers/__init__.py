"""Running the scheduler: in the web process (embedded default), or as separate commands (scaled out).

Embedded default (`make run`, `python app.py`, gunicorn): when ENABLE_SCHEDULED_REPORTS and
SCHEDULER_ENABLED are true, every app process runs one `engine.scheduler.Scheduler` on a daemon
thread, ticking every SCHEDULER_TICK_SECONDS, executing runs on REPORT_CONCURRENT_LIMIT threads.
Several processes (gunicorn workers, several hosts on one PostgreSQL) may all run it: each due run
is claimed once through the metadata database. It is not started inside `flask ...` commands (a
short-lived CLI process must not claim runs), and it is stopped at exit (atexit), letting runs in
progress finish.

Scaled out (REDIS_URL set, SCHEDULER_EXECUTOR=auto|celery): claimed runs are sent to Celery
workers over Redis (workers/celery_app.py) instead of local threads. Start:

    .venv/bin/flask --app app worker      # a Celery worker (threads pool, REPORT_CONCURRENT_LIMIT)
    .venv/bin/flask --app app scheduler   # the scheduler loop (beat-equivalent): claims due runs
                                          # and dispatches them; run one or more, anywhere

and set SCHEDULER_ENABLED=false on the web processes if they should only serve pages (leaving it on
is safe too: claims are exactly-once). With SCHEDULER_EXECUTOR=threads, `flask scheduler` executes
runs itself (a standalone scheduler process without Redis).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import quote

import click
from flask import Flask

from delivery import default_channels
from delivery.email import EmailChannel, SmtpConfig
from delivery.portal import PortalChannel
from delivery.storage import StorageChannel
from engine.report_runner import ReportRunner
from engine.scheduler import Executor, Scheduler, ThreadExecutor
from engine.schedules import Artifact, Channel
from engine.services import Services
from settings import Settings

log = logging.getLogger(__name__)
EXTENSION_KEY = "nexpo_scheduler"


def public_base_url(settings: Settings) -> str:
    return (settings.public_base_url or f"http://{settings.host}:{settings.port}").rstrip("/")


def link_builder(settings: Settings):  # noqa: ANN201 - engine.scheduler.LinkFn
    """Download URL of a run's file: `<PUBLIC_BASE_URL>/api/schedules/runs/<run>/files/<name>`
    (signed-in users who may read the schedule, or who have the run in their portal history)."""
    base = public_base_url(settings)

    def link_for(run_id: int, artifact: Artifact) -> str:
        return f"{base}/api/schedules/runs/{run_id}/files/{quote(artifact.name)}"

    return link_for


def channels_for(services: Services) -> dict[str, Channel]:
    """`delivery.default_channels` with this deployment's settings: attachment limit, default webhook
    secret, storage root. Channels turned off (*_DELIVERY_ENABLED, FILE_STORAGE_ENABLED,
    REPORT_PORTAL_ENABLED) stay out."""
    settings = services.settings
    channels = default_channels(settings, services.store)
    if "email" in channels:
        channels["email"] = EmailChannel(
            SmtpConfig.from_settings(settings),
            max_attachment_bytes=settings.email_max_attachment_mb * 1024 * 1024,
        )
    if "storage" in channels:
        root = settings.storage_delivery_root or str(settings.instance / "deliveries")
        channels["storage"] = StorageChannel(root)
    if "portal" in channels:
        channels["portal"] = PortalChannel(services.store, portal_check(services))
    return channels


def portal_check(services: Services) -> Callable[[int, int], bool]:
    """`may_receive(user_id, run_id)` for the portal channel: the recipient's rights must cover
    the schedule owner's (engine.schedule_service.reader_covers_owner)."""
    from engine.schedule_service.ops import reader_covers_owner
    from security.users import load_principal
    from store.models import Schedule, ScheduleRun

    def may_receive(user_id: int, run_id: int) -> bool:
        reader = load_principal(services.store, str(user_id))
        with services.store.session() as session:
            run = session.get(ScheduleRun, run_id)
            schedule = session.get(Schedule, run.schedule_id) if run is not None else None
            if reader is None or schedule is None:
                return False
            if schedule.owner_id == user_id:
                return True
            session.expunge(schedule)
        return reader_covers_owner(services, reader, schedule)

    return may_receive


def choose_executor(settings: Settings) -> str:
    """'celery' or 'threads' from SCHEDULER_EXECUTOR and REDIS_URL."""
    mode = settings.scheduler_executor
    if mode == "celery" and not settings.redis_url:
        raise click.UsageError("SCHEDULER_EXECUTOR=celery needs REDIS_URL")
    if mode == "auto":
        mode = "celery" if settings.redis_url else "threads"
    return mode


def build_scheduler(
    services: Services, *, executor: Executor | None = None, **kwargs: object
) -> Scheduler:
    """A Scheduler with the real render, the configured channels and executor, and download links."""
    settings = services.settings
    if executor is None:
        if choose_executor(settings) == "celery":
            from workers.celery_app import CeleryExecutor, make_celery

            executor = CeleryExecutor(
                make_celery(settings.redis_url), services.store, settings.report_concurrent_limit
            )
        else:
            executor = ThreadExecutor(settings.report_concurrent_limit)
    return Scheduler(
        services.store,
        settings,
        ReportRunner(services),
        channels_for(services),
        executor=executor,
        tick_seconds=float(settings.scheduler_tick_seconds),
        misfire_grace=timedelta(seconds=settings.scheduler_misfire_grace_seconds),
        # Run-file links are the portal's: none when REPORT_PORTAL_ENABLED=false (e-mails attach).
        link_for=link_builder(settings) if settings.report_portal_enabled else None,
        **kwargs,  # type: ignore[arg-type]
    )


class SchedulerHost:
    """The background scheduler of one app process: started once per process id, stopped at exit."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.scheduler: Scheduler | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        s = self.services.settings
        return s.enable_scheduled_reports and s.scheduler_enabled

    @property
    def running(self) -> bool:
        return self.scheduler is not None and self._pid == os.getpid()

    def ensure_started(self) -> None:
        """Start the scheduler thread in this process unless disabled, already running, or inside a
        `flask` CLI command."""
        if self.running or not self.enabled or _in_cli_command():
            return
        with self._lock:
            if self.running:
                return
            self.scheduler = build_scheduler(self.services)
            self._pid = os.getpid()
            self.scheduler.start()
            atexit.register(self.stop)
            log.info(
                "scheduler started (%s, every %ss)",
                self.scheduler.instance_id,
                self.scheduler.tick_seconds,
            )

    def stop(self) -> None:
        with self._lock:
            if self.running and self.scheduler is not None:
                self.scheduler.stop(wait=True)
            self.scheduler, self._pid = None, None

    def kick(self) -> None:
        """Look for work now (after "run now") instead of at the next tick; never blocks."""
        scheduler = self.scheduler if self.running else None
        if scheduler is None:
            return

        def tick() -> None:
            try:
                scheduler.tick()
            except Exception:  # noqa: BLE001 - the regular tick will retry
                log.exception("scheduler kick failed")

        threading.Thread(target=tick, name="nexpo-scheduler-kick", daemon=True).start()


def _in_cli_command() -> bool:
    """True inside a `flask ...` command (its click context is on this thread's stack)."""
    return click.get_current_context(silent=True) is not None


def host(server: Flask) -> SchedulerHost | None:
    return server.extensions.get(EXTENSION_KEY)


def init_app(server: Flask, services: Services) -> SchedulerHost:
    """Register the `scheduler` and `worker` commands and start the background scheduler."""
    scheduler_host = SchedulerHost(services)
    server.extensions[EXTENSION_KEY] = scheduler_host

    @server.before_request
    def _start_scheduler() -> None:
        # Covers `flask run` and forked servers (gunicorn --preload): a process that serves
        # requests gets its scheduler even if it was built elsewhere.
        scheduler_host.ensure_started()

    @server.cli.command("scheduler")
    @click.option("--once", is_flag=True, help="One tick, wait for its runs, then exit.")
    def scheduler_command(once: bool) -> None:
        """Run the scheduler loop in the foreground (beat-equivalent)."""
        off = services.settings.off_message("scheduled_reports")
        if off:
            raise click.ClickException(off)
        scheduler = build_scheduler(services)
        kind = type(scheduler.executor).__name__
        if once:
            report = scheduler.run_pending(timeout=services.settings.report_timeout_seconds * 2)
            click.echo(
                f"queued {len(report.queued)}, skipped {len(report.skipped)}, "
                f"started {len(report.started)}, expired {len(report.expired)} ({kind})"
            )
            scheduler.executor.shutdown(wait=True)
            return
        click.echo(
            f"scheduler {scheduler.instance_id}: ticking every {scheduler.tick_seconds:g}s, "
            f"runs on {kind}; Ctrl-C stops"
        )
        stop = threading.Event()
        scheduler.start()
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            scheduler.stop(wait=True)

    @server.cli.command("worker")
    @click.option("--concurrency", type=int, default=None, help="Default: REPORT_CONCURRENT_LIMIT.")
    @click.option("--loglevel", default="info")
    def worker_command(concurrency: int | None, loglevel: str) -> None:
        """Start a Celery worker executing scheduled runs (needs REDIS_URL)."""
        settings = services.settings
        if not settings.redis_url:
            raise click.ClickException("REDIS_URL is empty: the worker needs Redis as its broker")
        from workers.celery_app import configure, make_celery

        configure(services)
        make_celery(settings.redis_url).worker_main(
            [
                "worker",
                f"--loglevel={loglevel}",
                "--pool=threads",
                f"--concurrency={concurrency or settings.report_concurrent_limit}",
                "--without-gossip",
                "--without-mingle",
            ]
        )

    scheduler_host.ensure_started()
    return scheduler_host
