"""The seed's troubleshooting commands: data-source health, report performance, export and smoke tests.

Access, chosen per route:

- GET /api/health/datasources and POST /api/reports/test are open, like /health: the runbook and
  the blue-green switch call them with plain curl. They answer only names, up/down, latencies,
  pass/fail, times and safe error messages — no DSN, no SQL, no data. The smoke test runs at most
  once per REUSE_SECONDS per process (callers share the last answer), so it cannot be used to load
  the warehouse.
- GET /api/reports/performance/<id> needs `read` on that report (403 otherwise, 404 unknown id).
- POST /api/export/test needs `export` on at least one built-in report (any role that may export).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, jsonify, request

from api import PUBLIC_PATHS, ApiError, bp, document, principal, schema
from engine import performance, services
from engine.generate import report_key
from engine.reports import ReportNotFound, find_report
from engine.smoke import REUSE_SECONDS, smoke_test
from engine.templates import builtin_dashboards
from exports import ExportError, ExportFormat, ExportLimits
from exports.sample import render_sample
from monitoring.health import datasources_response
from security.policy import AccessDenied, Resource, authorize
from security.users import Principal
from settings import EXPORT_FORMATS

PUBLIC_PATHS.update({"/api/health/datasources", "/api/reports/test"})
EXPORT_TEST_FIELDS = ("format", "data")
SAMPLE_DATA = ("sample",)


@bp.get("/health/datasources")
def datasources_health() -> Response:
    return datasources_response(services.current().sources)


@bp.get("/reports/performance/<report_id>")
def report_performance(report_id: str) -> Response:
    who = principal()
    svc = services.current()
    try:
        found = find_report(svc.store, report_id)
    except ReportNotFound as exc:
        raise ApiError(404, "not_found", exc.user_message) from None
    authorize(who, "read", found.resource)
    key = report_key(found.spec, found.resource)
    samples, source = performance.log_for(svc).recent(key)
    body = performance.summary(key, samples, [w.id for w in found.spec.widgets])
    return _no_store(jsonify({**body, "source": source}))


@bp.post("/export/test")
def export_test() -> Response:
    who = principal()
    body = _loose_json_body()
    unknown = sorted(set(body) - set(EXPORT_TEST_FIELDS))
    if unknown:
        raise ApiError(
            400, "bad_request", f"Unknown field {unknown[0]!r}; send only format and data."
        )
    raw_format, data = body.get("format"), body.get("data", "sample")
    if data not in SAMPLE_DATA:
        raise ApiError(400, "bad_request", f"data={data!r}: only the built-in 'sample' is tested.")
    fmt = _export_format(raw_format)
    _may_export_something(who)
    settings = services.current().settings
    try:
        rendered = render_sample(fmt, ExportLimits.from_settings(settings))
    except ExportError as exc:
        response = jsonify(
            error="export_test_failed",
            message=f"The {fmt.value} export test failed: {exc.user_message}",
            format=fmt.value,
            ok=False,
        )
        response.status_code = 503
        return response
    return jsonify(
        format=fmt.value,
        ok=True,
        seconds=round(rendered.seconds, 3),
        bytes=len(rendered.content),
        content_type=rendered.content_type,
        offered=fmt.value in settings.export_formats,
    )


@bp.post("/reports/test")
def reports_smoke_test() -> Response:
    run = smoke_test(services.current())
    response = _no_store(jsonify(run.as_dict()))
    response.status_code = 200 if run.passed else 503
    return response


def _loose_json_body() -> dict[str, Any]:
    """The body as a JSON object whatever its Content-Type: `curl -d '{...}'` sends JSON labelled
    application/x-www-form-urlencoded. An empty body is {}."""
    raw = request.get_data(cache=True, as_text=True).strip()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", 'Send a JSON object body, e.g. {"format": "pdf"}.')
    return body


def _export_format(raw: Any) -> ExportFormat:
    choices = ", ".join(EXPORT_FORMATS)
    if not isinstance(raw, str) or not raw.strip():
        raise ApiError(400, "bad_request", f"format is required: one of {choices}.")
    try:
        fmt = ExportFormat.parse(raw)
    except ExportError:
        fmt = None
    if fmt is None or fmt.value not in EXPORT_FORMATS:
        raise ApiError(
            400, "bad_format", f"Unknown export format {raw!r}; choose one of {choices}."
        )
    return fmt


def _may_export_something(who: Principal) -> None:
    for key in builtin_dashboards():
        try:
            authorize(who, "export", Resource.template(key))
            return
        except AccessDenied:
            continue
    raise AccessDenied(
        "Testing exports needs the export permission on at least one report; your role has none.",
        "export",
        None,
    )


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


# --- OpenAPI ---

ERROR = {"$ref": "#/components/responses/Error"}
NULLABLE_NUMBER = {"type": "number", "nullable": True}
DATASOURCES_HEALTH = schema(
    "DatasourcesHealth",
    {
        "type": "object",
        "required": ["status", "datasources", "cache"],
        "properties": {
            "status": {"type": "string", "enum": ["ok", "degraded"]},
            "datasources": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "kind", "status", "latency_ms", "error"],
                    "properties": {
                        "name": {"type": "string"},
                        "kind": {"type": "string"},
                        "dialect": {"type": "string", "nullable": True},
                        "status": {"type": "string", "enum": ["up", "down"]},
                        "latency_ms": {"type": "number"},
                        "error": {"type": "string", "nullable": True},
                    },
                },
            },
            "cache": {
                "type": "object",
                "required": ["backend", "status"],
                "properties": {
                    "backend": {"type": "string", "nullable": True},
                    "status": {"type": "string", "enum": ["up", "down", "disabled"]},
                },
            },
        },
    },
)
WIDGET_PERFORMANCE = schema(
    "WidgetPerformance",
    {
        "type": "object",
        "required": ["id", "samples", "p50_ms", "p95_ms", "rows", "hit_ratio", "last_error"],
        "properties": {
            "id": {"type": "string"},
            "samples": {"type": "integer", "minimum": 0},
            "p50_ms": NULLABLE_NUMBER,
            "p95_ms": NULLABLE_NUMBER,
            "last_ms": NULLABLE_NUMBER,
            "rows": {"type": "integer", "nullable": True},
            "fetches": {"type": "integer", "minimum": 0},
            "cache_hits": {"type": "integer", "minimum": 0},
            "hit_ratio": NULLABLE_NUMBER,
            "last_error": {"type": "string", "nullable": True},
            "last_error_at": {"type": "string", "format": "date-time", "nullable": True},
        },
    },
)
REPORT_PERFORMANCE = schema(
    "ReportPerformance",
    {
        "type": "object",
        "required": ["report_id", "samples", "generations", "cache", "widgets", "last_error"],
        "properties": {
            "report_id": {"type": "string"},
            "source": {"type": "string", "enum": ["store", "memory"]},
            "samples": {"type": "integer", "minimum": 0},
            "generations": {
                "type": "object",
                "description": "Whole generations (p50/p95 by nearest rank), newest 100 samples",
                "properties": {
                    "count": {"type": "integer", "minimum": 0},
                    "p50_ms": NULLABLE_NUMBER,
                    "p95_ms": NULLABLE_NUMBER,
                    "last_ms": NULLABLE_NUMBER,
                },
            },
            "cache": {
                "type": "object",
                "properties": {
                    "fetches": {"type": "integer", "minimum": 0},
                    "hits": {"type": "integer", "minimum": 0},
                    "hit_ratio": NULLABLE_NUMBER,
                },
            },
            "widgets": {"type": "array", "items": WIDGET_PERFORMANCE},
            "last_error": {
                "type": "object",
                "nullable": True,
                "properties": {
                    "widget_id": {"type": "string"},
                    "message": {"type": "string"},
                    "at": {"type": "string", "format": "date-time"},
                },
            },
        },
    },
)
EXPORT_TEST = schema(
    "ExportTest",
    {
        "type": "object",
        "required": ["format", "ok", "seconds", "bytes", "content_type"],
        "properties": {
            "format": {"type": "string", "enum": list(EXPORT_FORMATS)},
            "ok": {"type": "boolean"},
            "seconds": {"type": "number", "minimum": 0},
            "bytes": {"type": "integer", "minimum": 1},
            "content_type": {"type": "string"},
            "offered": {
                "type": "boolean",
                "description": "Offered by this deployment (ENABLE_*_EXPORT, API_EXPORT_FORMATS)",
            },
        },
    },
)
SMOKE_TEST = schema(
    "SmokeTest",
    {
        "type": "object",
        "required": ["status", "seconds", "templates"],
        "properties": {
            "status": {"type": "string", "enum": ["pass", "fail"]},
            "seconds": {"type": "number", "minimum": 0},
            "templates": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "status", "seconds", "failed_widgets"],
                    "properties": {
                        "id": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "string", "enum": ["pass", "fail"]},
                        "seconds": {"type": "number", "minimum": 0},
                        "widgets": {"type": "integer", "minimum": 0},
                        "failed_widgets": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "id": {"type": "string"},
                                    "message": {"type": "string"},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
)


def _json(description: str, ref: dict[str, str]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref}}}


document(
    "/api/health/datasources",
    "get",
    {
        "summary": "Each data source up or down with its latency (open, like /health/datasources)",
        "operationId": "datasourcesHealth",
        "tags": ["troubleshooting"],
        "security": [],
        "responses": {"200": _json("Always 200; a down source is reported", DATASOURCES_HEALTH)},
    },
)
document(
    "/api/reports/performance/{id}",
    "get",
    {
        "summary": "Recent generation times (p50/p95), per-widget time, rows, cache hits, last error",
        "operationId": "reportPerformance",
        "tags": ["troubleshooting"],
        "parameters": [
            {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
        ],
        "responses": {
            "200": _json("The report's recent timings", REPORT_PERFORMANCE),
            "401": ERROR,
            "403": ERROR,
            "404": ERROR,
        },
    },
)
document(
    "/api/export/test",
    "post",
    {
        "summary": "Render a built-in sample in one export format and report time and size",
        "operationId": "exportTest",
        "tags": ["troubleshooting"],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["format"],
                        "properties": {
                            "format": {"type": "string", "enum": list(EXPORT_FORMATS)},
                            "data": {"type": "string", "enum": list(SAMPLE_DATA)},
                        },
                    }
                }
            },
        },
        "responses": {
            "200": _json("The sample rendered", EXPORT_TEST),
            "400": ERROR,
            "401": ERROR,
            "403": ERROR,
            "503": ERROR,
        },
    },
)
document(
    "/api/reports/test",
    "post",
    {
        "summary": (
            "Blue-green smoke test: generate every built-in template, pass/fail per template "
            f"(open; one run per {REUSE_SECONDS:g} s per process)"
        ),
        "operationId": "reportsSmokeTest",
        "tags": ["troubleshooting"],
        "security": [],
        "responses": {
            "200": _json("Every template passed", SMOKE_TEST),
            "503": _json("At least one template failed", SMOKE_TEST),
        },
    },
)
