"""Export jobs (exports/jobs/): timeout, cancel, atomicity, purge, stale rows, filters, the schema.

Each test runs its own `Services` (the session app's store and warehouse, its own settings), so it
gets its own worker pool with the limits it needs.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

import exports.jobs as jobs
from engine.periods import resolve
from engine.services import Services
from engine.templates import builtin_dashboards
from exports import ExportError
from exports.output import atomic_output
from security.users import load_principal
from store.models import Export, User
from tests.loaded_days import loaded_days

REPORT = "revenue_overview"


@pytest.fixture
def make_services(app):
    base = app.server.extensions["nexpo"]
    made: list[Services] = []

    def build(**changes) -> Services:
        svc = Services(base.settings.replace(**changes), base.store, base.sources)
        made.append(svc)
        return svc

    yield build
    for svc in made:
        jobs.shutdown_manager(svc)


@pytest.fixture
def analyst(app):
    store = app.server.extensions["nexpo"].store
    with store.session() as session:
        user_id = session.scalar(select(User.id).where(User.username == "manager"))
    return load_principal(store, str(user_id))


def folder(svc: Services, export_id: str) -> Path:
    return jobs.export_root(svc.settings) / export_id


def wait_for(svc: Services, export_id: str, states: set[str], timeout: float = 30) -> Export:
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        row = jobs.get_export(svc, export_id)
        if row is not None and row.status in states:
            return row
        time.sleep(0.05)
    raise AssertionError(
        f"export {export_id} never reached {states}: {row.status if row else None}"
    )


def test_a_job_succeeds_with_progress_row_count_and_its_file(make_services, analyst):
    svc = make_services()
    row = jobs.create_export(svc, analyst, REPORT, "csv", "7d", {})
    assert row.status == "pending" and row.progress == 0
    row = jobs.wait(svc, row.id, 30)
    assert row.status == "succeeded" and row.progress == 100 and row.error is None
    assert row.row_count > 0 and row.truncated is False
    assert row.started_at is not None and row.finished_at is not None
    assert [p.name for p in folder(svc, row.id).iterdir()] == [row.filename]


def test_max_rows_cuts_and_the_row_says_so(make_services, analyst):
    svc = make_services(report_max_rows=3)
    row = jobs.wait(svc, jobs.create_export(svc, analyst, REPORT, "excel", "30d", {}).id, 30)
    assert row.status == "succeeded" and row.truncated is True
    cut = {t["widget_id"]: t for t in row.detail["truncations"]}
    days = loaded_days(svc, resolve("30d", svc.settings.report_timezone))  # series end with data
    assert cut["daily-revenue"]["kept"] == 3 and cut["daily-revenue"]["total"] == days
    assert f"Truncated at 3 of {days} rows" in row.detail["message"]
    view = jobs.as_dict(row, "/x")
    assert view["truncated"] and view["truncations"][0]["note"].endswith("(REPORT_MAX_ROWS).")


def test_a_runaway_export_is_stopped_at_the_timeout_with_a_clear_error(
    make_services, analyst, monkeypatch
):
    svc = make_services(report_timeout_seconds=1)
    release = threading.Event()
    real = jobs.generate

    def slow(*args, **kwargs):
        release.wait(10)  # a query that does not come back
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs, "generate", slow)
    started = time.monotonic()
    row = jobs.create_export(svc, analyst, REPORT, "csv", "7d", {})
    row = wait_for(svc, row.id, {"failed"}, timeout=8)
    assert time.monotonic() - started < 5  # the monitor, not the stuck query, ends it
    assert "1 s limit (REPORT_TIMEOUT_SECONDS)" in row.error
    release.set()
    time.sleep(0.5)
    row = jobs.get_export(svc, row.id)
    assert row.status == "failed" and row.path is None and not folder(svc, row.id).exists()


def test_a_render_past_the_deadline_fails_with_the_renderers_message(
    make_services, analyst, monkeypatch
):
    svc = make_services(report_timeout_seconds=2)
    real = jobs.generate

    def late(*args, **kwargs):
        results = real(*args, **kwargs)
        # Past the 2 s deadline: the renderer's first deadline check (or the monitor, whichever
        # comes first) stops it. 1.95 s left a fast machine time to finish the render.
        time.sleep(2.3)
        return results

    monkeypatch.setattr(jobs, "generate", late)
    row = jobs.create_export(svc, analyst, REPORT, "excel", "7d", {})
    row = wait_for(svc, row.id, {"failed", "succeeded"}, timeout=10)
    assert row.status == "failed" and "REPORT_TIMEOUT_SECONDS" in row.error and jobs.timed_out(row)
    assert not folder(svc, row.id).exists()


def test_a_download_before_the_file_is_ready_is_not_ready_then_the_file(
    make_services, analyst, monkeypatch
):
    svc = make_services()
    entered, release = threading.Event(), threading.Event()
    real = jobs.generate

    def blocked(*args, **kwargs):
        entered.set()
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs, "generate", blocked)
    row = jobs.create_export(svc, analyst, REPORT, "csv", "7d", {})
    assert entered.wait(10)
    with pytest.raises(jobs.ExportNotReady) as early:
        jobs.open_download(svc, analyst, row.id)
    assert (early.value.status, early.value.export_id) == (202, row.id)
    assert "running" in early.value.user_message
    release.set()
    assert jobs.wait(svc, row.id, 30).status == "succeeded"
    path, name, _ = jobs.open_download(svc, analyst, row.id)
    assert path.is_file() and name.endswith(".csv")


def test_cancel_stops_a_running_export_and_keeps_nothing(make_services, analyst, monkeypatch):
    svc = make_services()
    entered, release = threading.Event(), threading.Event()
    real = jobs.generate

    def blocked(*args, **kwargs):
        entered.set()
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs, "generate", blocked)
    row = jobs.create_export(svc, analyst, REPORT, "csv", "7d", {})
    assert entered.wait(10)
    assert jobs.get_export(svc, row.id).status == "running"
    cancelled = jobs.cancel_export(svc, analyst, row.id)
    assert cancelled.status == "cancelled" and cancelled.finished_at is not None
    release.set()
    jobs.manager(svc).wait(row.id, 10)
    time.sleep(0.3)
    row = jobs.get_export(svc, row.id)
    assert row.status == "cancelled" and row.path is None and not folder(svc, row.id).exists()
    with pytest.raises(jobs.ExportRequestError) as gone:
        jobs.open_download(svc, analyst, row.id)
    assert (gone.value.status, gone.value.code) == (409, "cancelled")


def test_cancel_of_a_queued_export_means_it_never_runs(make_services, analyst, monkeypatch):
    svc = make_services(report_concurrent_limit=1)
    entered, release = threading.Event(), threading.Event()
    real = jobs.generate
    calls = []

    def blocked(*args, **kwargs):
        calls.append(args[0].key)
        entered.set()
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs, "generate", blocked)
    first = jobs.create_export(svc, analyst, REPORT, "csv", "7d", {})
    assert entered.wait(10)
    second = jobs.create_export(svc, analyst, REPORT, "json", "7d", {})
    assert jobs.get_export(svc, second.id).status == "pending"
    assert jobs.cancel_export(svc, analyst, second.id).status == "cancelled"
    release.set()
    assert jobs.wait(svc, first.id, 20).status == "succeeded"
    time.sleep(0.3)
    second = jobs.get_export(svc, second.id)
    assert second.status == "cancelled" and second.started_at is None  # never claimed
    assert len(calls) == 6  # the first job's six widgets, one chunk each (limit 1)


def test_a_failed_render_leaves_no_downloadable_file(make_services, analyst, monkeypatch):
    """A renderer that dies half way (after writing part of the file) leaves neither the file nor
    its temporary part, the row failed with a safe message, and the download refused."""

    def crash(result, fmt, out, **kwargs):
        with atomic_output(out) as fh:
            fh.write(b"half a file")
            raise RuntimeError("disk on fire at /secret/path")

    monkeypatch.setattr(jobs, "render", crash)
    svc = make_services()
    row = jobs.wait(svc, jobs.create_export(svc, analyst, REPORT, "csv", "7d", {}).id, 30)
    assert row.status == "failed" and row.error == jobs.GENERIC_ERROR
    assert "/secret" not in row.error and row.path is None
    assert not folder(svc, row.id).exists() or not list(folder(svc, row.id).iterdir())
    with pytest.raises(jobs.ExportRequestError) as gone:
        jobs.open_download(svc, analyst, row.id)
    assert (gone.value.status, gone.value.code) == (409, "failed")


def test_an_export_error_keeps_its_user_message(make_services, analyst, monkeypatch):
    def refuse(*args, **kwargs):
        raise ExportError("internal detail", "This report has no chart to export as an image.")

    monkeypatch.setattr(jobs, "render", refuse)
    svc = make_services()
    row = jobs.wait(svc, jobs.create_export(svc, analyst, REPORT, "png", "7d", {}).id, 30)
    assert row.status == "failed" and row.error == "This report has no chart to export as an image."


def test_purge_deletes_rows_and_files_older_than_seven_days(make_services, analyst):
    svc = make_services()
    now = datetime.now(UTC)
    root = jobs.export_root(svc.settings)
    with svc.store.session() as session:
        for export_id, age in (("old-export", 8), ("recent-export", 6)):
            path = root / export_id / "r.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("a,b\n")
            session.add(Export(id=export_id, report_ref=REPORT, format="csv", status="succeeded",
                               path=str(path), filename="r.csv", owner_id=analyst.id,
                               created_at=now - timedelta(days=age)))  # fmt: skip
    orphan = root / "orphan-folder"
    orphan.mkdir(parents=True, exist_ok=True)
    old = (now - timedelta(days=9)).timestamp()
    import os

    os.utime(orphan, (old, old))
    assert jobs.purge_exports(svc, now) == 1
    assert jobs.get_export(svc, "old-export") is None and not (root / "old-export").exists()
    assert jobs.get_export(svc, "recent-export") is not None and (root / "recent-export").exists()
    assert not orphan.exists()
    # eight days on, the recent one goes too
    assert jobs.purge_exports(svc, now + timedelta(days=2)) >= 1
    assert jobs.get_export(svc, "recent-export") is None


def test_rows_left_running_by_a_dead_process_are_failed(make_services, analyst):
    svc = make_services()
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    with svc.store.session() as session:
        session.add(Export(id="stale-export", report_ref=REPORT, format="pdf", status="running",
                           params={"timeout_seconds": 300}, owner_id=analyst.id,
                           created_at=long_ago, started_at=long_ago))  # fmt: skip
    assert jobs.fail_interrupted(svc) == ["stale-export"]
    row = jobs.get_export(svc, "stale-export")
    assert row.status == "failed" and row.error == jobs.INTERRUPTED


def test_only_owner_or_admin_sees_an_export(make_services, analyst, app):
    svc = make_services()
    row = jobs.wait(svc, jobs.create_export(svc, analyst, REPORT, "json", "7d", {}).id, 30)
    store = svc.store
    with store.session() as session:
        ids = dict(session.execute(select(User.username, User.id)).all())
    other, admin = (load_principal(store, str(ids[n])) for n in ("analyst", "admin"))
    with pytest.raises(jobs.ExportRequestError):
        jobs.get_for(svc, other, row.id)
    assert jobs.get_for(svc, admin, row.id).id == row.id
    with pytest.raises(jobs.ExportRequestError):
        jobs.cancel_export(svc, other, row.id)


def test_filters_must_be_honoured_by_some_widget():
    spec = builtin_dashboards()[REPORT]
    window = resolve("30d", "UTC")
    assert jobs.apply_filters(spec, {}, window, "UTC") is spec
    for bad in ({"start": "2026-01-01"}, {"unknown": 1}, {"interval": "week"}, {"x": {"a": 1}}):
        with pytest.raises(jobs.ExportRequestError) as err:
            jobs.apply_filters(spec, bad, window, "UTC")
        assert err.value.status == 400
    # a dimension filter with no values filters nothing, and is accepted
    assert jobs.apply_filters(spec, {"plan": []}, window, "UTC").widgets == spec.widgets
    assert jobs.dimension_filters({"plan": "pro", "country": ["DE", "FR"], "x": 1}) == {
        "plan": ["pro"],
        "country": ["DE", "FR"],
    }


def test_format_names(app):
    settings = app.server.extensions["nexpo"].settings
    assert jobs.parse_format("image", settings).value == settings.image_export_format
    assert jobs.parse_format("XLSX", settings).value == "excel"
    with pytest.raises(jobs.ExportRequestError) as err:
        jobs.parse_format("json", settings, ("csv",))
    assert err.value.status == 400
    # API_EXPORT_FORMATS narrows the data formats only: PDF follows ENABLE_PDF_EXPORT.
    assert jobs.parse_format("pdf", settings, ("csv",)).value == "pdf"
    with pytest.raises(jobs.ExportRequestError):
        jobs.parse_format("doc", settings)


@pytest.mark.parametrize(
    ("changes", "fmt", "variable"),
    [
        ({"enable_pdf_export": False}, "pdf", "ENABLE_PDF_EXPORT=false"),
        ({"excel_export_enabled": False}, "excel", "EXCEL_EXPORT_ENABLED=false"),
        ({"api_export_formats": ("json",)}, "csv", "API_EXPORT_FORMATS=json"),
    ],
)
def test_a_format_turned_off_is_refused_naming_the_variable(
    make_services, analyst, changes, fmt, variable
):
    svc = make_services(**changes)
    with pytest.raises(jobs.ExportRequestError) as err:
        jobs.create_export(svc, analyst, REPORT, fmt, "7d", {})
    assert err.value.status == 404 and variable in err.value.user_message


def test_the_model_matches_the_migrations(app):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from store.models import Base

    store = app.server.extensions["nexpo"].store
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diff if "'exports'" in repr(d) or "ix_exports" in repr(d)] == []
