"""/api/openapi.json: the OpenAPI 3 document built from what the route modules `document`."""

from __future__ import annotations

import copy
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


# The seed lists each export format as its own path; the route is one (`/api/export/{fmt}`).
SEED_EXPORT_FORMATS = ("pdf", "excel", "csv", "json")


def seed_paths(paths: dict[str, Any]) -> dict[str, Any]:
    """`paths` with the seed's literal export paths (POST /api/export/pdf, ...) documented as the
    format-parametrised operation they are served by, unless a module documents them itself."""
    generic = paths.get("/api/export/{fmt}", {}).get("post")
    if generic is None:
        return paths
    out = dict(paths)
    for fmt in SEED_EXPORT_FORMATS:
        literal = f"/api/export/{fmt}"
        if literal in out:
            continue
        operation = copy.deepcopy(generic)
        operation["parameters"] = [
            p for p in operation.get("parameters", []) if p.get("name") != "fmt"
        ]
        operation["operationId"] = f"{generic.get('operationId', 'export')}_{fmt}"
        operation["summary"] = f"Export a report as {fmt.upper()}"
        out[literal] = {"post": operation}
    return out


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
        "paths": seed_paths(PATHS),
    }


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(document_json())
