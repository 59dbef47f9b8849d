"""/api/dashboards: the dashboards a caller may open, one dashboard, saving them, and embed links.

`POST /api/dashboards` saves a DashboardSpec as a new dashboard (its key: a free slug from the
title); `PUT /api/dashboards/{id}` saves a new version and must carry the `version` it was based
on — a save based on an older one is refused with 409, as in the builder; `DELETE` removes one.
Built-in templates are not saved dashboards: changing or deleting one answers 409 (clone it).

`GET|POST /api/dashboards/{id}/embed` issues a signed, expiring link to `/embed/<token>` (needs
`export` on the dashboard: it shares data outside; the link never shows more than its issuer may
see — their rows and date cap, PII always masked). Optional locked filters (`period`) and a
lifetime (`ttl_seconds`, 60 s to 30 days, default 1 day) come from the query string (GET) or a
JSON body (POST). `GET /api/embeds` lists the caller's links (an admin's: everyone's) and
`DELETE /api/embeds/{jti}` revokes one; a revoked link shows an error page from the next request.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response, jsonify, request, url_for

from api import ApiError, bp, document, json_body, principal, schema
from api.reports import (
    ERROR,
    ERRORS,
    PAGE_PARAMS,
    REPORT,
    REPORT_SUMMARY,
    audit_event,
    check,
    found_or_404,
    id_param,
    list_schema,
    ok,
    page_of,
    readable,
    summary,
)
from api.specs import SPEC_BODY, VERSIONED_SPEC_BODY, raise_dashboard_error, spec_from_body
from engine import services
from engine.dashboards import DashboardError, Dashboards, SavedDashboard
from engine.periods import PERIOD_DAYS
from engine.templates import builtin_dashboards
from security.embed import MAX_TTL_SECONDS, EmbedInfo, issue_embed, list_embeds, revoke_embed

DEFAULT_TTL_SECONDS = 24 * 3600
MIN_TTL_SECONDS = 60
LOCKABLE_FILTERS = {"period": tuple(PERIOD_DAYS)}

DASHBOARD_SUMMARY = schema(
    "DashboardSummary",
    {
        "allOf": [
            REPORT_SUMMARY,
            {
                "type": "object",
                "required": ["url"],
                "properties": {"url": {"type": "string", "description": "The page in the app"}},
            },
        ]
    },
)
EMBED = schema(
    "EmbedLink",
    {
        "type": "object",
        "required": ["url", "token", "jti", "dashboard", "filters", "issued_at", "expires_at"],
        "properties": {
            "url": {"type": "string", "description": "Put this in an iframe's src"},
            "token": {"type": "string"},
            "jti": {"type": "string", "description": "The link's id, to revoke it"},
            "dashboard": {"type": "string"},
            "filters": {"type": "object"},
            "issued_at": {"type": "string", "format": "date-time"},
            "expires_at": {"type": "string", "format": "date-time"},
        },
    },
)
EMBED_INFO = schema(
    "EmbedLinkInfo",
    {
        "type": "object",
        "required": ["jti", "dashboard", "issued_at", "expires_at", "active"],
        "properties": {
            "jti": {"type": "string"},
            "dashboard": {"type": "string"},
            "issued_by": {"type": "integer", "nullable": True},
            "issued_at": {"type": "string", "format": "date-time"},
            "expires_at": {"type": "string", "format": "date-time"},
            "revoked_at": {"type": "string", "format": "date-time", "nullable": True},
            "active": {"type": "boolean"},
        },
    },
)


def dashboard_summary(found: Any) -> dict[str, Any]:
    item = summary(found)
    return {**item, "url": f"/dashboards/{item['id']}"}


@bp.get("/dashboards")
def list_dashboards() -> Response:
    return page_of([dashboard_summary(found) for found in readable(principal())])


@bp.get("/dashboards/<dashboard_id>")
def get_dashboard(dashboard_id: str) -> Response:
    found = found_or_404(dashboard_id)
    check(principal(), "read", found.resource)
    return jsonify({**dashboard_summary(found), "spec": found.spec.model_dump(mode="json")})


def _dashboards() -> Dashboards:
    svc = services.current()
    return Dashboards(svc.store, audit_enabled=svc.settings.enable_audit_log)


def _saved_answer(saved: SavedDashboard, status: int = 200) -> Response:
    response = jsonify(
        id=saved.slug,
        title=saved.title,
        description=saved.spec.description,
        kind="dashboard",
        default_period=saved.spec.default_period,
        widgets=len(saved.spec.widgets),
        version=saved.version,
        url=f"/dashboards/{saved.slug}",
        spec=saved.spec.model_dump(mode="json"),
    )
    response.status_code = status
    if status == 201:
        response.headers["Location"] = url_for("api.get_dashboard", dashboard_id=saved.slug)
    return response


def _not_builtin(dashboard_id: str, verb: str) -> None:
    if dashboard_id in builtin_dashboards():
        raise ApiError(
            409,
            "conflict",
            f"{dashboard_id!r} is a built-in template and cannot be {verb}d: "
            f"clone it (POST /api/templates/{dashboard_id}/clone) to make your own.",
        )


@bp.post("/dashboards")
def create_dashboard() -> Response:
    body = json_body()
    spec = spec_from_body(body)
    try:
        saved = _dashboards().create(spec, principal())
    except DashboardError as exc:
        raise_dashboard_error(exc)
    return _saved_answer(saved, 201)


@bp.put("/dashboards/<dashboard_id>")
def update_dashboard(dashboard_id: str) -> Response:
    body = dict(json_body())
    version = body.pop("version", None)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ApiError(
            400, "bad_request", "version: required, the version your edit is based on (>= 1)"
        )
    spec = spec_from_body(body, key="edit")
    _not_builtin(dashboard_id, "update")
    try:
        saved = _dashboards().save(dashboard_id, spec, version, principal())
    except DashboardError as exc:
        raise_dashboard_error(exc)
    return _saved_answer(saved)


@bp.delete("/dashboards/<dashboard_id>")
def delete_dashboard(dashboard_id: str) -> Response:
    _not_builtin(dashboard_id, "delete")
    try:
        _dashboards().delete(dashboard_id, principal())
    except DashboardError as exc:
        raise_dashboard_error(exc)
    return Response(status=204)


def embed_options() -> tuple[dict[str, Any], int]:
    """(locked filters, ttl_seconds) from the query string, or from a JSON body on POST."""
    if request.method == "POST" and request.content_length:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise ApiError(400, "bad_request", "Send a JSON object body (or no body).")
        filters, ttl = body.get("filters") or {}, body.get("ttl_seconds", DEFAULT_TTL_SECONDS)
        if not isinstance(filters, dict):
            raise ApiError(400, "bad_request", "filters: expected an object")
    else:
        filters = {k: v for k, v in request.args.items() if k in LOCKABLE_FILTERS}
        ttl = request.args.get("ttl_seconds", str(DEFAULT_TTL_SECONDS))
    for key, value in filters.items():
        if key not in LOCKABLE_FILTERS:
            raise ApiError(
                400, "bad_request", f"filters.{key}: cannot be locked (accepted: period)"
            )
        if value not in LOCKABLE_FILTERS[key]:
            raise ApiError(
                400,
                "bad_request",
                f"filters.{key}={value!r}: expected one of " + ", ".join(LOCKABLE_FILTERS[key]),
            )
    if isinstance(ttl, bool) or not (str(ttl).isascii() and str(ttl).isdigit()):
        raise ApiError(400, "bad_request", f"ttl_seconds={ttl!r}: expected a whole number")
    ttl = int(ttl)
    if not MIN_TTL_SECONDS <= ttl <= MAX_TTL_SECONDS:
        raise ApiError(
            400,
            "bad_request",
            f"ttl_seconds={ttl}: expected {MIN_TTL_SECONDS} to {MAX_TTL_SECONDS} (30 days)",
        )
    return dict(filters), ttl


@bp.route("/dashboards/<dashboard_id>/embed", methods=["GET", "POST"])
def embed_dashboard(dashboard_id: str) -> Response:
    who = principal()
    svc = services.current()
    found = found_or_404(dashboard_id)
    check(who, "export", found.resource)
    filters, ttl = embed_options()
    key = found.resource.key or found.spec.key
    token, claims = issue_embed(
        svc.store, svc.settings.embed_secret, who, key, filters, ttl, datetime.now(UTC)
    )
    audit_event(
        who,
        "embed.issue",
        f"dashboard:{key}",
        detail={"jti": claims.jti, "filters": filters, "ttl_seconds": ttl},
    )
    return jsonify(
        url=request.host_url.rstrip("/") + "/embed/" + token,
        token=token,
        jti=claims.jti,
        dashboard=key,
        filters=filters,
        issued_at=claims.issued_at.isoformat(),
        expires_at=claims.expires_at.isoformat(),
    )


def embed_info(info: EmbedInfo, now: datetime) -> dict[str, Any]:
    return {
        "jti": info.jti,
        "dashboard": info.dashboard,
        "issued_by": info.issued_by,
        "issued_at": info.issued_at.isoformat(),
        "expires_at": info.expires_at.isoformat(),
        "revoked_at": info.revoked_at.isoformat() if info.revoked_at else None,
        "active": info.revoked_at is None and info.expires_at > now,
    }


@bp.get("/embeds")
def list_embed_links() -> Response:
    who = principal()
    issued_by = None if who.role == "admin" else who.id
    now = datetime.now(UTC)
    links = list_embeds(services.current().store, issued_by=issued_by)
    return page_of([embed_info(link, now) for link in links])


@bp.delete("/embeds/<jti>")
def revoke_embed_link(jti: str) -> Response:
    who = principal()
    try:
        revoked = revoke_embed(services.current().store, jti, who)
    except LookupError:
        raise ApiError(404, "not_found", "No such embed link.") from None
    audit_event(who, "embed.revoke", f"embed:{jti[:8]}", detail={"already": not revoked})
    return Response(status=204)


EMBED_PARAMS = [
    id_param(),
    {
        "name": "period",
        "in": "query",
        "required": False,
        "description": "Lock the embed to this period (otherwise the viewer may switch)",
        "schema": {"type": "string", "enum": list(PERIOD_DAYS)},
    },
    {
        "name": "ttl_seconds",
        "in": "query",
        "required": False,
        "schema": {
            "type": "integer",
            "minimum": MIN_TTL_SECONDS,
            "maximum": MAX_TTL_SECONDS,
            "default": DEFAULT_TTL_SECONDS,
        },
    },
]
document(
    "/api/dashboards",
    "get",
    {
        "summary": "The dashboards the caller may open",
        "operationId": "listDashboards",
        "tags": ["dashboards"],
        "parameters": PAGE_PARAMS,
        "responses": {
            **ok("A page of dashboards", list_schema("DashboardList", DASHBOARD_SUMMARY)),
            **ERRORS,
        },
    },
)
document(
    "/api/dashboards/{id}",
    "get",
    {
        "summary": "One dashboard with its spec",
        "operationId": "getDashboard",
        "tags": ["dashboards"],
        "parameters": [id_param()],
        "responses": {**ok("The dashboard", REPORT), **ERRORS},
    },
)
SAVED_DASHBOARD = schema(
    "SavedDashboard",
    {
        "allOf": [
            DASHBOARD_SUMMARY,
            {
                "type": "object",
                "required": ["spec", "version"],
                "properties": {"spec": {"type": "object"}, "version": {"type": "integer"}},
            },
        ]
    },
)
SPEC_REQUEST = {"required": True, "content": {"application/json": {"schema": SPEC_BODY}}}
document(
    "/api/dashboards",
    "post",
    {
        "summary": "Save a DashboardSpec as a new dashboard (version 1)",
        "operationId": "createDashboard",
        "tags": ["dashboards"],
        "requestBody": SPEC_REQUEST,
        "responses": {**ok("The new dashboard", SAVED_DASHBOARD, "201"), **ERRORS},
    },
)
document(
    "/api/dashboards/{id}",
    "put",
    {
        "summary": "Save a new version; `version` is the one the edit is based on (stale: 409)",
        "operationId": "updateDashboard",
        "tags": ["dashboards"],
        "parameters": [id_param(description="Dashboard slug or numeric id")],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": VERSIONED_SPEC_BODY}},
        },
        "responses": {**ok("The saved dashboard", SAVED_DASHBOARD), **ERRORS, "409": ERROR},
    },
)
document(
    "/api/dashboards/{id}",
    "delete",
    {
        "summary": "Delete a saved dashboard and its versions (built-in templates: 409)",
        "operationId": "deleteDashboard",
        "tags": ["dashboards"],
        "parameters": [id_param(description="Dashboard slug or numeric id")],
        "responses": {"204": {"description": "Deleted"}, **ERRORS, "409": ERROR},
    },
)
document(
    "/api/dashboards/{id}/embed",
    "get",
    {
        "summary": "A signed, expiring embed URL for this dashboard (needs export permission)",
        "operationId": "embedDashboard",
        "tags": ["dashboards"],
        "parameters": EMBED_PARAMS,
        "responses": {**ok("The embed link", EMBED), **ERRORS},
    },
)
document(
    "/api/dashboards/{id}/embed",
    "post",
    {
        "summary": "The same, with the options in a JSON body",
        "operationId": "embedDashboardPost",
        "tags": ["dashboards"],
        "parameters": [id_param()],
        "requestBody": {
            "required": False,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "filters": {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {
                                    "period": {"type": "string", "enum": list(PERIOD_DAYS)}
                                },
                            },
                            "ttl_seconds": EMBED_PARAMS[2]["schema"],
                        },
                    }
                }
            },
        },
        "responses": {**ok("The embed link", EMBED), **ERRORS},
    },
)
document(
    "/api/embeds",
    "get",
    {
        "summary": "The embed links the caller issued (an admin: all)",
        "operationId": "listEmbeds",
        "tags": ["dashboards"],
        "parameters": PAGE_PARAMS,
        "responses": {
            **ok("A page of embed links", list_schema("EmbedList", EMBED_INFO)),
            **ERRORS,
        },
    },
)
document(
    "/api/embeds/{jti}",
    "delete",
    {
        "summary": "Revoke an embed link (its issuer or an admin)",
        "operationId": "revokeEmbed",
        "tags": ["dashboards"],
        "parameters": [id_param("jti", "The link's id")],
        "responses": {"204": {"description": "Revoked (or already was)"}, **ERRORS},
    },
)
