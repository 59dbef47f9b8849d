"""/api/export: create an export job, follow it, cancel it, download its file (exports/jobs/ does the work).

    POST   /api/export/<fmt>            {"report_id", "period", "filters"?, "widget_id"?}  -> 202
    GET    /api/export/<id>             status and progress
    POST   /api/export/<id>/cancel      cancel a pending or running export
    GET    /api/export/<id>/download    the file (owner or admin, with export access to the report)

`<fmt>` is pdf, excel, csv, json, xml, png, svg, jpg (as API_EXPORT_FORMATS allows) or image
(IMAGE_EXPORT_FORMAT). `?wait=<seconds>` (or `wait=1`, meaning up to 30 s) answers once the job
finished if it does within that time: 200 with the final status, else 202 as usual.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, send_file, url_for

from api import ApiError, bp, document, json_body, principal, schema
from engine import services
from engine.reports import ReportNotFound
from exports import jobs
from exports.jobs import ExportRequestError
from settings import EXPORT_FORMATS

MAX_WAIT_SECONDS = 30.0
FORMAT_NAMES = [*EXPORT_FORMATS, "image"]


def _download_url(export_id: str) -> str:
    return url_for("api.export_download", export_id=export_id)


def _view(row: Any) -> dict[str, Any]:
    return jobs.as_dict(row, _download_url(row.id))


def _raise_api(exc: ExportRequestError) -> None:
    raise ApiError(exc.status, exc.code, exc.user_message) from exc


def _wait_seconds() -> float:
    raw = request.args.get("wait", "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return 0.0
    if raw in ("1", "true", "yes"):
        return MAX_WAIT_SECONDS
    try:
        return max(0.0, min(float(raw), MAX_WAIT_SECONDS))
    except ValueError:
        raise ApiError(400, "bad_request", f"wait={raw!r}: expected seconds or 1") from None


@bp.post("/export/<fmt>")
def export_create(fmt: str) -> tuple[Response, int]:
    svc = services.current()
    body = json_body()
    for name in ("filters",):
        if body.get(name) is not None and not isinstance(body[name], dict):
            raise ApiError(400, "bad_request", f"{name}: expected a JSON object")
    for name in ("report_id", "period", "widget_id", "start", "end"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise ApiError(400, "bad_request", f"{name}: expected a string")
    if not body.get("report_id"):
        raise ApiError(400, "bad_request", "report_id: required (a template key or dashboard)")
    wait_for = _wait_seconds()
    try:
        row = jobs.create_export(
            svc,
            principal(),
            body["report_id"],
            fmt,
            body.get("period") or "30d",
            body.get("filters") or {},
            body.get("widget_id"),
            start=body.get("start"),
            end=body.get("end"),
            allowed_formats=svc.settings.api_export_formats,
            cap="refuse",
            ip=request.remote_addr,
        )
    except ExportRequestError as exc:
        _raise_api(exc)
    except ReportNotFound as exc:
        raise ApiError(404, "not_found", exc.user_message) from None
    if wait_for:
        row = jobs.wait(svc, row.id, wait_for) or row
    finished = row.status in jobs.FINISHED
    response = jsonify(_view(row))
    response.headers["Location"] = url_for("api.export_status", export_id=row.id)
    return response, 200 if finished else 202


@bp.get("/export/<export_id>")
def export_status(export_id: str) -> Response:
    svc = services.current()
    try:
        row = jobs.get_for(svc, principal(), export_id)
    except ExportRequestError as exc:
        _raise_api(exc)
    return jsonify(_view(row))


@bp.post("/export/<export_id>/cancel")
def export_cancel(export_id: str) -> Response:
    svc = services.current()
    try:
        row = jobs.cancel_export(svc, principal(), export_id, ip=request.remote_addr)
    except ExportRequestError as exc:
        _raise_api(exc)
    return jsonify(_view(row))


@bp.get("/export/<export_id>/download")
def export_download(export_id: str) -> Response:
    svc = services.current()
    try:
        path, name, ctype = jobs.open_download(svc, principal(), export_id, ip=request.remote_addr)
    except ExportRequestError as exc:
        _raise_api(exc)
    response = send_file(
        path, mimetype=ctype, as_attachment=True, download_name=name, conditional=True, max_age=0
    )
    response.headers["Content-Type"] = ctype  # send_file would add a second charset to text/csv
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# -- OpenAPI -------------------------------------------------------------------------------------------

_REQUEST = schema(
    "ExportRequest",
    {
        "type": "object",
        "required": ["report_id"],
        "properties": {
            "report_id": {
                "type": "string",
                "description": "A template key (revenue_overview), a dashboard slug or a numeric id",
            },
            "period": {"type": "string", "enum": ["7d", "30d", "90d", "custom"], "default": "30d"},
            "start": {"type": "string", "format": "date", "description": "period=custom only"},
            "end": {"type": "string", "format": "date", "description": "period=custom only"},
            "filters": {
                "type": "object",
                "additionalProperties": True,
                "description": "Metric parameters set on every widget that accepts them; "
                "a filter no widget accepts is a 400",
            },
            "widget_id": {"type": "string", "description": "Export one widget only"},
        },
    },
)
_TRUNCATION = schema(
    "ExportTruncation",
    {
        "type": "object",
        "properties": {
            "widget_id": {"type": "string"},
            "title": {"type": "string"},
            "kept": {"type": "integer"},
            "total": {"type": "integer"},
            "note": {"type": "string"},
        },
    },
)
_EXPORT = schema(
    "Export",
    {
        "type": "object",
        "required": ["id", "status", "progress", "download_url"],
        "properties": {
            "id": {"type": "string"},
            "status": {"type": "string", "enum": list(jobs.STATES)},
            "progress": {"type": "integer", "minimum": 0, "maximum": 100},
            "report_id": {"type": "string"},
            "format": {"type": "string", "enum": list(EXPORT_FORMATS)},
            "widget_id": {"type": "string", "nullable": True},
            "period": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "start": {"type": "string", "format": "date"},
                    "end": {"type": "string", "format": "date"},
                },
            },
            "filters": {"type": "object", "additionalProperties": True},
            "filename": {"type": "string", "nullable": True},
            "content_type": {"type": "string"},
            "row_count": {
                "type": "integer",
                "nullable": True,
                "description": "Table rows in the file",
            },
            "truncated": {
                "type": "boolean",
                "description": "A table was cut at REPORT_MAX_ROWS (see truncations)",
            },
            "truncations": {"type": "array", "items": _TRUNCATION},
            "message": {"type": "string", "nullable": True},
            "error": {"type": "string", "nullable": True, "description": "A safe message"},
            "created_at": {"type": "string", "format": "date-time"},
            "started_at": {"type": "string", "format": "date-time", "nullable": True},
            "finished_at": {"type": "string", "format": "date-time", "nullable": True},
            "download_url": {
                "type": "string",
                "nullable": True,
                "description": "Set once the export succeeded",
            },
        },
    },
)
_ERROR = {"$ref": "#/components/schemas/Error"}
_ERRORS = {
    str(code): {"description": text, "content": {"application/json": {"schema": _ERROR}}}
    for code, text in (
        (400, "Bad format, period, filters or widget"),
        (401, "Not signed in"),
        (403, "No export access"),
        (404, "No such report or export"),
    )
}
_ID = {"name": "export_id", "in": "path", "required": True, "schema": {"type": "string"}}
_JSON_EXPORT = {"application/json": {"schema": _EXPORT}}

document(
    "/api/export/{fmt}",
    "post",
    {
        "summary": "Create an export of a report, a dashboard or one widget",
        "tags": ["exports"],
        "parameters": [
            {
                "name": "fmt",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "enum": FORMAT_NAMES},
                "description": "image = IMAGE_EXPORT_FORMAT; only API_EXPORT_FORMATS are offered",
            },
            {
                "name": "wait",
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": "Seconds to wait for the result (1 = up to 30 s)",
            },
        ],
        "requestBody": {"required": True, "content": {"application/json": {"schema": _REQUEST}}},
        "responses": {
            "202": {"description": "Queued or running", "content": _JSON_EXPORT},
            "200": {"description": "Finished within ?wait", "content": _JSON_EXPORT},
            **_ERRORS,
        },
    },
)
document(
    "/api/export/{export_id}",
    "get",
    {
        "summary": "Status and progress of an export (owner or admin)",
        "tags": ["exports"],
        "parameters": [_ID],
        "responses": {"200": {"description": "The export", "content": _JSON_EXPORT}, **_ERRORS},
    },
)
document(
    "/api/export/{export_id}/cancel",
    "post",
    {
        "summary": "Cancel a pending or running export",
        "tags": ["exports"],
        "parameters": [_ID],
        "responses": {"200": {"description": "The export", "content": _JSON_EXPORT}, **_ERRORS},
    },
)
document(
    "/api/export/{export_id}/download",
    "get",
    {
        "summary": "Download the file of a finished export",
        "description": "Needs export access to the report now, and ownership of the export "
        "(or the admin role). Content-Disposition carries the file name.",
        "tags": ["exports"],
        "parameters": [_ID],
        "responses": {
            "200": {
                "description": "The file",
                "headers": {"Content-Disposition": {"schema": {"type": "string"}}},
                "content": {
                    ctype: {"schema": {"type": "string", "format": "binary"}}
                    for ctype in (
                        "application/pdf",
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        "text/csv",
                        "application/json",
                        "application/xml",
                        "image/png",
                        "image/svg+xml",
                        "image/jpeg",
                    )
                },
            },
            "409": {
                "description": "Not finished yet",
                "content": {"application/json": {"schema": _ERROR}},
            },
            "410": {
                "description": "Failed, cancelled or purged",
                "content": {"application/json": {"schema": _ERROR}},
            },
            **_ERRORS,
        },
    },
)
