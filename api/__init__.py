"""REST API under /api: bearer tokens or a session, JSON errors, pagination, an OpenAPI 3 document.

Route modules (api/dashboards.py, api/export.py, api/schedules.py, ...) add their routes to `bp`
and describe them with `document(path, method, operation)`; `init_app` registers the blueprint.
Who is calling (bearer token or session) is resolved before any route runs, in the one
authentication pipeline (security/auth.py), which also refuses a session request that a browser
says comes from another site's page (403, security/csrf.py); `principal()` returns the caller.
"""

from __future__ import annotations

from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException

from engine.reports import ReportNotFound
from engine.request import RequestError
from security import auth
from security.policy import AccessDenied
from security.users import Principal

bp = Blueprint("api", __name__, url_prefix="/api")
PATHS: dict[str, dict[str, Any]] = {}
SCHEMAS: dict[str, Any] = {}
PUBLIC_PATHS = auth.PUBLIC_PATHS
M = TypeVar("M", bound=BaseModel)
MAX_PAGE = 1_000_000  # beyond any real list; larger offsets overflow the database's integers


class ApiError(Exception):
    """An error answered as JSON {"error": code, "message": text} with an HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error(status: int, code: str, message: str) -> Response:
    response = jsonify(error=code, message=message)
    response.status_code = status
    return response


def document(path: str, method: str, operation: dict[str, Any]) -> None:
    """Add one operation to the OpenAPI document (`path` in OpenAPI form: /api/x/{id})."""
    PATHS.setdefault(path, {})[method.lower()] = operation


def schema(name: str, definition: dict[str, Any]) -> dict[str, str]:
    """Register a component schema; returns its $ref."""
    SCHEMAS[name] = definition
    return {"$ref": f"#/components/schemas/{name}"}


def principal() -> Principal:
    """Who is calling: resolved by security/auth.py before any non-public route runs."""
    found = auth.caller().principal
    if found is None:  # a public route asked: never reached by the routes that call this
        raise ApiError(
            401, "unauthorized", "Send 'Authorization: Bearer <token>' or sign in first."
        )
    return found


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> Response:
    return error(exc.status, exc.code, exc.message)


@bp.errorhandler(RequestError)
def _bad_request(exc: RequestError) -> Response:
    return error(400, "bad_request", exc.user_message)


@bp.errorhandler(ReportNotFound)
def _no_report(exc: ReportNotFound) -> Response:
    return error(404, "not_found", exc.user_message)


@bp.errorhandler(AccessDenied)
def _denied(exc: AccessDenied) -> Response:
    return error(403, "forbidden", exc.user_message)


@bp.errorhandler(ValidationError)
def _invalid(exc: ValidationError) -> Response:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    if first["type"] == "extra_forbidden":
        return error(400, "bad_request", f"{where}: unknown field (not accepted here)")
    return error(400, "bad_request", f"{where}: {first['msg']}")


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException) -> Response:
    return error(
        exc.code or 500, (exc.name or "error").lower().replace(" ", "_"), exc.description or ""
    )


METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@bp.route("/<path:_unknown>", methods=list(METHODS))
def _no_such_route(_unknown: str) -> Response:
    # Without this, Dash's catch-all page route would answer unknown /api/ paths with HTML 200.
    allowed = allowed_methods(request.path)
    if allowed:
        response = error(
            405,
            "method_not_allowed",
            f"{request.method} is not allowed on {request.path}; allowed: {', '.join(allowed)}.",
        )
        response.headers["Allow"] = ", ".join(allowed)
        return response
    return error(404, "not_found", f"No API route {request.method} {request.path}.")


def allowed_methods(path: str) -> list[str]:
    """The methods an API route (not this catch-all, not Dash's pages) answers on `path`."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in METHODS:
        try:
            endpoint, _ = adapter.match(path, method=method)
        except HTTPException:
            continue
        if endpoint.startswith("api.") and endpoint != "api._no_such_route":
            allowed.append(method)
    return allowed


def json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(
            400, "bad_request", "Send a JSON object body with Content-Type: application/json."
        )
    return body


def body_of(model: type[M]) -> M:
    """The JSON object body validated by `model` (ValidationError -> 400 naming the field)."""
    return model.model_validate(json_body())


def page_args(max_per_page: int = 100) -> tuple[int, int]:
    """`?page=&per_page=` as integers (page from 1), or a 400 naming the bad one."""
    out = []
    for name, default in (("page", 1), ("per_page", 20)):
        raw = request.args.get(name, str(default))
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE:
            raise ApiError(
                400, "bad_request", f"{name}={raw!r}: expected a whole number from 1 to {MAX_PAGE}"
            )
        out.append(int(raw))
    return out[0], min(out[1], max_per_page)


def paginated(items: list[Any], total: int, page: int, per_page: int) -> dict[str, Any]:
    return {
        "items": items,
        "page": page,
        "per_page": per_page,
        "total": total,
        "pages": -(-total // per_page),
    }


def init_app(server: Flask) -> None:
    """Import the route modules (they attach to `bp`) and register the blueprint."""
    # api_tokens, not tokens: a submodule named `tokens` would shadow security.tokens here.
    from api import (  # noqa: F401  (each module attaches its routes to bp)
        api_tokens,  # /api/tokens: the caller's API tokens
        dashboards,  # /api/dashboards, embeds
        export,  # /api/export: export jobs
        flags,  # feature flags: turned-off routes answer 404 naming the variable
        openapi,  # serves /api/openapi.json
        report_configs,  # /api/reports: saved reports (create, update, delete) and generate
        reports,  # /api/reports, preview
        schedules,  # /api/schedules: scheduled reports
        templates,  # /api/templates
        troubleshooting,  # the seed's runbook: health, performance, export and smoke tests
        widget_data,  # /api/reports/widget-data: the seed's dashboard widget
    )

    server.register_blueprint(bp)
