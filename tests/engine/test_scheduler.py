"""The scheduler on a real metadata store (SQLite and PostgreSQL): runs recorded, DST, misfires,
timeouts, only-if-changed, pause/resume, run now, lost workers."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from engine.scheduler import (
    Scheduler,
    create_schedule,
    current_run,
    history,
    next_runs,
    pause,
    preview,
    resume,
    run_now,
    utcnow,
)
from store.models import DeliveryAttempt, Schedule, ScheduleRun
from tests.engine.scheduler_support import (  # noqa: F401
    Clock,
    Collect,
    CsvReport,
    make_settings,
    utc,
)

BERLIN = "Europe/Berlin"


@pytest.fixture
def clock():
    return Clock(utc(2026, 3, 27, 12))


@pytest.fixture
def collect():
    return Collect()


@pytest.fixture
def report(tmp_path):
    return CsvReport(tmp_path / "out")


@pytest.fixture
def scheduler(store, tmp_path, clock, collect, report):
    s = Scheduler(
        store, make_settings(tmp_path / "instance"), report, {"collect": collect}, clock=clock
    )
    yield s
    s.stop()


def add(store, clock, **fields):
    fields = {
        "name": "Weekly revenue",
        "report_ref": "revenue_analytics",
        "cron": "0 9 * * *",
        "timezone": BERLIN,
        "recipients": {"collect": ["ops"]},
        **fields,
    }
    with store.session() as s:
        return create_schedule(s, now=clock(), **fields).id


def runs(store, schedule_id):
    with store.session() as s:
        return list(
            s.scalars(
                select(ScheduleRun)
                .where(ScheduleRun.schedule_id == schedule_id)
                .order_by(ScheduleRun.due_at)
            )
        )


def test_a_due_run_is_recorded_delivered_and_the_schedule_advanced(
    store, scheduler, clock, collect, report
):
    sid = add(store, clock)
    clock.set(utc(2026, 3, 28, 8, 0, 5))

    scheduler.run_pending()
    scheduler.run_pending()  # a second tick at the same time finds nothing new

    [run] = runs(store, sid)
    assert (run.state, run.trigger, run.attempts, run.error) == ("succeeded", "schedule", 1, None)
    assert run.due_at.replace(tzinfo=None) == utc(2026, 3, 28, 8).replace(tzinfo=None)
    assert run.files[0]["name"] == "revenue_analytics.csv" and len(run.data_hash) == 64
    assert run.duration_ms is not None and run.render_ms is not None
    assert collect.sent == [(sid, utc(2026, 3, 28, 8), "ops")]
    with store.session() as s:
        [delivery] = s.scalars(select(DeliveryAttempt)).all()
        assert (delivery.channel, delivery.recipient, delivery.state, delivery.attempts) == (
            "collect",
            "ops",
            "sent",
            1,
        )
        assert s.get(Schedule, sid).next_run_at.replace(tzinfo=None) == utc(2026, 3, 29, 7).replace(
            tzinfo=None
        )


def test_0900_berlin_fires_at_the_right_utc_instant_on_both_sides_of_each_2026_change(
    store, scheduler, clock, report
):
    sid = add(store, clock, cron="0 9 * * *")
    fired = []
    for day, hour in [
        ((2026, 3, 28), 8),
        ((2026, 3, 29), 7),
        ((2026, 10, 24), 7),
        ((2026, 10, 25), 8),
    ]:
        clock.set(utc(*day, hour) - timedelta(minutes=1))
        if day == (2026, 10, 24):  # jump the summer: resume from just before
            with store.session() as s:
                resume(s, sid, now=clock())
        assert scheduler.run_pending().queued == []  # a minute early: nothing
        clock.set(utc(*day, hour, 0, 10))
        assert len(scheduler.run_pending().queued) == 1
        fired.append(report.calls[-1][1])
    assert fired == [
        utc(2026, 3, 28, 8),
        utc(2026, 3, 29, 7),
        utc(2026, 10, 24, 7),
        utc(2026, 10, 25, 8),
    ]


def test_misfire_after_downtime_runs_the_latest_once_and_records_older_as_skipped(
    store, scheduler, clock, collect
):
    sid = add(store, clock)  # next run: 2026-03-28 08:00 UTC
    clock.set(utc(2026, 3, 30, 9))  # down for three occurrences; the latest (07:00 UTC) is 2 h late

    report = scheduler.run_pending()

    assert len(report.queued) == 1 and len(report.skipped) == 2
    states = [(r.due_at.replace(tzinfo=None), r.state) for r in runs(store, sid)]
    assert states == [
        (utc(2026, 3, 28, 8).replace(tzinfo=None), "skipped"),
        (utc(2026, 3, 29, 7).replace(tzinfo=None), "skipped"),
        (utc(2026, 3, 30, 7).replace(tzinfo=None), "succeeded"),
    ]
    assert "misfire policy" in runs(store, sid)[0].error
    assert [due for _, due, _ in collect.sent] == [utc(2026, 3, 30, 7)]


def test_misfire_older_than_the_grace_window_is_skipped_not_sent(store, scheduler, clock, collect):
    sid = add(store, clock)
    clock.set(utc(2026, 3, 28, 23))  # 15 h after the 08:00 UTC run; grace is 6 h

    scheduler.run_pending()

    assert [r.state for r in runs(store, sid)] == ["skipped"]
    assert collect.sent == []
    with store.session() as s:
        assert s.get(Schedule, sid).next_run_at.replace(tzinfo=None) == utc(2026, 3, 29, 7).replace(
            tzinfo=None
        )


def test_a_run_over_the_timeout_is_stopped_and_failed_without_delaying_another(
    store, tmp_path, clock, collect, report
):
    slow_started, slow_stopped = threading.Event(), threading.Event()
    seen_while_slow_running = []

    def render(schedule, due_at):
        if schedule.name == "slow":
            slow_started.set()
            # A cooperative long render: it polls for cancellation as a real report would.
            while not current_run().cancelled.wait(0.05):
                pass
            slow_stopped.set()
            return report(schedule, due_at)
        slow_started.wait(5)
        seen_while_slow_running.append(not slow_stopped.is_set())
        return report(schedule, due_at)

    settings = make_settings(
        tmp_path / "instance", report_timeout_seconds="1", report_concurrent_limit="2"
    )
    scheduler = Scheduler(store, settings, render, {"collect": collect}, clock=clock)
    slow = add(store, clock, name="slow")
    fast = add(store, clock, name="fast")
    clock.set(utc(2026, 3, 28, 8, 0, 1))
    try:
        scheduler.run_pending(timeout=30)
    finally:
        scheduler.stop()

    [slow_run], [fast_run] = runs(store, slow), runs(store, fast)
    assert (
        slow_run.state == "failed"
        and "stopped after 1 s (REPORT_TIMEOUT_SECONDS)" in slow_run.error
    )
    assert fast_run.state == "succeeded"
    assert seen_while_slow_running == [True]  # the fast one went through while the slow one ran
    assert slow_stopped.wait(5)  # the render was told to stop
    assert [sid for sid, _, _ in collect.sent] == [fast]  # the timed-out run delivered nothing


def test_only_if_changed_sends_only_when_the_data_hash_changes(
    store, scheduler, clock, collect, report
):
    sid = add(store, clock, only_if_changed=True)
    for day in (28, 29, 30):
        if day == 30:
            report.rows.append(("2026-03", "1401.00"))
        clock.set(utc(2026, 3, day, 7, 0, 30) + (timedelta(hours=1) if day == 28 else timedelta()))
        scheduler.run_pending()

    states = [(r.state, r.error) for r in runs(store, sid)]
    assert [s for s, _ in states] == ["succeeded", "skipped", "succeeded"]
    assert "has not changed since run #" in states[1][1]
    assert [due.day for _, due, _ in collect.sent] == [28, 30]


def test_pause_stops_runs_and_resume_restarts_from_now_without_backfill(
    store, scheduler, clock, collect
):
    sid = add(store, clock)
    with store.session() as s:
        pause(s, sid)
    clock.set(utc(2026, 3, 30, 7, 0, 5))
    scheduler.run_pending()
    assert runs(store, sid) == []

    with store.session() as s:
        schedule = resume(s, sid, now=clock())
        assert schedule.next_run_at == utc(2026, 3, 31, 7)
    clock.set(utc(2026, 3, 31, 7, 0, 5))
    scheduler.run_pending()
    assert [r.state for r in runs(store, sid)] == ["succeeded"]


def test_run_now_runs_at_once_and_a_double_click_queues_one_run(store, scheduler, clock, collect):
    sid = add(store, clock)
    with store.session() as s:
        first = run_now(s, sid, now=clock()).id
    with store.session() as s:
        assert run_now(s, sid, now=clock()).id == first

    scheduler.run_pending()

    [run] = runs(store, sid)
    assert (run.id, run.trigger, run.state) == (first, "manual", "succeeded")
    assert len(collect.sent) == 1


def test_a_failing_render_is_recorded_with_a_safe_message(store, tmp_path, clock, collect):
    class WarehouseDown(Exception):
        user_message = "the warehouse did not answer"

    def render(schedule, due_at):
        if schedule.name == "broken":
            raise WarehouseDown("postgresql://admin:hunter2@db/warehouse refused")
        raise RuntimeError("SELECT secret FROM table")

    scheduler = Scheduler(
        store, make_settings(tmp_path / "instance"), render, {"collect": collect}, clock=clock
    )
    broken, other = add(store, clock, name="broken"), add(store, clock, name="other")
    clock.set(utc(2026, 3, 28, 8, 0, 1))
    scheduler.run_pending()
    scheduler.stop()

    assert runs(store, broken)[0].error == "the warehouse did not answer"
    assert runs(store, other)[0].error == "the report could not be generated (RuntimeError)"


def test_a_run_whose_worker_died_is_marked_failed_not_resent(store, scheduler, clock, collect):
    sid = add(store, clock)
    with store.session() as s:
        s.add(
            ScheduleRun(
                schedule_id=sid,
                due_at=utc(2026, 3, 27, 8),
                state="running",
                claimed_by="gone",
                lease_until=utc(2026, 3, 27, 9),
            )
        )
    report = scheduler.run_pending()

    [run] = runs(store, sid)
    assert report.expired == [run.id]
    assert run.state == "failed" and "worker running this report stopped" in run.error
    assert collect.sent == []


@pytest.mark.parametrize(
    ("channel", "entry", "variable"),
    [
        ("email", "ana@example.com", "EMAIL_DELIVERY_ENABLED"),
        ("webhook", "https://h.example.com/x", "WEBHOOK_DELIVERY_ENABLED"),
        ("storage", "finance/daily", "FILE_STORAGE_ENABLED"),
        ("portal", "7", "REPORT_PORTAL_ENABLED"),
    ],
)
def test_disabled_channel_is_recorded_as_skipped_with_its_variable(
    store, tmp_path, clock, report, channel, entry, variable
):
    from delivery import default_channels

    settings = make_settings(tmp_path / "instance", **{variable.lower(): "false"})
    channels = default_channels(settings, store)
    assert channel not in channels
    scheduler = Scheduler(store, settings, report, channels, clock=clock)
    sid = add(store, clock, recipients={channel: [entry]})
    clock.set(utc(2026, 3, 28, 8, 0, 1))
    scheduler.run_pending()
    scheduler.stop()

    with store.session() as s:
        [run] = history(s, sid)
        assert run.state == "succeeded"
        skipped = [(d.channel, d.state, d.error) for d in run.deliveries if d.channel == channel]
        assert skipped == [
            (channel, "skipped", f"{channel} delivery is disabled ({variable}=false)")
        ]


def test_schedule_ends_after_its_end_date(store, scheduler, clock):
    sid = add(store, clock, ends_at=utc(2026, 3, 28, 12))
    clock.set(utc(2026, 3, 28, 8, 0, 1))
    scheduler.run_pending()
    with store.session() as s:
        schedule = s.get(Schedule, sid)
        assert schedule.next_run_at is None
        assert next_runs(schedule, 3, now=utc(2026, 3, 27, 12)) == [utc(2026, 3, 28, 8)]


def test_preview_lists_the_next_runs_in_the_schedules_zone(store, clock):
    sid = add(store, clock, cron="0 9 * * 1")
    with store.session() as s:
        schedule = s.get(Schedule, sid)
    assert preview(schedule, 2, now=utc(2026, 3, 20)) == [
        "Mon 23 Mar 2026 09:00 CET (08:00 UTC)",
        "Mon 30 Mar 2026 09:00 CEST (07:00 UTC)",
    ]


def test_background_thread_picks_up_a_run_now_request(store, tmp_path, collect, report):
    scheduler = Scheduler(
        store, make_settings(tmp_path / "instance"), report, {"collect": collect}, tick_seconds=0.05
    )
    sid = add(store, Clock(utcnow()))  # real time: the only run is the manual one
    with store.session() as s:
        run_now(s, sid)
    scheduler.start()
    try:
        for _ in range(200):
            if runs(store, sid)[0].state == "succeeded":
                break
            threading.Event().wait(0.05)
    finally:
        scheduler.stop()
    assert runs(store, sid)[0].state == "succeeded" and len(collect.sent) == 1


def test_schedule_row_updates_elsewhere_do_not_double_claim(store, scheduler, clock, collect):
    """The compare-and-swap on next_run_at: a claim computed from a stale value changes nothing."""
    sid = add(store, clock)
    clock.set(utc(2026, 3, 28, 8, 0, 1))
    with store.session() as s:
        s.execute(
            update(Schedule).where(Schedule.id == sid).values(next_run_at=utc(2026, 3, 29, 7))
        )
    queued, skipped = scheduler._claim(sid, clock())
    assert (queued, skipped) == ([], [])
    assert runs(store, sid) == []


def test_migration_0002_adds_run_tables_and_round_trips(store):
    from alembic import command
    from sqlalchemy import inspect

    from store.db import alembic_config

    tables = set(inspect(store.engine).get_table_names())
    assert {"schedule_runs", "delivery_attempts", "portal_items"} <= tables
    uniques = {
        tuple(u["column_names"])
        for u in inspect(store.engine).get_unique_constraints("schedule_runs")
    }
    assert ("schedule_id", "due_at") in uniques
    command.downgrade(alembic_config(store.url), "0001")
    assert "schedule_runs" not in set(inspect(store.engine).get_table_names())
    command.upgrade(alembic_config(store.url), "head")
    assert "only_if_changed" in {c["name"] for c in inspect(store.engine).get_columns("schedules")}
