"""The one request model: parse (shape), resolve (report, policy, days, cap, scope, format)."""

from __future__ import annotations

from datetime import date

import pytest

from engine.periods import Window
from engine.reports import ReportNotFound
from engine.request import PERIODS, ReportRequest, RequestError, resolve
from engine.services import EXTENSION_KEY
from security.policy import AccessDenied, RangeTooLong
from security.users import Principal

TODAY = date(2026, 3, 15)
ADMIN = Principal(1, "admin", "admin")
MANAGER = Principal(2, "manager", "manager", "Sales")
ANALYST = Principal(3, "analyst", "analyst")
VIEWER = Principal(4, "viewer", "viewer")


def test_parse_takes_the_seeds_names_and_query_string_lists():
    req = ReportRequest.parse(
        {"report_id": "kpi_dashboard", "date_range": "last_7_days", "plan": ["Pro", "Team"]}
    )
    assert (req.report, req.period, dict(req.filters)) == (
        "kpi_dashboard",
        "7d",
        {"plan": ("Pro", "Team")},
    )
    req = ReportRequest.parse(
        {"report": "x", "start": "2026-01-01", "end": "2026-01-31", "filters": {"country": "DE"}}
    )
    assert (req.period, req.start, req.end) == ("custom", date(2026, 1, 1), date(2026, 1, 31))
    assert dict(req.filters) == {"country": ("DE",)}
    assert ReportRequest.parse({"report": "x", "format": "xlsx"}).format == "excel"
    assert (
        ReportRequest.parse({"report": "x", "format": "image"}, image_format="svg").format == "svg"
    )
    assert PERIODS == ("7d", "30d", "90d", "custom")


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({}, "report", "report: required"),
        ({"report": "x", "period": "1y"}, "period", "expected one of 7d, 30d, 90d, custom"),
        ({"report": "x", "period": "custom"}, "period", "needs start and end"),
        ({"report": "x", "start": "2026-13-01", "end": "2026-12-31"}, "start", "expected a date"),
        ({"report": "x", "start": "2026-01-01"}, "end", "start and end go together"),
        ({"report": "x", "colour": "red"}, "colour", "colour: unknown field"),
        ({"report": "x", "filters": {"planet": "Mars"}}, "filters.planet", "filters.planet: unknown filter"),
        ({"report": "x", "filters": ["plan"]}, "filters", "expected an object"),
        ({"report": "x", "format": "docx"}, "format", "expected one of pdf, excel"),
        ({"report": "x", "plan": {"a": 1}}, "plan", "expected a string"),
        ({"report": "x", "user_type": "admin"}, "filters.user_type", "filters.user_type: 'admin' is not one of all, active; the role filter is user_role"),
        ({"report": "x", "revenue_type": ["one_time", "gift"]}, "filters.revenue_type", "'gift' is not one of all, recurring, one_time"),
    ],
)  # fmt: skip
def test_parse_errors_name_the_field(data, field, words):
    with pytest.raises(RequestError) as caught:
        ReportRequest.parse(data)
    assert caught.value.field == field and caught.value.status == 400
    assert words in caught.value.user_message


@pytest.fixture
def services(app):
    return app.server.extensions[EXTENSION_KEY]


def test_resolve_gives_the_days_ending_on_the_anchor_and_the_reports_default(services):
    resolved = resolve(ReportRequest("kpi_dashboard"), ADMIN, services, today=TODAY)
    default = resolved.spec.default_period
    days = {"7d": 7, "30d": 30, "90d": 90}[default]
    assert resolved.period == default
    assert resolved.window == resolved.requested
    assert resolved.window.end == TODAY and resolved.window.days == days
    custom = ReportRequest.parse(
        {"report": "kpi_dashboard", "start": "2026-01-01", "end": "2026-01-10"}
    )
    assert resolve(custom, ADMIN, services, today=TODAY).window == Window(
        date(2026, 1, 1), date(2026, 1, 10)
    )


def test_resolve_applies_the_roles_cap_by_clamping_or_refusing(services):
    req = ReportRequest.parse({"report": "kpi_dashboard", "period": "90d"})
    clamped = resolve(req, VIEWER, services, today=TODAY)
    assert clamped.requested.days == 90 and clamped.window.days == 30 and clamped.capped
    assert clamped.window.end == TODAY
    with pytest.raises(RangeTooLong, match="30 days"):
        resolve(req, VIEWER, services, today=TODAY, cap="refuse")
    assert not resolve(req, ADMIN, services, today=TODAY).capped


def test_resolve_checks_the_action_on_the_report(services):
    with pytest.raises(AccessDenied, match="does not include this report"):
        resolve(ReportRequest("revenue_analytics"), ANALYST, services, today=TODAY)
    with pytest.raises(AccessDenied, match="may not export"):
        resolve(ReportRequest("kpi_dashboard"), VIEWER, services, action="export", today=TODAY)
    with pytest.raises(ReportNotFound):
        resolve(ReportRequest("no_such_report"), ADMIN, services, today=TODAY)


def test_resolve_forces_the_managers_department_on_the_filters(services):
    req = ReportRequest.parse(
        {"report": "revenue_analytics", "department": "Finance", "plan": "Pro"}
    )
    resolved = resolve(req, MANAGER, services, today=TODAY)
    assert resolved.filters == {"department": ["Sales"], "plan": ["Pro"]}
    assert resolve(req, ADMIN, services, today=TODAY).filters == {
        "department": ["Finance"],
        "plan": ["Pro"],
    }


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"start": "2026-02-01", "end": "2026-01-01"}, "end", "ends (2026-01-01) before it starts"),
        ({"start": "1900-01-01", "end": "1900-01-31"}, "start", "the earliest day is 2000-01-01"),
        ({"start": "2000-01-01", "end": "2026-01-01"}, "start", "at most 10 years"),
        ({"widget": "nope"}, "widget", "widget: 'nope' is not on 'kpi_dashboard'"),
    ],
)
def test_resolve_refuses_days_and_widgets_it_cannot_serve(services, data, field, words):
    req = ReportRequest.parse({"report": "kpi_dashboard", **data})
    with pytest.raises(RequestError) as caught:
        resolve(req, ADMIN, services, today=TODAY)
    assert caught.value.field == field and words in caught.value.user_message


def test_a_format_the_report_does_not_offer_names_the_ones_it_does(services):
    req = ReportRequest.parse({"report": "kpi_dashboard", "format": "xml"})
    spec = resolve(ReportRequest("kpi_dashboard"), ADMIN, services, today=TODAY).spec
    assert spec.export_formats == ["pdf", "json"]  # the seed's kpi_dashboard
    offered = ["pdf", "json", "png", "svg", "jpg"]  # and chart images, offered for every report
    with pytest.raises(RequestError) as caught:
        resolve(req, ADMIN, services, today=TODAY)
    assert caught.value.user_message == (
        "format: 'xml' is not offered for 'kpi_dashboard'; choose one of " + ", ".join(offered)
    )
    ok = ReportRequest.parse({"report": "kpi_dashboard", "format": offered[0]})
    assert resolve(ok, ADMIN, services, today=TODAY).format == offered[0]
