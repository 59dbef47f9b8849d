"""/api/templates: the built-in dashboard templates (engine/templates/*.yaml) the caller may read."""

from __future__ import annotations

from flask import Response, jsonify

from api import ApiError, bp, document, principal
from api.reports import (
    ERRORS,
    PAGE_PARAMS,
    REPORT,
    REPORT_SUMMARY,
    check,
    id_param,
    list_schema,
    ok,
    page_of,
    readable,
    summary,
)
from engine.reports import FoundReport
from engine.templates import builtin_dashboards
from security.policy import Resource


@bp.get("/templates")
def list_templates() -> Response:
    found = [f for f in readable(principal()) if f.resource.kind == "template"]
    return page_of([summary(f) for f in found])


@bp.get("/templates/<key>")
def get_template(key: str) -> Response:
    spec = builtin_dashboards().get(key)
    if spec is None:
        raise ApiError(404, "not_found", f"No template named {key!r}.")
    found = FoundReport(spec, Resource.template(key))
    check(principal(), "read", found.resource)
    return jsonify({**summary(found), "spec": spec.model_dump(mode="json")})


document(
    "/api/templates",
    "get",
    {
        "summary": "The built-in templates the caller may read",
        "operationId": "listTemplates",
        "tags": ["templates"],
        "parameters": PAGE_PARAMS,
        "responses": {
            **ok("A page of templates", list_schema("TemplateList", REPORT_SUMMARY)),
            **ERRORS,
        },
    },
)
document(
    "/api/templates/{key}",
    "get",
    {
        "summary": "One template with its spec",
        "operationId": "getTemplate",
        "tags": ["templates"],
        "parameters": [id_param("key", "Template key")],
        "responses": {**ok("The template", REPORT), **ERRORS},
    },
)
