"""/api/templates: built-in templates (engine/templates/*.yaml) and custom ones saved in the store.

Custom templates are made from a DashboardSpec body (`POST`) or by cloning any template the caller
may read (`POST /api/templates/{id}/clone`: a new key, titled "Copy of …"); they can be changed
(`PUT`) and deleted (`DELETE`) by whom the policy allows. Built-in templates answer 409 to a change
or a delete: they can only be cloned.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, url_for
from pydantic import BaseModel, ConfigDict, Field

from api import body_of, bp, document, json_body, principal, schema
from api.reports import (
    ERROR,
    ERRORS,
    PAGE_PARAMS,
    REPORT,
    REPORT_SUMMARY,
    check,
    id_param,
    list_schema,
    ok,
    page_of,
)
from api.specs import SPEC_BODY, raise_dashboard_error, spec_from_body
from engine import services
from engine.dashboards import DashboardError, Dashboards, TemplateInfo

ERRORS_409 = {**ERRORS, "409": ERROR}


class CloneRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)


def _dashboards() -> Dashboards:
    svc = services.current()
    return Dashboards(svc.store, audit_enabled=svc.settings.enable_audit_log)


def template_summary(info: TemplateInfo) -> dict[str, Any]:
    return {
        "id": info.key,
        "title": info.name,
        "description": info.description,
        "kind": "template",
        "default_period": info.spec.default_period,
        "widgets": len(info.spec.widgets),
        "version": None,
        "builtin": info.builtin,
        "owner_id": info.owner_id,
    }


def _answer(info: TemplateInfo, status: int = 200) -> Response:
    response = jsonify({**template_summary(info), "spec": info.spec.model_dump(mode="json")})
    response.status_code = status
    if status == 201:
        response.headers["Location"] = url_for("api.get_template", key=info.key)
    return response


@bp.get("/templates")
def list_templates() -> Response:
    return page_of([template_summary(t) for t in _dashboards().templates(principal())])


@bp.post("/templates")
def create_template() -> Response:
    spec = spec_from_body(json_body())
    try:
        info = _dashboards().create_template_from_spec(spec, principal())
    except DashboardError as exc:
        raise_dashboard_error(exc)
    return _answer(info, 201)


@bp.get("/templates/<key>")
def get_template(key: str) -> Response:
    try:
        info = _dashboards().template(key)
    except DashboardError as exc:
        raise_dashboard_error(exc)
    check(principal(), "read", info.resource)
    return _answer(info)


@bp.put("/templates/<key>")
def update_template(key: str) -> Response:
    spec = spec_from_body(json_body(), key=key)
    try:
        info = _dashboards().update_template(
            key, principal(), name=spec.title, description=spec.description, spec=spec
        )
    except DashboardError as exc:
        raise_dashboard_error(exc)
    return _answer(info)


@bp.delete("/templates/<key>")
def delete_template(key: str) -> Response:
    try:
        _dashboards().delete_template(key, principal())
    except DashboardError as exc:
        raise_dashboard_error(exc)
    return Response(status=204)


@bp.post("/templates/<key>/clone")
def clone_template(key: str) -> Response:
    asked = body_of(CloneRequest) if request.content_length else CloneRequest()
    try:
        info = _dashboards().clone_template(key, principal(), name=asked.name)
    except DashboardError as exc:
        raise_dashboard_error(exc)
    return _answer(info, 201)


TEMPLATE = schema(
    "Template",
    {
        "allOf": [
            REPORT,
            {
                "type": "object",
                "required": ["builtin"],
                "properties": {
                    "builtin": {"type": "boolean"},
                    "owner_id": {"type": "integer", "nullable": True},
                },
            },
        ]
    },
)
KEY = [id_param("key", "Template key")]
document(
    "/api/templates",
    "get",
    {
        "summary": "The templates (built-in and custom) the caller may read",
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
    "/api/templates",
    "post",
    {
        "summary": "Create a custom template from a DashboardSpec",
        "operationId": "createTemplate",
        "tags": ["templates"],
        "requestBody": {"required": True, "content": {"application/json": {"schema": SPEC_BODY}}},
        "responses": {**ok("The new template", TEMPLATE, "201"), **ERRORS},
    },
)
document(
    "/api/templates/{key}",
    "get",
    {
        "summary": "One template with its spec",
        "operationId": "getTemplate",
        "tags": ["templates"],
        "parameters": KEY,
        "responses": {**ok("The template", TEMPLATE), **ERRORS},
    },
)
document(
    "/api/templates/{key}",
    "put",
    {
        "summary": "Replace a custom template's spec (built-in templates: 409)",
        "operationId": "updateTemplate",
        "tags": ["templates"],
        "parameters": KEY,
        "requestBody": {"required": True, "content": {"application/json": {"schema": SPEC_BODY}}},
        "responses": {**ok("The template", TEMPLATE), **ERRORS_409},
    },
)
document(
    "/api/templates/{key}",
    "delete",
    {
        "summary": "Delete a custom template (built-in templates: 409)",
        "operationId": "deleteTemplate",
        "tags": ["templates"],
        "parameters": KEY,
        "responses": {"204": {"description": "Deleted"}, **ERRORS_409},
    },
)
document(
    "/api/templates/{key}/clone",
    "post",
    {
        "summary": "Copy any template as a new custom template (title: Copy of …)",
        "operationId": "cloneTemplate",
        "tags": ["templates"],
        "parameters": KEY,
        "requestBody": {
            "required": False,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {"name": {"type": "string", "minLength": 1}},
                    }
                }
            },
        },
        "responses": {**ok("The new template", TEMPLATE, "201"), **ERRORS},
    },
)
