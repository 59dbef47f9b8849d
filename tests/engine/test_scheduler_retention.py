"""Run files are kept for the export-file retention (7 days), then deleted by the scheduler's tick;
the runs stay in the history with their files marked purged."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.scheduler import Scheduler, create_schedule, current_run, purge_run_files, run_now
from engine.schedules import Artifact
from store.models import AuditLog, Schedule, ScheduleRun
from tests.engine.scheduler_support import (  # noqa: F401
    Clock,
    Collect,
    make_settings,
    utc,
)


class RunFolderReport:
    """Writes each run's CSV where the real runner does: `<instance>/schedules/<run id>/`."""

    def __init__(self, instance: Path) -> None:
        self.root = instance / "schedules"

    def __call__(self, schedule: Schedule, due_at: datetime) -> list[Artifact]:
        folder = self.root / str(current_run().run_id)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "revenue.csv"
        path.write_text("month,mrr\n2026-01,1200.00\n")
        return [Artifact.from_file(path, "text/csv")]


def _age(path: Path, moment: datetime) -> None:
    os.utime(path, (moment.timestamp(), moment.timestamp()))


@pytest.fixture
def clock():
    return Clock(utc(2026, 3, 27, 12))


@pytest.fixture
def setup(store, tmp_path, clock):
    instance = tmp_path / "instance"
    scheduler = Scheduler(
        store,
        make_settings(instance),
        RunFolderReport(instance),
        {"collect": Collect()},
        clock=clock,
    )
    with store.session() as s:
        sid = create_schedule(
            s,
            name="Daily revenue",
            report_ref="revenue_analytics",
            cron="0 9 * * *",
            timezone="Europe/Berlin",
            recipients={"collect": ["ops"]},
            paused=True,  # only the manual runs of the tests happen
            now=clock(),
        ).id
    yield scheduler, instance, sid
    scheduler.stop()


def _run_once(store, scheduler, clock, sid) -> int:
    with store.session() as s:
        run_id = run_now(s, sid, now=clock()).id
    scheduler.run_pending()
    return run_id


def test_run_files_are_deleted_after_seven_days_and_the_run_stays(store, setup, clock):
    scheduler, instance, sid = setup
    root = instance / "schedules"
    run_id = _run_once(store, scheduler, clock, sid)
    file = root / str(run_id) / "revenue.csv"
    assert file.is_file()
    # A folder no run owns (a deleted schedule's), a week and a day old, and a fresh one.
    stale, fresh = root / "s99-20260301T080000", root / "s99-20260327T080000"
    for folder in (stale, fresh):
        folder.mkdir()
        (folder / "x.csv").write_text("x\n")
    _age(stale, clock() - timedelta(days=8))
    _age(fresh, clock() + timedelta(days=6))

    clock.advance(days=6, hours=23)  # not yet 7 days old
    assert scheduler.tick().purged == []
    assert file.is_file()

    clock.advance(hours=2)  # 7 days and an hour after the run finished
    report = scheduler.tick()
    assert report.purged == [run_id]
    assert not file.exists() and not (root / str(run_id)).exists()
    assert not stale.exists() and fresh.is_dir()
    with store.session() as s:
        run = s.get(ScheduleRun, run_id)
        assert run.state == "succeeded"  # the history is kept
        [f] = run.files
        assert f["name"] == "revenue.csv" and f["sha256"]
        assert f["purged_at"].startswith("2026-04-03T")
        assert s.scalar(select(AuditLog.action).where(AuditLog.action == "schedule.purge_files"))


def test_the_tick_purges_at_most_hourly(store, setup, clock):
    scheduler, instance, sid = setup
    scheduler.tick()  # the first tick purges (nothing yet) and sets the next purge an hour later
    run_id = _run_once(store, scheduler, clock, sid)
    with store.session() as s:  # the run finished long ago, as far as retention is concerned
        s.get(ScheduleRun, run_id).finished_at = clock() - timedelta(days=10)

    clock.advance(minutes=30)
    assert scheduler.tick().purged == []
    clock.advance(minutes=31)
    assert scheduler.tick().purged == [run_id]
    # Purging again finds nothing new: files already marked are left alone.
    assert purge_run_files(store, instance, clock() + timedelta(days=1)) == []


def test_running_and_queued_runs_keep_their_files(store, setup, clock):
    scheduler, instance, sid = setup
    with store.session() as s:
        run = ScheduleRun(
            schedule_id=sid,
            due_at=clock() - timedelta(days=30),
            state="running",
            files=[{"name": "a.csv", "path": str(instance / "schedules" / "a.csv")}],
            finished_at=clock() - timedelta(days=30),
        )
        s.add(run)
    assert purge_run_files(store, instance, clock()) == []
