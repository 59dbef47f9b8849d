"""The real render of scheduled runs: periods, files, fingerprints, and the owner's access at run time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from engine.periods import Window
from engine.report_runner import ReportRunError, ReportRunner, auto_period, schedule_window
from engine.scheduler import Scheduler, create_schedule, run_now
from engine.schedules import ScheduleError
from security.users import create_user
from store.models import ScheduleRun, User
from tests.engine.scheduler_support import Collect


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cron", "period"),
    [
        ("0 9 * * *", "previous_day"),
        ("30 7 * * 1", "7d"),
        ("0 6 1 * *", "previous_month"),
        ("0 18 L * *", "previous_month"),
        ("*/15 9-17 * * 1-5", "30d"),
        ("@weekly", "7d"),
    ],
)
def test_auto_period_follows_the_frequency(cron, period):
    assert auto_period(cron) == period


def test_windows_are_complete_days_before_the_due_day_in_the_schedules_zone():
    monday_berlin = utc(2026, 11, 30, 8)  # Mon 30 Nov 09:00 CET
    assert schedule_window("7d", monday_berlin, "Europe/Berlin") == Window(
        date(2026, 11, 23), date(2026, 11, 29)
    )
    assert schedule_window("previous_day", monday_berlin, "Europe/Berlin") == Window(
        date(2026, 11, 29), date(2026, 11, 29)
    )
    # 00:30 on Monday in Berlin is still Sunday in UTC: the day is read on the schedule's clock.
    just_after_midnight = utc(2026, 11, 29, 23, 30)
    assert schedule_window("previous_day", just_after_midnight, "Europe/Berlin").end == date(
        2026, 11, 29
    )
    assert schedule_window("previous_day", just_after_midnight, "UTC").end == date(2026, 11, 28)
    # Monthly: the calendar month before the due day's month, whatever day it is due.
    assert schedule_window("previous_month", utc(2026, 3, 1, 5), "UTC") == Window(
        date(2026, 2, 1), date(2026, 2, 28)
    )
    assert schedule_window("previous_month", utc(2026, 1, 31, 5), "UTC") == Window(
        date(2025, 12, 1), date(2025, 12, 31)
    )
    assert schedule_window("auto", monday_berlin, "Europe/Berlin", cron="0 9 * * 1").days == 7
    with pytest.raises(ScheduleError, match="period 'fortnight'"):
        schedule_window("fortnight", monday_berlin, "UTC")


@pytest.fixture
def services(app):
    return app.server.extensions["nexpo"]


@pytest.fixture
def own_services(app, tmp_path):
    """The app's settings and warehouse over a metadata store of this test's own: a scheduler's
    `run_pending` runs every due schedule, and the shared store holds other tests' schedules."""
    from engine.services import Services
    from security.users import ensure_demo_users
    from store import init_store

    shared = app.server.extensions["nexpo"]
    store = init_store(f"sqlite:///{tmp_path / 'meta.db'}", ensure_demo_users)
    yield Services(shared.settings, store, shared.sources)
    store.dispose()


def _schedule(services, owner_id: int, **fields):
    with services.store.session() as session:
        schedule = create_schedule(
            session,
            name="Runner test",
            report_ref="revenue_overview",
            cron="0 9 * * 1",
            timezone="Europe/Berlin",
            params={"period": "7d"},
            formats={"csv": True, "json": True},
            owner_id=owner_id,
            **fields,
        )
        session.expunge(schedule)
        return schedule


def test_files_land_in_the_run_folder_with_a_fingerprint_that_ignores_the_generated_time(services):
    admin_id = 1
    schedule = _schedule(services, admin_id)
    due = utc(2026, 11, 30, 8)
    first = ReportRunner(services, clock=lambda: utc(2026, 11, 30, 8, 0, 5))(schedule, due)
    second = ReportRunner(services, clock=lambda: utc(2026, 11, 30, 9, 45, 0))(schedule, due)
    assert [a.name for a in first] == [
        "revenue-overview_2026-11-23_2026-11-29.csv",
        "revenue-overview_2026-11-23_2026-11-29.json",
    ]
    assert first[0].path.parent == services.settings.instance / "schedules" / (
        f"s{schedule.id}-20261130T080000"
    )
    assert "Period: Nov 23, 2026 – Nov 29, 2026" in first[0].path.read_text()
    # Same data, different generation time: different bytes, same fingerprints.
    a, b = first[0], second[0]
    assert a.content_type.startswith("text/csv")
    assert a.fingerprint == b.fingerprint and a.fingerprint != first[1].fingerprint
    # Different data (another period): a different fingerprint.
    other = ReportRunner(services)(schedule, due + timedelta(days=7))
    assert other[0].fingerprint != a.fingerprint


def test_inside_a_scheduler_run_files_go_to_instance_schedules_run_id(own_services):
    services = own_services
    schedule = _schedule(services, 1, only_if_changed=True)
    collect = Collect()
    scheduler = Scheduler(
        services.store, services.settings, ReportRunner(services), {"portal": collect}
    )
    try:
        with services.store.session() as session:
            run_id = run_now(session, schedule.id).id
        scheduler.run_pending(timeout=120)
    finally:
        scheduler.executor.shutdown()
    with services.store.session() as session:
        run = session.get(ScheduleRun, run_id)
        assert run.state == "succeeded", run.error
        assert {f["path"] for f in run.files} == {
            str(services.settings.instance / "schedules" / str(run_id) / f["name"])
            for f in run.files
        }
        assert run.data_hash


def test_only_if_changed_skips_a_scheduled_run_over_unchanged_data(own_services):
    services = own_services
    schedule = _schedule(services, 1, only_if_changed=True)
    scheduler = Scheduler(
        services.store,
        services.settings,
        ReportRunner(services),
        {"portal": Collect()},
    )
    due = schedule.next_run_at
    try:
        scheduler.run_pending(now=due + timedelta(seconds=1), timeout=120)
        # The next occurrence, rendered over the same window (pinned to the first due time): same
        # data, fresh files with new generated-at stamps -> skipped, nothing sent.
        scheduler.render = lambda s, d: ReportRunner(services)(s, due)
        scheduler.run_pending(now=due + timedelta(days=7, seconds=1), timeout=120)
    finally:
        scheduler.executor.shutdown()
    with services.store.session() as session:
        runs = (
            session.query(ScheduleRun)
            .filter(ScheduleRun.schedule_id == schedule.id)
            .order_by(ScheduleRun.due_at)
            .all()
        )
        assert [r.state for r in runs] == ["succeeded", "skipped"], [r.error for r in runs]
        assert runs[1].error.startswith("the data has not changed since run #")


def test_an_owner_who_was_deactivated_or_lost_the_right_fails_clearly(services):
    owner = create_user(
        services.store, "runner-owner", "pw-runner-1", "manager", department="Sales"
    )
    schedule = _schedule(services, owner.id)
    due = utc(2026, 11, 30, 8)
    assert ReportRunner(services)(schedule, due)  # allowed today
    with services.store.session() as session:
        session.get(User, owner.id).role = "analyst"
    with pytest.raises(ReportRunError, match="owner 'runner-owner' may no longer schedule"):
        ReportRunner(services)(schedule, due)
    with services.store.session() as session:
        session.get(User, owner.id).is_active = False
    with pytest.raises(ReportRunError, match="no longer exists or is deactivated"):
        ReportRunner(services)(schedule, due)


def test_a_report_that_disappeared_fails_clearly(services):
    schedule = _schedule(services, 1)
    schedule.report_ref = "deleted_dashboard"
    with pytest.raises(ReportRunError, match="No report, dashboard or template named"):
        ReportRunner(services)(schedule, utc(2026, 11, 30, 8))
