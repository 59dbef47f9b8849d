"""/api/export: export a report and get the file back, or follow it as a job (exports/jobs/ does the work).

    POST   /api/export/<fmt>            {"report_id", "period", "filters"?, "widget_id"?}  -> the file
    GET    /api/export/<id>             status and progress
    POST   /api/export/<id>/cancel      cancel a pending or running export
    GET    /api/export/<id>/download    the file (owner or admin, with export access to the report)

`<fmt>` is pdf, excel, csv, json, xml, png, svg, jpg (as API_EXPORT_FORMATS allows) or image
(IMAGE_EXPORT_FORMAT). By default the answer is the file itself (Content-Type, Content-Disposition
with its name), as the seed's widget expects (`exportReport` saves the response as a blob), once
the job finished within REPORT_TIMEOUT_SECONDS; past that, 504 with the job id to follow (the job
goes on, and never leaves a half-written file). The seed's widget names the report `widget_id`:
without a `report_id`, `widget_id` is the report; with one, it picks one widget of it. A body
`format` must agree with the path.

A client that sends `Prefer: respond-async` (or asks `?wait=<seconds>`, 1 meaning up to 30 s) gets
the job instead: 202 with its JSON and `Location` (its status URL), or 200 with the final status if
it finished within `?wait`. A download asked for before the file is ready answers 202 with
Retry-After (409 for a failed or cancelled job), never 200.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, send_file, url_for

from api import ApiError, bp, document, json_body, principal, schema
from engine import services
from engine.periods import PERIODS
from engine.reports import ReportNotFound
from exports import jobs
from exports.jobs import ExportNotReady, ExportRequestError
from settings import EXPORT_FORMATS
from store.models import Export

MAX_WAIT_SECONDS = 30.0
FORMAT_NAMES = [*EXPORT_FORMATS, "image"]
BODY_FIELDS = ("report_id", "widget_id", "period", "start", "end", "filters", "format")


def _download_url(export_id: str) -> str:
    return url_for("api.export_download", export_id=export_id)


def _status_url(export_id: str) -> str:
    return url_for("api.export_status", export_id=export_id)


def _view(row: Any) -> dict[str, Any]:
    return jobs.as_dict(row, _download_url(row.id))


def _raise_api(exc: ExportRequestError) -> None:
    raise ApiError(exc.status, exc.code, exc.user_message) from exc


def _wait_seconds() -> float | None:
    """`?wait=` in seconds (None when absent: the client did not ask for the job)."""
    raw = request.args.get("wait")
    if raw is None:
        return None
    raw = raw.strip().lower()
    if raw in ("", "0", "false", "no"):
        return 0.0
    if raw in ("1", "true", "yes"):
        return MAX_WAIT_SECONDS
    try:
        return max(0.0, min(float(raw), MAX_WAIT_SECONDS))
    except ValueError:
        raise ApiError(400, "bad_request", f"wait={raw!r}: expected seconds or 1") from None


def prefers_async() -> bool:
    """RFC 7240 `Prefer: respond-async` (among other preferences, case-insensitive)."""
    prefer = ",".join(request.headers.getlist("Prefer"))
    return any(p.split(";")[0].split("=")[0].strip().lower() == "respond-async"
               for p in prefer.split(","))  # fmt: skip


def _body(fmt: str) -> dict[str, Any]:
    """The request body, checked: known fields of the right types, the report named, and a body
    `format` that agrees with the path. The seed's `widget_id` alone names the report."""
    body = json_body()
    unknown = sorted(set(body) - set(BODY_FIELDS))
    if unknown:
        raise ApiError(400, "bad_request", f"{unknown[0]}: unknown field; send {', '.join(BODY_FIELDS)}")  # fmt: skip
    if body.get("filters") is not None and not isinstance(body["filters"], dict):
        raise ApiError(400, "bad_request", "filters: expected a JSON object")
    for name in ("report_id", "period", "widget_id", "start", "end", "format"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise ApiError(400, "bad_request", f"{name}: expected a string")
    if not body.get("report_id") and body.get("widget_id"):
        body = {**body, "report_id": body["widget_id"], "widget_id": None}
    if not body.get("report_id"):
        raise ApiError(400, "bad_request", "report_id: required (a template key or dashboard)")
    if body.get("format") and body["format"].strip().lower() != fmt.strip().lower():
        raise ApiError(
            400, "bad_request", f"format={body['format']!r} contradicts the path /api/export/{fmt}"
        )
    return body


@bp.post("/export/<fmt>")
def export_create(fmt: str) -> tuple[Response, int] | Response:
    svc = services.current()
    body = _body(fmt)
    wait_for = _wait_seconds()
    as_job = prefers_async() or wait_for is not None
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
    if not as_job:
        timeout = float(svc.settings.report_timeout_seconds)
        return _file_or_error(jobs.wait(svc, row.id, timeout) or row, timeout)
    if wait_for:
        row = jobs.wait(svc, row.id, wait_for) or row
    finished = row.status in jobs.FINISHED
    response = jsonify(_view(row))
    response.headers["Location"] = _status_url(row.id)
    if prefers_async():
        response.headers["Preference-Applied"] = "respond-async"
    return response, 200 if finished else 202


def _job_error(row: Export, status: int, code: str, message: str) -> Response:
    """An error about a job that exists: the usual {error, message} plus the job to follow."""
    response = jsonify(
        error=code, message=message, export_id=row.id, status_url=_status_url(row.id)
    )
    response.status_code = status
    response.headers["Location"] = _status_url(row.id)
    return response


def _file_or_error(row: Export, timeout: float) -> Response:
    """The file of a finished export, or the error that says why there is none."""
    if row.status == jobs.SUCCEEDED:
        return export_download(row.id)
    if row.status in (jobs.PENDING, jobs.RUNNING) or jobs.timed_out(row):
        return _job_error(
            row,
            504,
            "export_timeout",
            f"The export did not finish within {timeout:g} s (REPORT_TIMEOUT_SECONDS). "
            + (row.error or f"It is still {row.status}: follow it at {_status_url(row.id)}."),
        )
    if row.status == jobs.CANCELLED:
        return _job_error(row, 409, "cancelled", "The export was cancelled.")
    generic = row.error in (None, jobs.GENERIC_ERROR)
    return _job_error(
        row, 500 if generic else 422, "export_failed", row.error or jobs.GENERIC_ERROR
    )


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
    except ExportNotReady as exc:
        row = jobs.get_for(svc, principal(), exc.export_id)
        response = jsonify({**_view(row), "message": exc.user_message})
        response.status_code = 202
        response.headers["Retry-After"] = str(ExportNotReady.RETRY_AFTER_SECONDS)
        response.headers["Location"] = _status_url(row.id)
        return response
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
        "properties": {
            "report_id": {
                "type": "string",
                "description": "A template key (revenue_overview), a dashboard slug or a numeric id",
            },
            "period": {"type": "string", "enum": list(PERIODS), "default": "30d"},
            "start": {"type": "string", "format": "date", "description": "period=custom only"},
            "end": {"type": "string", "format": "date", "description": "period=custom only"},
            "filters": {
                "type": "object",
                "additionalProperties": True,
                "description": "Metric parameters set on every widget that accepts them; "
                "a filter no widget accepts is a 400",
            },
            "widget_id": {
                "type": "string",
                "description": "With report_id: export this widget only. Without report_id (the "
                "seed's widget): the report",
            },
            "format": {"type": "string", "description": "If sent, the same as the path's format"},
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
_JOB_ERROR = schema(
    "ExportJobError",
    {
        "type": "object",
        "required": ["error", "message", "export_id", "status_url"],
        "properties": {
            "error": {"type": "string"},
            "message": {"type": "string"},
            "export_id": {"type": "string"},
            "status_url": {"type": "string"},
        },
    },
)
_FILE = {
    "description": "The file",
    "headers": {"Content-Disposition": {"schema": {"type": "string"}}},
    "content": {
        ctype: {"schema": {"type": "string", "format": "binary"}}
        for ctype in (
            "application/pdf",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "text/csv",
            "application/xml",
            "image/png",
            "image/svg+xml",
            "image/jpeg",
        )
    }
    | {"application/json": {"schema": {"type": "object"}}},
}


def _job_errors(*pairs: tuple[int, str]) -> dict[str, Any]:
    return {
        str(code): {"description": text, "content": {"application/json": {"schema": _JOB_ERROR}}}
        for code, text in pairs
    }


document(
    "/api/export/{fmt}",
    "post",
    {
        "summary": "Export a report, a dashboard or one widget: the file, or a job to follow",
        "description": "Answers the file once it is ready (within REPORT_TIMEOUT_SECONDS). With "
        "`Prefer: respond-async` or `?wait`, answers the job instead (202 with Location, or 200 "
        "with the finished job within ?wait).",
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
                "description": "Answer the job, after waiting up to this many seconds (1 = 30 s)",
            },
            {
                "name": "Prefer",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "example": "respond-async"},
                "description": "respond-async: answer 202 with the job at once",
            },
        ],
        "requestBody": {"required": True, "content": {"application/json": {"schema": _REQUEST}}},
        "responses": {
            "200": {
                **_FILE,
                "description": "The file (or, with ?wait, the finished job as JSON)",
            },
            "202": {
                "description": "Prefer: respond-async: queued or running",
                "content": _JSON_EXPORT,
            },
            **_ERRORS,
            **_job_errors(
                (409, "The export was cancelled meanwhile"),
                (422, "The export failed with a reason (e.g. no chart to draw)"),
                (500, "The export failed (logged)"),
                (504, "Not finished within REPORT_TIMEOUT_SECONDS: follow export_id"),
            ),
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
        "(or the admin role). Content-Disposition carries the file name. Before the file is "
        "ready: 202 with Retry-After, never 200.",
        "tags": ["exports"],
        "parameters": [_ID],
        "responses": {
            "200": _FILE,
            "202": {
                "description": "Not finished yet: the job, with Retry-After",
                "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                "content": _JSON_EXPORT,
            },
            "409": {
                "description": "Failed or cancelled: there will be no file",
                "content": {"application/json": {"schema": _ERROR}},
            },
            "410": {
                "description": "The file was purged (7 days) or the report deleted",
                "content": {"application/json": {"schema": _ERROR}},
            },
            **_ERRORS,
        },
    },
)
