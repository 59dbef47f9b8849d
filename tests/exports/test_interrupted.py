"""Faults end honestly: an export whose process is killed fails (at start-up and by the heartbeat
monitor), and an export whose data source is down fails with the source's safe message, no file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

import exports.jobs as jobs
from datasources.errors import SourceUnavailableError
from datasources.registry import DataSources
from engine.services import Services
from security.users import load_principal
from settings import PROJECT_ROOT
from store.models import Export, User

REPORT = "revenue_overview"

# A web process that takes an export, reports when it runs, and is then killed: its query never
# comes back, as if the process were stuck in it when the OOM killer or a deploy ended it.
EXPORTING_PROCESS = textwrap.dedent(
    """
    import sys, threading, time
    import exports.jobs as jobs
    from datasources.registry import DataSources
    from engine.services import Services
    from security.users import load_principal
    from settings import Settings
    from store import Store

    instance, warehouse, database, user_id = sys.argv[1:5]
    settings = Settings.from_env({"INSTANCE_PATH": instance, "WAREHOUSE_URL": warehouse,
                                  "DATABASE_URL": database, "LOG_LEVEL": "warning",
                                  "SCHEDULER_ENABLED": "false"})
    store = Store(database)
    services = Services(settings, store, DataSources.from_settings(settings))
    jobs.generate = lambda *a, **k: threading.Event().wait()  # a query that never returns
    row = jobs.create_export(services, load_principal(store, user_id), "revenue_overview", "csv",
                             "7d", {})
    while jobs.get_export(services, row.id).status != "running":
        time.sleep(0.05)
    print(row.id, flush=True)
    time.sleep(600)
    """
)


@pytest.fixture
def make_services(app):
    base = app.server.extensions["nexpo"]
    made: list[Services] = []

    def build(sources: DataSources | None = None, **changes) -> Services:
        svc = Services(base.settings.replace(**changes), base.store, sources or base.sources)
        made.append(svc)
        return svc

    yield build
    for svc in made:
        jobs.shutdown_manager(svc)


@pytest.fixture
def user(app):
    store = app.server.extensions["nexpo"].store
    with store.session() as session:
        user_id = session.scalar(select(User.id).where(User.username == "manager"))
    return load_principal(store, str(user_id))


def wait_for(svc: Services, export_id: str, states: set[str], timeout: float) -> Export:
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        row = jobs.get_export(svc, export_id)
        if row is not None and row.status in states:
            return row
        time.sleep(0.05)
    raise AssertionError(
        f"export {export_id} never reached {states}: {row.status if row else None}"
    )


def test_a_killed_worker_process_s_export_is_failed_by_the_heartbeat_monitor(
    make_services, user, monkeypatch
):
    svc = make_services()
    settings = svc.settings
    process = subprocess.Popen(
        [sys.executable, "-c", EXPORTING_PROCESS, settings.instance_path, settings.warehouse_url,
         settings.database_url, str(user.id)],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        export_id = process.stdout.readline().strip()
        assert export_id, "the exporting process never started its export"
        os.kill(process.pid, signal.SIGKILL)  # mid-export
    finally:
        process.kill()
        process.wait(10)
    row = jobs.get_export(svc, export_id)
    assert row.status == "running" and row.worker_id.split(":")[1] == str(process.pid)
    # Nobody else needs to export anything: this process's monitor (started by its first request
    # in the app) sees the heartbeat stop and fails the row. A short staleness keeps the test quick.
    monkeypatch.setattr(jobs.worker, "HEARTBEAT_SECONDS", 0.2)
    monkeypatch.setattr(jobs.worker, "STALE_AFTER_SECONDS", 1.0)
    jobs.manager(svc)
    row = wait_for(svc, export_id, {"failed"}, timeout=15)
    assert row.error == jobs.INTERRUPTED and row.error.startswith("Interrupted: the worker")
    assert row.path is None and not (jobs.export_root(settings) / export_id).exists()


def test_at_start_up_exports_whose_process_stopped_beating_are_failed(make_services, user):
    svc = make_services()
    long_ago = datetime.now(UTC) - timedelta(minutes=10)
    with svc.store.session() as session:
        session.add(Export(id="killed-at-deploy", report_ref=REPORT, format="csv",
                           status="running", params={"timeout_seconds": 300}, owner_id=user.id,
                           created_at=long_ago, started_at=long_ago, progress=40,
                           worker_id="web-1:4242:abcdef", heartbeat_at=long_ago))  # fmt: skip
    jobs.init_app(Flask(__name__), svc)  # what create_app does when a process starts
    row = jobs.get_export(svc, "killed-at-deploy")
    assert row.status == "failed" and row.error == jobs.INTERRUPTED


def test_a_live_process_s_long_export_is_not_failed_by_another_s_monitor(
    make_services, user, monkeypatch
):
    runner, watcher = make_services(), make_services()
    release = threading.Event()
    real = jobs.generate

    def slow(*args, **kwargs):
        release.wait(20)  # a long query, far past the other monitor's staleness
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs.worker, "HEARTBEAT_SECONDS", 0.2)
    monkeypatch.setattr(jobs, "generate", slow)
    row = jobs.create_export(runner, user, REPORT, "csv", "7d", {}, widget_id="mrr")
    monkeypatch.setattr(jobs.worker, "STALE_AFTER_SECONDS", 1.0)
    jobs.manager(watcher)  # another process's monitor, quick to call a row stale
    wait_for(runner, row.id, {"running"}, timeout=10)
    time.sleep(2.5)  # the other monitor swept several times meanwhile
    assert jobs.get_export(runner, row.id).status == "running"
    release.set()
    assert wait_for(runner, row.id, {"succeeded", "failed"}, timeout=30).status == "succeeded"


def _down_services(make_services, tmp_path) -> Services:
    """Services whose warehouse refuses connections (nothing listens on port 1)."""
    base = make_services()
    broken = base.settings.replace(
        warehouse_url="postgresql+psycopg2://nexpo@127.0.0.1:1/warehouse",
        instance_path=str(tmp_path),  # an empty query cache: nothing can come from it
    )
    return make_services(DataSources.from_settings(broken), instance_path=str(tmp_path))


@pytest.mark.parametrize("fmt, widget_id", [("csv", None), ("excel", None), ("csv", "mrr")])
def test_an_export_whose_warehouse_is_down_fails_with_its_safe_message_and_no_file(
    make_services, user, tmp_path, fmt, widget_id
):
    svc = _down_services(make_services, tmp_path)
    row = jobs.create_export(svc, user, REPORT, fmt, "7d", {}, widget_id=widget_id)
    row = wait_for(svc, row.id, {"succeeded", "failed"}, timeout=60)
    assert row.status == "failed"
    assert row.error == SourceUnavailableError.user_message
    assert "127.0.0.1" not in row.error and "psycopg2" not in row.error
    assert row.path is None and not (jobs.export_root(svc.settings) / row.id).exists()
    with pytest.raises(jobs.ExportRequestError) as refused:
        jobs.open_download(svc, user, row.id)
    assert refused.value.status == 409


def test_an_export_with_some_widgets_failing_succeeds_and_names_them(
    make_services, user, monkeypatch
):
    svc = make_services()
    real = jobs.generate
    message = "The data source is unreachable right now. Try again in a minute."

    def one_fails(spec, *args, **kwargs):
        results = real(spec, *args, **kwargs)
        for result in results:
            if result.widget.id == "daily-revenue":
                result.frame, result.error = None, message
        return results

    monkeypatch.setattr(jobs, "generate", one_fails)
    row = jobs.create_export(svc, user, REPORT, "csv", "7d", {})
    row = wait_for(svc, row.id, {"succeeded", "failed"}, timeout=60)
    assert row.status == "succeeded"
    assert row.detail["widget_errors"] == {"daily-revenue": message}
    assert row.detail["message"].startswith("1 of ") and message in row.detail["message"]
    assert jobs.as_dict(row)["message"] == row.detail["message"]  # what the API and UI show
    with open(row.path, encoding="utf-8") as file:
        lines = file.read().splitlines()
    section = next(i for i, line in enumerate(lines) if line.endswith("(daily-revenue)"))
    assert lines[section + 1] == f"# Error: {message}"  # in place of its table
