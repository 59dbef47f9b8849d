"""/api/schedules: scheduled reports (engine/schedule_service/ does the checks and the work).

    GET    /api/schedules                       the schedules the caller may see (paginated)
    POST   /api/schedules                       create (201); needs `schedule` on the report
    POST   /api/schedules/preview               the next run times of a draft, without saving
    GET    /api/schedules/<id>                  one schedule, with its next 5 run times
    PUT    /api/schedules/<id>                  replace (fields left out take their defaults,
                                                except webhook secrets, which are kept per URL)
    PATCH  /api/schedules/<id>                  change some fields
    DELETE /api/schedules/<id>                  delete with its run history (204)
    POST   /api/schedules/<id>/run              run now (202); a manual run still waiting is reused
    POST   /api/schedules/<id>/pause            pause
    POST   /api/schedules/<id>/resume           resume from now on (missed runs are not sent)
    GET    /api/schedules/<id>/runs             run history, newest first, with per-recipient delivery
    GET    /api/schedules/runs/<run>/files/<n>  a run's file (the links in e-mails and webhooks);
                                                410 once deleted after the 7-day retention

Input fields, validation and permissions: see engine/schedule_service/. Errors: 400 with the
field first in the message ("recipients.email[0]: 'x' is not an e-mail address"), 403 without the
permission, 404 for a schedule the caller may not see. Webhook secrets are never returned.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify, request, send_file

from api import ApiError, bp, document, json_body, page_args, paginated, principal, schema
from engine import schedule_service as svc_schedules
from engine import services
from engine.report_runner import PERIODS
from engine.schedule_service import FieldError, Ops, ScheduleNotFound
from engine.schedules import ScheduleError
from settings import EXPORT_FORMATS


def _ops() -> Ops:
    from workers import host

    scheduler_host = host(current_app)
    return Ops(
        services.current(),
        principal(),
        request.remote_addr,
        kick=scheduler_host.kick if scheduler_host is not None else None,
    )


def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except FieldError as exc:
        raise ApiError(400, "bad_request", exc.user_message) from None
    except ScheduleNotFound as exc:
        raise ApiError(404, "not_found", exc.user_message) from None
    except ScheduleError as exc:
        raise ApiError(400, "bad_request", exc.user_message) from None


@bp.get("/schedules")
def schedules_list() -> Response:
    page, per_page = page_args()
    items, total = _call(_ops().list, page, per_page)
    return jsonify(paginated(items, total, page, per_page))


@bp.post("/schedules")
def schedules_create() -> tuple[Response, int]:
    return jsonify(_call(_ops().create, json_body())), 201


@bp.post("/schedules/preview")
def schedules_preview() -> Response:
    body = json_body()
    n = body.pop("count", 5)
    if not isinstance(n, int) or not 1 <= n <= 50:
        raise ApiError(400, "bad_request", f"count: {n!r}: expected 1 to 50")
    return jsonify(_call(svc_schedules.preview, services.current(), body, n))


@bp.get("/schedules/<int:schedule_id>")
def schedules_get(schedule_id: int) -> Response:
    return jsonify(_call(_ops().get, schedule_id))


@bp.put("/schedules/<int:schedule_id>")
def schedules_replace(schedule_id: int) -> Response:
    return jsonify(_call(_ops().update, schedule_id, json_body(), partial=False))


@bp.patch("/schedules/<int:schedule_id>")
def schedules_patch(schedule_id: int) -> Response:
    return jsonify(_call(_ops().update, schedule_id, json_body(), partial=True))


@bp.delete("/schedules/<int:schedule_id>")
def schedules_delete(schedule_id: int) -> tuple[str, int]:
    _call(_ops().delete, schedule_id)
    return "", 204


@bp.post("/schedules/<int:schedule_id>/run")
def schedules_run(schedule_id: int) -> tuple[Response, int]:
    return jsonify(_call(_ops().run, schedule_id)), 202


@bp.post("/schedules/<int:schedule_id>/pause")
def schedules_pause(schedule_id: int) -> Response:
    return jsonify(_call(_ops().pause, schedule_id))


@bp.post("/schedules/<int:schedule_id>/resume")
def schedules_resume(schedule_id: int) -> Response:
    return jsonify(_call(_ops().resume, schedule_id))


@bp.get("/schedules/<int:schedule_id>/runs")
def schedules_runs(schedule_id: int) -> Response:
    page, per_page = page_args()
    items, total = _call(_ops().runs, schedule_id, page, per_page)
    return jsonify(paginated(items, total, page, per_page))


@bp.get("/schedules/runs/<int:run_id>/files/<path:name>")
def schedules_run_file(run_id: int, name: str) -> Response:
    try:
        path, ctype = svc_schedules.download(services.current(), principal(), run_id, name)
    except svc_schedules.RunFilePurged as exc:
        raise ApiError(410, "gone", exc.user_message) from None
    except LookupError:
        raise ApiError(404, "not_found", f"No file {name!r} in run {run_id}.") from None
    return send_file(path, mimetype=ctype, as_attachment=True, download_name=path.name)


# ---------------------------------------------------------------------------------------------
# OpenAPI


def _ref_error() -> dict[str, Any]:
    return {"$ref": "#/components/responses/Error"}


ERRORS = {
    "400": _ref_error(),
    "401": _ref_error(),
    "403": _ref_error(),
    "404": _ref_error(),
}
WEBHOOK = {
    "oneOf": [
        {"type": "string", "format": "uri"},
        {
            "type": "object",
            "required": ["url"],
            "properties": {
                "url": {"type": "string", "format": "uri"},
                "secret": {
                    "type": "string",
                    "description": "HMAC-SHA256 signing key; answered as [redacted]",
                },
            },
        },
    ]
}
RECIPIENTS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "email": {"type": "array", "items": {"type": "string", "format": "email"}},
        "webhook": {"type": "array", "items": WEBHOOK},
        "storage": {
            "type": "array",
            "items": {"type": "string", "description": "folder under the root, or s3://"},
        },
        "portal": {"type": "array", "items": {"type": "string"}},
    },
}
INPUT_PROPERTIES: dict[str, Any] = {
    "name": {"type": "string", "maxLength": 120},
    "report": {"type": "string", "description": "template key or saved dashboard (slug or id)"},
    "frequency": {"type": "string", "enum": ["daily", "weekly", "monthly", "cron"]},
    "time": {"type": "string", "pattern": "^\\d{1,2}:\\d{2}$", "example": "09:00"},
    "weekday": {"type": "integer", "minimum": 0, "maximum": 6, "description": "0 = Monday"},
    "day": {"type": "integer", "minimum": -1, "maximum": 28, "description": "-1 = last day"},
    "cron": {"type": "string", "example": "0 9 * * 1"},
    "timezone": {"type": "string", "example": "Europe/Berlin"},
    "starts_at": {"type": "string", "nullable": True, "description": "ISO date or date-time"},
    "ends_at": {"type": "string", "nullable": True, "description": "ISO date or date-time"},
    "period": {"type": "string", "enum": list(PERIODS)},
    "filters": {"type": "object", "additionalProperties": True},
    "formats": {"type": "array", "items": {"type": "string", "enum": list(EXPORT_FORMATS)}},
    "recipients": RECIPIENTS,
    "only_if_changed": {"type": "boolean"},
    "paused": {"type": "boolean"},
}
INPUT = schema(
    "ScheduleInput",
    {"type": "object", "additionalProperties": False, "properties": INPUT_PROPERTIES},
)
DELIVERY = schema(
    "Delivery",
    {
        "type": "object",
        "properties": {
            "channel": {"type": "string", "enum": ["email", "webhook", "storage", "portal"]},
            "recipient": {"type": "string"},
            "state": {"type": "string", "enum": ["pending", "sent", "failed", "skipped"]},
            "attempts": {"type": "integer"},
            "error": {"type": "string", "nullable": True},
            "started_at": {"type": "string", "format": "date-time", "nullable": True},
            "finished_at": {"type": "string", "format": "date-time", "nullable": True},
            "detail": {"type": "object"},
        },
    },
)
RUN = schema(
    "ScheduleRun",
    {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "schedule_id": {"type": "integer"},
            "due_at": {"type": "string", "format": "date-time"},
            "trigger": {"type": "string", "enum": ["schedule", "manual"]},
            "state": {
                "type": "string",
                "enum": ["queued", "running", "succeeded", "failed", "skipped"],
            },
            "attempts": {"type": "integer"},
            "error": {"type": "string", "nullable": True},
            "started_at": {"type": "string", "format": "date-time", "nullable": True},
            "finished_at": {"type": "string", "format": "date-time", "nullable": True},
            "render_ms": {"type": "integer", "nullable": True},
            "duration_ms": {"type": "integer", "nullable": True},
            "files": {"type": "array", "items": {"type": "object"}},
            "deliveries": {"type": "array", "items": DELIVERY},
        },
    },
)
NULLABLE_IN_OUTPUT = ("time", "weekday", "day", "cron", "starts_at", "ends_at")
OUTPUT_PROPERTIES = {
    k: ({**v, "nullable": True} if k in NULLABLE_IN_OUTPUT else v)
    for k, v in INPUT_PROPERTIES.items()
}
SCHEDULE = schema(
    "Schedule",
    {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            **OUTPUT_PROPERTIES,
            "description": {"type": "string", "example": "Every Monday at 09:00 (Europe/Berlin)"},
            "period_resolved": {"type": "string"},
            "next_run_at": {"type": "string", "format": "date-time", "nullable": True},
            "next_runs": {"type": "array", "items": {"type": "string"}},
            "owner_id": {"type": "integer", "nullable": True},
            "owner": {"type": "string", "nullable": True},
            "created_at": {"type": "string", "format": "date-time"},
            "last_run": {
                "type": "object",
                "nullable": True,
                "description": "The latest run (a ScheduleRun without deliveries), if any",
            },
        },
    },
)
PREVIEW = schema(
    "SchedulePreview",
    {
        "type": "object",
        "properties": {
            "cron": {"type": "string"},
            "description": {"type": "string"},
            "next_runs": {"type": "array", "items": {"type": "string"}},
            "next_run_at": {"type": "array", "items": {"type": "string", "format": "date-time"}},
            "first_window": {"type": "string", "nullable": True},
        },
    },
)


def _page(name: str, item: dict[str, str]) -> dict[str, str]:
    return schema(
        name,
        {
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": item},
                "page": {"type": "integer"},
                "per_page": {"type": "integer"},
                "total": {"type": "integer"},
                "pages": {"type": "integer"},
            },
        },
    )


def _json(description: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": body}}}


ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
PAGE = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
    {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 20}},
]
BODY = {"required": True, "content": {"application/json": {"schema": INPUT}}}
TAGS = ["schedules"]

document(
    "/api/schedules",
    "get",
    {
        "summary": "The schedules the caller may see",
        "operationId": "listSchedules",
        "tags": TAGS,
        "parameters": PAGE,
        "responses": {
            "200": _json("A page of schedules", _page("ScheduleList", SCHEDULE)),
            **ERRORS,
        },
    },
)
document(
    "/api/schedules",
    "post",
    {
        "summary": "Create a schedule (needs the schedule permission on the report)",
        "operationId": "createSchedule",
        "tags": TAGS,
        "requestBody": BODY,
        "responses": {"201": _json("The new schedule", SCHEDULE), **ERRORS},
    },
)
document(
    "/api/schedules/preview",
    "post",
    {
        "summary": "The next run times of a draft schedule (nothing is saved)",
        "operationId": "previewSchedule",
        "tags": TAGS,
        "requestBody": BODY,
        "responses": {"200": _json("Preview", PREVIEW), **ERRORS},
    },
)
for method, summary, op in (
    ("get", "One schedule with its next 5 run times", "getSchedule"),
    ("put", "Replace a schedule", "replaceSchedule"),
    ("patch", "Change some fields of a schedule", "updateSchedule"),
):
    document(
        "/api/schedules/{id}",
        method,
        {
            "summary": summary,
            "operationId": op,
            "tags": TAGS,
            "parameters": [ID],
            **({"requestBody": BODY} if method != "get" else {}),
            "responses": {"200": _json("The schedule", SCHEDULE), **ERRORS},
        },
    )
document(
    "/api/schedules/{id}",
    "delete",
    {
        "summary": "Delete a schedule and its run history",
        "operationId": "deleteSchedule",
        "tags": TAGS,
        "parameters": [ID],
        "responses": {"204": {"description": "Deleted"}, **ERRORS},
    },
)
document(
    "/api/schedules/{id}/run",
    "post",
    {
        "summary": "Run now: queue a manual run (a manual run still waiting is returned instead)",
        "operationId": "runSchedule",
        "tags": TAGS,
        "parameters": [ID],
        "responses": {"202": _json("The queued run", RUN), **ERRORS},
    },
)
for action, summary in (
    ("pause", "Pause a schedule"),
    ("resume", "Resume a schedule from now on (runs missed while paused are not sent)"),
):
    document(
        f"/api/schedules/{{id}}/{action}",
        "post",
        {
            "summary": summary,
            "operationId": f"{action}Schedule",
            "tags": TAGS,
            "parameters": [ID],
            "responses": {"200": _json("The schedule", SCHEDULE), **ERRORS},
        },
    )
document(
    "/api/schedules/{id}/runs",
    "get",
    {
        "summary": "Run history, newest first, with the delivery status per recipient",
        "operationId": "listScheduleRuns",
        "tags": TAGS,
        "parameters": [ID, *PAGE],
        "responses": {"200": _json("A page of runs", _page("ScheduleRunList", RUN)), **ERRORS},
    },
)
document(
    "/api/schedules/runs/{run_id}/files/{name}",
    "get",
    {
        "summary": "Download a file of a run (schedule readers and portal recipients)",
        "operationId": "downloadScheduleRunFile",
        "tags": TAGS,
        "parameters": [
            {"name": "run_id", "in": "path", "required": True, "schema": {"type": "integer"}},
            {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
        ],
        "responses": {
            "200": {
                "description": "The file",
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            },
            **ERRORS,
            "410": _ref_error(),  # deleted after the 7-day file retention
        },
    },
)
