"""/api/reports as saved configurations (create, update, delete) and on-demand generation.

`POST /api/reports` saves a report: a template (or saved dashboard) with filters, a period and the
formats it offers (engine/saved_reports.py validates them against the template). `PUT` changes
one (optionally checking the `version` it was based on: 409 when stale) and `DELETE` removes it;
built-in reports and dashboards are not saved reports and answer 409 saying where to change them.
`POST /api/reports/{id}/generate` answers the seed's "API-Based Report" shape `{period, metrics,
charts}` (engine/report_data.py) for any report, under the caller's role: an explicit period
longer than the role's cap is refused (403), the report's own period is cut to it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, jsonify, request, url_for
from pydantic import BaseModel, ConfigDict

from api import ApiError, body_of, bp, document, json_body, principal, schema
from api.reports import (
    ERROR,
    ERRORS,
    REPORT_SUMMARY,
    WINDOW,
    audit_event,
    check,
    id_param,
    ok,
    opened_or_404,
    resolve_report,
    saved_summary,
    window_json,
)
from engine import services
from engine.periods import PERIODS
from engine.report_data import report_data
from engine.saved_reports import (
    ReportChanges,
    ReportConfig,
    ReportConfigError,
    SavedReportNotFound,
    SavedReports,
    base_report,
)
from engine.spec import FILTER_NAMES, Period
from engine.templates import builtin_dashboards
from security.policy import AccessDenied
from settings import EXPORT_FORMATS

FORMATS = list(EXPORT_FORMATS)
ERRORS_409 = {**ERRORS, "409": ERROR}


class GenerateRequest(BaseModel):
    """The body of `POST /api/reports/{id}/generate` (every field optional)."""

    model_config = ConfigDict(extra="forbid")

    period: Period | None = None
    start: date | None = None
    end: date | None = None
    filters: dict[str, list[str]] | None = None


def _store() -> SavedReports:
    svc = services.current()
    return SavedReports(svc.store, audit_enabled=svc.settings.enable_audit_log)


def _raise(exc: ReportConfigError) -> None:
    code = {404: "not_found", 409: "conflict"}.get(exc.status, "bad_request")
    raise ApiError(exc.status, code, exc.user_message) from None


def _saved_or_refuse(report_id: str, verb: str) -> None:
    """404 for an unknown id; 409 for a built-in report or a dashboard (not saved configurations)."""
    store = _store()
    if report_id not in builtin_dashboards() and store.exists(report_id):
        return
    found, _ = opened_or_404(report_id)
    where = (
        "it is built in: save your own configuration of it with POST /api/reports"
        if found.resource.kind == "template"
        else f"it is a dashboard: {verb} it through /api/dashboards/{report_id}"
    )
    raise ApiError(409, "conflict", f"Report {report_id!r} cannot be {verb}d here: {where}.")


def _answer(info: Any, status: int = 200) -> Response:
    spec = base_report(services.current().store, info.template).spec
    response = jsonify(saved_summary(info, spec))
    response.status_code = status
    if status == 201:
        response.headers["Location"] = url_for("api.get_report", report_id=info.slug)
    return response


@bp.post("/reports")
def create_report() -> Response:
    config = body_of(ReportConfig)
    try:
        info = _store().create(config, principal())
    except ReportConfigError as exc:
        _raise(exc)
    return _answer(info, 201)


@bp.put("/reports/<report_id>")
def update_report(report_id: str) -> Response:
    changes = body_of(ReportChanges)
    _saved_or_refuse(report_id, "update")
    try:
        info = _store().update(report_id, changes, principal())
    except ReportConfigError as exc:
        _raise(exc)
    return _answer(info)


@bp.delete("/reports/<report_id>")
def delete_report(report_id: str) -> Response:
    _saved_or_refuse(report_id, "delete")
    try:
        _store().delete(report_id, principal())
    except SavedReportNotFound as exc:
        _raise(exc)
    return Response(status=204)


@bp.post("/reports/<report_id>/generate")
def generate_report(report_id: str) -> Response:
    who = principal()
    data = json_body() if _has_body() else {}
    found, saved = opened_or_404(report_id)
    check(who, "read", found.resource)
    resolved = resolve_report(who, found, saved, data)
    template = saved.template if saved else resolved.key
    svc = services.current()
    try:
        data = report_data(
            template,
            found.spec,
            resolved.window,
            who,
            svc,
            resource=found.resource,
            filters=resolved.filters,
        )
    except AccessDenied:
        audit_event(who, "generate", found.resource.label(), outcome="denied")
        raise
    audit_event(who, "generate", found.resource.label(), detail={"period": resolved.period})
    return jsonify(
        report=report_id,
        period={
            "name": resolved.period,
            **window_json(data.window),
            "requested": window_json(resolved.requested),
            "capped": data.window != resolved.requested,
        },
        metrics=data.metrics,
        charts=data.charts,
        errors=data.errors,
    )


def _has_body() -> bool:
    return bool(request.content_length) or request.is_json


# --- OpenAPI -----------------------------------------------------------------------------------

FILTERS = {
    "type": "object",
    "description": "Dimension filters by name (" + ", ".join(FILTER_NAMES) + ")",
    "additionalProperties": {"type": "array", "items": {"type": "string", "minLength": 1}},
}
PERIOD = {"type": "string", "enum": list(PERIODS)}
DATE = {"type": "string", "format": "date"}
REPORT_CONFIG = schema(
    "ReportConfig",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "template"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 120},
            "description": {"type": "string", "maxLength": 2000},
            "template": {
                "type": "string",
                "minLength": 1,
                "maxLength": 120,
                "description": "A template key (built-in or saved) or a saved dashboard slug",
            },
            "filters": FILTERS,
            "period": PERIOD,
            "start": DATE,
            "end": DATE,
            "formats": {
                "type": "array",
                "items": {"type": "string", "enum": FORMATS},
                "description": "A subset of the template's export_formats (default: all of them)",
            },
        },
    },
)
REPORT_CHANGES = schema(
    "ReportChanges",
    {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 120},
            "description": {"type": "string", "maxLength": 2000},
            "template": {"type": "string", "minLength": 1, "maxLength": 120},
            "filters": FILTERS,
            "period": PERIOD,
            "start": DATE,
            "end": DATE,
            "formats": {"type": "array", "items": {"type": "string", "enum": FORMATS}},
            "version": {
                "type": "integer",
                "minimum": 1,
                "description": "The version this change is based on; 409 if it is not current",
            },
        },
    },
)
GENERATE_REQUEST = schema(
    "GenerateRequest",
    {
        "type": "object",
        "additionalProperties": False,
        "properties": {"period": PERIOD, "start": DATE, "end": DATE, "filters": FILTERS},
    },
)
NUMBER = {"type": "number", "nullable": True}
GENERATED = schema(
    "GeneratedReport",
    {
        "type": "object",
        "required": ["report", "period", "metrics", "charts", "errors"],
        "properties": {
            "report": {"type": "string"},
            "period": {
                "type": "object",
                "required": ["name", "start", "end", "days", "requested", "capped"],
                "properties": {
                    "name": PERIOD,
                    "start": DATE,
                    "end": DATE,
                    "days": {"type": "integer", "minimum": 1},
                    "requested": WINDOW,
                    "capped": {"type": "boolean"},
                },
            },
            "metrics": {
                "type": "object",
                "description": "A revenue report: total_revenue, mrr, arr, churn_rate (a fraction),"
                " new_customers, growth_rate (percent); others: metric cards by widget id",
                "additionalProperties": NUMBER,
            },
            "charts": {
                "type": "object",
                "description": "A revenue report: revenue_trend, mrr_growth, customer_acquisition"
                " (rows with date); others: each widget's rows by widget id",
                "additionalProperties": {"type": "array", "items": {"type": "object"}},
            },
            "errors": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
)


def _body(ref: dict[str, str], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": ref}}}


document(
    "/api/reports",
    "post",
    {
        "summary": "Save a report: a template with filters, a period and export formats",
        "operationId": "createReport",
        "tags": ["reports"],
        "requestBody": _body(REPORT_CONFIG),
        "responses": {**ok("The saved report", REPORT_SUMMARY, "201"), **ERRORS},
    },
)
document(
    "/api/reports/{id}",
    "put",
    {
        "summary": "Change a saved report's configuration (optionally checking its version)",
        "operationId": "updateReport",
        "tags": ["reports"],
        "parameters": [id_param(description="Saved report id")],
        "requestBody": _body(REPORT_CHANGES),
        "responses": {**ok("The saved report", REPORT_SUMMARY), **ERRORS_409},
    },
)
document(
    "/api/reports/{id}",
    "delete",
    {
        "summary": "Delete a saved report (built-in reports and dashboards answer 409)",
        "operationId": "deleteReport",
        "tags": ["reports"],
        "parameters": [id_param(description="Saved report id")],
        "responses": {"204": {"description": "Deleted"}, **ERRORS_409},
    },
)
document(
    "/api/reports/{id}/generate",
    "post",
    {
        "summary": "Generate the report now: {period, metrics, charts} (the seed's API report)",
        "operationId": "generateReport",
        "tags": ["reports"],
        "parameters": [id_param()],
        "requestBody": _body(GENERATE_REQUEST, required=False),
        "responses": {**ok("The generated report", GENERATED), **ERRORS},
    },
)
