"""/api/reports: the reports a caller may open, one report's spec, and its numbers as JSON (preview).

A report is any spec the engine can generate: a built-in template, a saved report (a template with
its filters and period, engine/saved_reports.py; created through api/report_configs.py), a saved
dashboard (`engine.reports.find_report`) or a saved template. Lists show only what the caller may read; opening one they may not
answers 403 with the policy's message (and is audited); an unknown id answers 404. The preview goes
through `engine.generate`, so it obeys the same policy as the page: the role's rows, date cap and
masking. An explicit `period` longer than the role's cap is refused (403, `RangeTooLong`); without
one, the report's default period is cut to the cap and `window.capped` says so.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pandas as pd
from flask import Response, jsonify, request
from sqlalchemy import select

from api import ApiError, bp, document, page_args, paginated, principal, schema
from engine import services
from engine.generate import WidgetResult, run
from engine.periods import PERIODS, Window
from engine.reports import FoundReport, ReportNotFound, find_report
from engine.request import FILTERS, ReportRequest, ResolvedRequest, resolve
from engine.saved_reports import (
    ReportConfigError,
    SavedReportInfo,
    SavedReportNotFound,
    SavedReports,
    base_report,
)
from engine.spec import DashboardSpec
from engine.templates import builtin_dashboards
from security import audit
from security.policy import AccessDenied, Resource, authorize, masks_pii
from security.users import Principal
from store.models import Dashboard

ERROR = {"$ref": "#/components/responses/Error"}
ERRORS = {"400": ERROR, "401": ERROR, "403": ERROR, "404": ERROR}

REPORT_SUMMARY = schema(
    "ReportSummary",
    {
        "type": "object",
        "required": ["id", "title", "kind", "default_period", "widgets"],
        "properties": {
            "id": {"type": "string", "description": "Template key, saved report or dashboard slug"},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "kind": {"type": "string", "enum": ["template", "dashboard", "report"]},
            "default_period": {"type": "string"},
            "widgets": {"type": "integer", "minimum": 0},
            "version": {"type": "integer", "nullable": True},
            "template": {"type": "string", "description": "Saved reports: what they show"},
            "filters": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
            "period": {"type": "string", "enum": list(PERIODS)},
            "start": {"type": "string", "format": "date", "nullable": True},
            "end": {"type": "string", "format": "date", "nullable": True},
            "formats": {"type": "array", "items": {"type": "string"}},
            "owner_id": {"type": "integer", "nullable": True},
        },
    },
)
REPORT = schema(
    "Report",
    {
        "allOf": [
            REPORT_SUMMARY,
            {
                "type": "object",
                "required": ["spec"],
                "properties": {"spec": {"type": "object", "description": "The DashboardSpec"}},
            },
        ]
    },
)
WINDOW = schema(
    "Window",
    {
        "type": "object",
        "required": ["start", "end", "days"],
        "properties": {
            "start": {"type": "string", "format": "date"},
            "end": {"type": "string", "format": "date"},
            "days": {"type": "integer", "minimum": 1},
        },
    },
)
WIDGET_DATA = schema(
    "WidgetData",
    {
        "type": "object",
        "required": ["id", "type", "title", "metric", "error"],
        "properties": {
            "id": {"type": "string"},
            "type": {"type": "string"},
            "title": {"type": "string"},
            "metric": {"type": "string"},
            "error": {"type": "string", "nullable": True},
            "value": {"type": "number", "nullable": True},
            "previous": {"type": "number", "nullable": True},
            "change": {"type": "number", "nullable": True},
            "columns": {"type": "array", "items": {"type": "string"}},
            "rows": {"type": "array", "items": {"type": "object"}},
            "row_count": {"type": "integer", "minimum": 0},
            "truncated_at": {"type": "integer", "nullable": True},
        },
    },
)
PREVIEW = schema(
    "ReportPreview",
    {
        "type": "object",
        "required": ["report", "period", "window", "requested", "capped", "widgets"],
        "properties": {
            "report": {"type": "string"},
            "period": {"type": "string"},
            "window": WINDOW,
            "requested": WINDOW,
            "capped": {"type": "boolean"},
            "masked": {"type": "boolean"},
            "filters": {
                "type": "object",
                "description": "The filters applied (a manager's department forced on top)",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
            "widgets": {"type": "array", "items": WIDGET_DATA},
        },
    },
)


def list_schema(name: str, item: dict[str, str]) -> dict[str, str]:
    """A paginated list of `item` (what api.paginated returns)."""
    return schema(
        name,
        {
            "type": "object",
            "required": ["items", "page", "per_page", "total", "pages"],
            "properties": {
                "items": {"type": "array", "items": item},
                "page": {"type": "integer", "minimum": 1},
                "per_page": {"type": "integer", "minimum": 1},
                "total": {"type": "integer", "minimum": 0},
                "pages": {"type": "integer", "minimum": 0},
            },
        },
    )


PAGE_PARAMS = [
    {
        "name": "page",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "default": 1},
    },
    {
        "name": "per_page",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
    },
]


def id_param(name: str = "id", description: str = "Template key or dashboard slug") -> dict:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "minLength": 1, "maxLength": 200},
    }


def ok(description: str, ref: dict[str, str], status: str = "200") -> dict[str, Any]:
    return {status: {"description": description, "content": {"application/json": {"schema": ref}}}}


# --- shared by api/reports.py, api/dashboards.py and api/templates.py ---


def check(who: Principal, action: str, resource: Resource) -> None:
    """authorize(), with a denial audited before the 403 goes out."""
    try:
        authorize(who, action, resource)
    except AccessDenied:
        audit_event(who, f"api.{action}", resource.label(), outcome="denied")
        raise


def audit_event(
    who: Principal | None,
    action: str,
    target: str | None,
    *,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
) -> None:
    svc = services.current()
    audit.record(
        svc.store,
        principal=who,
        action=action,
        target=target,
        outcome=outcome,  # type: ignore[arg-type]
        ip=request.remote_addr,
        detail={"via": "api", **(detail or {})},
        enabled=svc.settings.enable_audit_log,
    )


def found_or_404(report_id: str) -> FoundReport:
    try:
        return find_report(services.current().store, report_id)
    except ReportNotFound as exc:
        raise ApiError(404, "not_found", exc.user_message) from None


def opened_or_404(report_id: str) -> tuple[FoundReport, SavedReportInfo | None]:
    """A built-in template, a saved report (with its configuration), a saved dashboard or a saved
    template, in that order; 404 when none has this id."""
    store = services.current().store
    if report_id not in builtin_dashboards():
        try:
            info = SavedReports(store).get(report_id)
        except SavedReportNotFound:
            info = None
        if info is not None:
            try:
                base = base_report(store, info.template)
            except ReportConfigError:
                raise ApiError(
                    404, "not_found", f"The template of report {report_id!r} no longer exists."
                ) from None
            return FoundReport(base.spec, info.resource, info.version), info
    try:
        return find_report(store, report_id), None
    except ReportNotFound as exc:
        try:
            base = base_report(store, report_id)
        except ReportConfigError:
            raise ApiError(404, "not_found", exc.user_message) from None
        return FoundReport(base.spec, base.resource), None


def saved_summary(info: SavedReportInfo, spec: DashboardSpec | None = None) -> dict[str, Any]:
    """A saved report as the list shows it (with its configuration)."""
    return {
        "id": info.slug,
        "title": info.name,
        "description": info.description,
        "kind": "report",
        "default_period": info.period,
        "widgets": len(spec.widgets) if spec else 0,
        "version": info.version,
        "template": info.template,
        "filters": info.filters,
        "period": info.period,
        "start": info.start.isoformat() if info.start else None,
        "end": info.end.isoformat() if info.end else None,
        "formats": info.formats,
        "owner_id": info.owner_id,
    }


def saved_readable(who: Principal) -> list[dict[str, Any]]:
    """The saved reports `who` may read, as list items."""
    store = services.current().store
    items = []
    for info in SavedReports(store).readable(who):
        try:
            spec = base_report(store, info.template).spec
        except ReportConfigError:
            spec = None
        items.append(saved_summary(info, spec))
    return items


def readable(who: Principal, action: str = "read") -> list[FoundReport]:
    """Every built-in template and saved dashboard `who` may take `action` on, templates first."""
    found = [
        FoundReport(spec, Resource.template(key)) for key, spec in builtin_dashboards().items()
    ]
    with services.current().store.session() as session:
        slugs = list(session.scalars(select(Dashboard.slug).order_by(Dashboard.id)))
    for slug in slugs:
        if slug in builtin_dashboards():
            continue
        try:
            found.append(find_report(services.current().store, slug))
        except (ReportNotFound, ValueError):  # deleted meanwhile, or a spec that no longer loads
            continue
    allowed = []
    for item in found:
        try:
            authorize(who, action, item.resource)
        except AccessDenied:
            continue
        allowed.append(item)
    return allowed


def summary(found: FoundReport) -> dict[str, Any]:
    spec = found.spec
    return {
        "id": found.resource.key or spec.key,
        "title": spec.title,
        "description": spec.description,
        "kind": "template" if found.resource.kind == "template" else "dashboard",
        "default_period": spec.default_period,
        "widgets": len(spec.widgets),
        "version": found.version,
    }


def page_of(items: list[dict[str, Any]]) -> Response:
    page, per_page = page_args()
    start = (page - 1) * per_page
    return jsonify(paginated(items[start : start + per_page], len(items), page, per_page))


# --- the preview: generated numbers as JSON ---


def window_json(window: Window) -> dict[str, Any]:
    return {"start": window.start.isoformat(), "end": window.end.isoformat(), "days": window.days}


def resolve_report(
    who: Principal,
    found: FoundReport,
    saved: SavedReportInfo | None,
    data: Mapping[str, Any],
    *,
    action: str = "read",
) -> ResolvedRequest:
    """The request in `data` (a query string or a JSON body) for `found`, through the one request
    model (engine/request.py). Without a period, a saved report's own period applies (else the
    report's default) and is cut to the role's cap; an explicit period longer than the cap is
    refused (RangeTooLong, 403). Without a `filters` field, a saved report's own filters apply."""
    svc = services.current()
    req = ReportRequest.parse(
        data,
        report=found.resource.key or found.spec.key,
        image_format=svc.settings.image_export_format,
    )
    explicit = req.period is not None
    if saved is not None and not explicit:
        req = replace(req, period=saved.period, start=saved.start, end=saved.end)
    asked_filters = "filters" in data or any(name in data for name in FILTERS)
    if saved is not None and not asked_filters:  # `filters: {}` asks for none
        req = replace(req, filters={k: tuple(v) for k, v in saved.filters.items() if v})
    return resolve(req, who, svc, action=action, cap="refuse" if explicit else "clamp", found=found)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def frame_json(frame: pd.DataFrame | None) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and JSON-safe rows (dates as ISO strings, NaN as null)."""
    if frame is None:
        return [], []
    rows = json.loads(frame.to_json(orient="records", date_format="iso", date_unit="s"))
    return [str(c) for c in frame.columns], rows


def widget_json(result: WidgetResult) -> dict[str, Any]:
    widget = result.widget
    columns, rows = frame_json(result.frame)
    return {
        "id": widget.id,
        "type": widget.type,
        "title": widget.title,
        "metric": widget.metric,
        "error": result.error,
        "value": _number(result.value),
        "previous": _number(result.previous),
        "change": _number(result.change),
        "columns": columns,
        "rows": rows,
        "row_count": result.row_count,
        "truncated_at": result.truncated_at,
    }


# --- routes ---


@bp.get("/reports")
def list_reports() -> Response:
    who = principal()
    return page_of([summary(found) for found in readable(who)] + saved_readable(who))


@bp.get("/reports/<report_id>/preview")
def preview_report(report_id: str) -> Response:
    who = principal()
    found, saved = opened_or_404(report_id)
    check(who, "read", found.resource)
    svc = services.current()
    asked = request.args.get("period")
    try:
        resolved = resolve_report(who, found, saved, request.args.to_dict(flat=False))
    except AccessDenied:
        audit_event(who, "view", found.resource.label(), outcome="denied", detail={"period": asked})
        raise
    results = run(resolved, svc)
    audit_event(who, "view", found.resource.label(), detail={"period": resolved.period})
    return jsonify(
        report=saved.slug if saved else resolved.key,
        period=resolved.period,
        window=window_json(resolved.window),
        requested=window_json(resolved.requested),
        capped=resolved.capped,
        masked=masks_pii(who, enabled=svc.settings.enable_pii_masking),
        filters=resolved.filters,
        widgets=[widget_json(r) for r in results],
    )


@bp.get("/reports/<report_id>")
def get_report(report_id: str) -> Response:
    who = principal()
    found, saved = opened_or_404(report_id)
    check(who, "read", found.resource)
    head = saved_summary(saved, found.spec) if saved else summary(found)
    return jsonify({**head, "spec": found.spec.model_dump(mode="json")})


document(
    "/api/reports",
    "get",
    {
        "summary": "The reports (templates and saved dashboards) the caller may open",
        "operationId": "listReports",
        "tags": ["reports"],
        "parameters": PAGE_PARAMS,
        "responses": {
            **ok("A page of reports", list_schema("ReportList", REPORT_SUMMARY)),
            **ERRORS,
        },
    },
)
document(
    "/api/reports/{id}",
    "get",
    {
        "summary": "One report with its spec",
        "operationId": "getReport",
        "tags": ["reports"],
        "parameters": [id_param()],
        "responses": {**ok("The report", REPORT), **ERRORS},
    },
)
document(
    "/api/reports/{id}/preview",
    "get",
    {
        "summary": "The report's numbers as JSON, under the caller's role (rows, date cap, masking)",
        "operationId": "previewReport",
        "tags": ["reports"],
        "parameters": [
            id_param(),
            {
                "name": "period",
                "in": "query",
                "required": False,
                "description": "7d, 30d, 90d or custom (then start and end); default: the report's",
                "schema": {"type": "string", "enum": list(PERIODS)},
            },
            {
                "name": "start",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "format": "date"},
            },
            {
                "name": "end",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "format": "date"},
            },
        ],
        "responses": {**ok("The generated numbers", PREVIEW), **ERRORS},
    },
)
