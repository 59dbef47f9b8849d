"""ENABLE_SCHEDULED_REPORTS=false: no scheduler runs in the app, `flask scheduler` refuses, and
run-file links (the portal's) are not offered when REPORT_PORTAL_ENABLED=false."""

from __future__ import annotations

import click
import pytest

from engine.services import Services
from workers import SchedulerHost, build_scheduler, init_app


def _services(app, **changes: object) -> Services:
    base = app.server.extensions["nexpo"]
    return Services(base.settings.replace(**changes), base.store, base.sources)


@pytest.mark.parametrize("scheduled_reports", [True, False])
def test_the_scheduler_starts_only_with_scheduled_reports_on(app, scheduled_reports):
    svc = _services(app, enable_scheduled_reports=scheduled_reports, scheduler_enabled=True)
    host = SchedulerHost(svc)
    try:
        host.ensure_started()
        assert host.enabled is scheduled_reports
        assert host.running is scheduled_reports
    finally:
        host.stop()


def test_the_scheduler_command_refuses_naming_the_variable(app):
    from flask import Flask

    server = Flask("t")
    init_app(server, _services(app, enable_scheduled_reports=False, scheduler_enabled=False))
    result = server.test_cli_runner().invoke(args=["scheduler", "--once"])
    assert result.exit_code != 0
    assert "ENABLE_SCHEDULED_REPORTS=false" in result.output
    assert isinstance(result.exception, SystemExit | click.ClickException)


@pytest.mark.parametrize("portal", [True, False])
def test_run_file_links_follow_the_portal(app, portal):
    scheduler = build_scheduler(_services(app, report_portal_enabled=portal))
    try:
        assert (scheduler.link_for is not None) is portal
        assert ("portal" in scheduler.channels) is portal
    finally:
        scheduler.executor.shutdown(wait=True)
