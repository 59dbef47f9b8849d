"""Feature flags on the API, in one table: a route whose feature is turned off answers 404 JSON
naming the variable, e.g. {"error": "feature_off", "message": "PDF export is turned off
(ENABLE_PDF_EXPORT=false)."}.

Each rule is (methods, path pattern, check); the first rule whose method and pattern match the
request decides. A check is a key of settings.FEATURES, or a function of (settings, match) that
answers the message (None: on). Route modules need not know about flags: a route added to a
path listed here is gated as soon as it exists.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from re import Match

from flask import Response, request

from api import bp, error
from engine import services
from settings import EXPORT_FORMATS, Settings

Check = str | Callable[[Settings, Match[str]], str | None]
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ALL = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})
_ID = r"[^/]+"
_FORMAT = "|".join([*EXPORT_FORMATS, "image"])


def _export_format(settings: Settings, match: Match[str]) -> str | None:
    fmt = match["fmt"]
    return settings.format_off(settings.image_export_format if fmt == "image" else fmt)


RULES: list[tuple[frozenset[str], re.Pattern[str], Check]] = [
    (frozenset(methods), re.compile(f"^/api{pattern}$"), check)
    for methods, pattern, check in [
        # Exports, per format: ENABLE_PDF_EXPORT, ENABLE_EXCEL_EXPORT + EXCEL_EXPORT_ENABLED,
        # API_EXPORT_FORMATS (json, xml, csv); images are always offered.
        ({"POST"}, f"/export/(?P<fmt>{_FORMAT})", _export_format),
        # The dashboard builder: creating, changing and deleting dashboards.
        ({"POST"}, "/dashboards", "dashboard_builder"),
        ({"PUT", "PATCH", "DELETE"}, f"/dashboards/{_ID}", "dashboard_builder"),
        # Signed embeds and run-file links belong to the self-service portal.
        (ALL, f"/dashboards/{_ID}/embed", "report_portal"),
        (ALL, "/embeds(/.*)?", "report_portal"),
        (ALL, "/schedules/runs/[0-9]+/files/.+", "report_portal"),
        # Scheduled reports: every schedule route (the list too: there is nothing to show).
        (ALL, "/schedules(/.*)?", "scheduled_reports"),
        # Custom reports: saving report configurations and templates.
        ({"POST"}, "/reports", "custom_reports"),
        ({"PUT", "PATCH", "DELETE"}, f"/reports/{_ID}", "custom_reports"),
        ({"POST"}, "/templates", "custom_reports"),
        ({"PUT", "PATCH", "DELETE"}, f"/templates/{_ID}", "custom_reports"),
        ({"POST"}, f"/templates/{_ID}/clone", "custom_reports"),
    ]
]


def feature_off(settings: Settings, method: str, path: str) -> str | None:
    """The message of the turned-off feature that governs `method path`, or None."""
    for methods, pattern, check in RULES:
        match = pattern.match(path)
        if method in methods and match:
            return settings.off_message(check) if isinstance(check, str) else check(settings, match)
    return None


@bp.before_request
def refuse_turned_off_features() -> Response | None:
    off = feature_off(services.current().settings, request.method, request.path)
    return None if off is None else error(404, "feature_off", off)
