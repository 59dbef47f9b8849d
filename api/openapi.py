"""/api/openapi.json: the OpenAPI 3 document built from what the route modules `document`."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from api import PATHS, SCHEMAS, bp, schema

ERROR = schema(
    "Error",
    {
        "type": "object",
        "required": ["error", "message"],
        "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
    },
)


def document_json() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Nexpo Reports API", "version": "1"},
        "servers": [{"url": "/"}],
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {
                "Error": {
                    "description": "An error",
                    "content": {"application/json": {"schema": ERROR}},
                }
            },
        },
        "security": [{"bearer": []}],
        "paths": PATHS,
    }


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(document_json())
