"""Health endpoints: GET /health (liveness) and GET /health/datasources (each source up or down).

GET /api/health/datasources (the seed's runbook, api/troubleshooting.py) answers the same body.

Both routes are public on purpose: load balancers and uptime probes call them without a session,
so the app's login guard must let every path starting with /health through. They reveal no DSN,
host or SQL: only source names, kinds, dialects, latencies and the safe `user_message` of a failure.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, jsonify

from datasources.registry import DataSources

PUBLIC_PREFIX = "/health"


@cache
def project_version() -> str:
    """The version in pyproject.toml ("unknown" when it cannot be read)."""
    try:
        with open(Path(__file__).resolve().parent.parent / "pyproject.toml", "rb") as file:
            return str(tomllib.load(file)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


def health_blueprint(
    sources_getter: Callable[[], DataSources], *, version: str | None = None
) -> Blueprint:
    """A blueprint with the two health routes.

    Args:
        sources_getter: returns the process's DataSources (called per request, so the app may
            build it lazily, e.g. after a gunicorn fork).
        version: reported by /health (default: pyproject.toml's version).
    """
    blueprint = Blueprint("health", __name__)

    @blueprint.get(PUBLIC_PREFIX)
    def liveness() -> Response:
        return _no_store(
            jsonify(
                status="ok",
                version=version or project_version(),
                time=datetime.now(UTC).isoformat(timespec="seconds"),
            )
        )

    @blueprint.get(f"{PUBLIC_PREFIX}/datasources")
    def datasources() -> Response:
        return datasources_response(sources_getter())

    return blueprint


def datasources_report(sources: DataSources) -> dict[str, Any]:
    """{"status": "ok"|"degraded", "datasources": [...], "cache": {...}}: each source up or down
    with its latency and safe error, and the query cache store. Never raises, never names a DSN."""
    reports: list[dict[str, Any]] = sources.health()
    cache_report = sources.cache.health()
    degraded = any(r["status"] != "up" for r in reports) or cache_report["status"] == "down"
    return {
        "status": "degraded" if degraded else "ok",
        "datasources": reports,
        "cache": cache_report,
    }


def datasources_response(sources: DataSources) -> Response:
    """The JSON answer of GET /health/datasources and GET /api/health/datasources."""
    # A down source is a fact to report, not an error: always HTTP 200.
    return _no_store(jsonify(datasources_report(sources)))


def init_app(
    server: Flask, sources_getter: Callable[[], DataSources], *, version: str | None = None
) -> None:
    """Register GET /health and GET /health/datasources on `server` (no login required)."""
    server.register_blueprint(health_blueprint(sources_getter, version=version))


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response
