"""/api/tokens: the caller's API tokens — create (the secret is shown once), list, revoke.

(Named api_tokens.py: a submodule `api.tokens` would replace `security.tokens` in api/__init__.py.)

Creating needs a JSON body (`Content-Type: application/json`), which a cross-site form cannot
send, and the session cookie is SameSite=Lax: a signed-in browser cannot be tricked into making a
token for someone else's page.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from api import ApiError, bp, document, json_body, principal, schema
from api.reports import ERRORS, PAGE_PARAMS, audit_event, list_schema, ok, page_of
from engine import services
from security import tokens

TOKEN_INFO = schema(
    "ApiTokenInfo",
    {
        "type": "object",
        "required": ["id", "name", "prefix", "created_at", "active"],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "prefix": {
                "type": "string",
                "description": "The first characters, to tell tokens apart",
            },
            "created_at": {"type": "string", "format": "date-time"},
            "last_used_at": {"type": "string", "format": "date-time", "nullable": True},
            "revoked_at": {"type": "string", "format": "date-time", "nullable": True},
            "active": {"type": "boolean"},
        },
    },
)
NEW_TOKEN = schema(
    "NewApiToken",
    {
        "allOf": [
            TOKEN_INFO,
            {
                "type": "object",
                "required": ["token"],
                "properties": {
                    "token": {"type": "string", "description": "The secret: shown this once only"}
                },
            },
        ]
    },
)


def token_json(info: tokens.TokenInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "prefix": info.prefix,
        "created_at": info.created_at.isoformat(),
        "last_used_at": info.last_used_at.isoformat() if info.last_used_at else None,
        "revoked_at": info.revoked_at.isoformat() if info.revoked_at else None,
        "active": info.active,
    }


@bp.get("/tokens")
def list_api_tokens() -> Response:
    store = services.current().store
    return page_of([token_json(t) for t in tokens.list_tokens(store, principal().id)])


@bp.post("/tokens")
def create_api_token() -> tuple[Response, int]:
    who = principal()
    body = json_body()
    name = body.get("name", "API token")
    if not isinstance(name, str) or not name.strip() or len(name) > 120:
        raise ApiError(
            400, "bad_request", "name: expected a non-empty string of at most 120 characters"
        )
    store = services.current().store
    plaintext, row = tokens.issue(store, who.id, name)
    audit_event(who, "token.issue", f"api_token:{row.id}", detail={"name": row.name})
    info = next(t for t in tokens.list_tokens(store, who.id) if t.id == row.id)
    return jsonify({**token_json(info), "token": plaintext}), 201


@bp.delete("/tokens/<int:token_id>")
def revoke_api_token(token_id: int) -> Response:
    who = principal()
    try:
        revoked = tokens.revoke(services.current().store, token_id, who)
    except tokens.TokenNotFound:
        raise ApiError(404, "not_found", tokens.TokenNotFound.user_message) from None
    audit_event(who, "token.revoke", f"api_token:{token_id}", detail={"already": not revoked})
    return Response(status=204)


document(
    "/api/tokens",
    "get",
    {
        "summary": "The caller's API tokens (never their secrets)",
        "operationId": "listTokens",
        "tags": ["tokens"],
        "parameters": PAGE_PARAMS,
        "responses": {**ok("A page of tokens", list_schema("ApiTokenList", TOKEN_INFO)), **ERRORS},
    },
)
document(
    "/api/tokens",
    "post",
    {
        "summary": "Create an API token for the caller; the secret is in this answer only",
        "operationId": "createToken",
        "tags": ["tokens"],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string", "minLength": 1, "maxLength": 120}
                        },
                    }
                }
            },
        },
        "responses": {**ok("The new token", NEW_TOKEN, "201"), **ERRORS},
    },
)
document(
    "/api/tokens/{id}",
    "delete",
    {
        "summary": "Revoke one of the caller's tokens (an admin: anyone's)",
        "operationId": "revokeToken",
        "tags": ["tokens"],
        "parameters": [
            {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
        ],
        "responses": {"204": {"description": "Revoked (or already was)"}, **ERRORS},
    },
)
