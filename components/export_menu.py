"""The export menu: a dropdown of formats for a whole dashboard or one widget, with a job's progress.

    export_menu("revenue_overview", period="30d")                       # the dashboard toolbar
    export_menu("revenue_overview", "daily-revenue", period="30d")      # a widget card header

Choosing a format starts an export job (exports/jobs/) as the signed-in user; a progress bar and a
Cancel button show while it runs; when it succeeds the browser downloads the file from
/api/export/<id>/download (the same access checks as the API) and a "Download again" link stays.
A truncated export says so with its row counts; a failed one shows its safe error message.
Callbacks live in components/export_menu_callbacks.py (imported here, so using the menu registers them).
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from engine import services
from settings import IMAGE_FORMATS

# (API name, menu label); images export the widget's chart (a dashboard's: its first chart), and
# a card or a table offers none.
FORMATS: tuple[tuple[str, str], ...] = (
    ("pdf", "PDF"),
    ("excel", "Excel"),
    ("csv", "CSV"),
    ("json", "JSON"),
    ("xml", "XML"),
    ("png", "PNG image"),
    ("svg", "SVG image"),
    ("jpg", "JPG image"),
)
DASHBOARD_SCOPE = "dashboard"
POLL_MS = 500


class IDS:
    """Pattern ids, one set per menu; `scope` is "dashboard" or "widget-<widget id>"."""

    DASHBOARD_STATE = "dashboard-state-store"  # pages/dashboards.py IDS.STATE (the live view)

    ITEM = "export-item"
    CTX = "export-ctx"
    JOB = "export-job"
    READY = "export-ready"
    DOWNLOADED = "export-downloaded"
    POLL = "export-poll"
    PANEL = "export-panel"
    PROGRESS = "export-progress"
    STATUS = "export-status"
    CANCEL = "export-cancel"

    @staticmethod
    def of(kind: str, scope: str) -> dict[str, str]:
        return {"type": kind, "scope": scope}

    @staticmethod
    def item(scope: str, fmt: str) -> dict[str, str]:
        return {"type": IDS.ITEM, "scope": scope, "fmt": fmt}


def scope_of(widget_id: str | None) -> str:
    return DASHBOARD_SCOPE if widget_id is None else f"widget-{widget_id}"


def export_menu(
    report_id: str,
    widget_id: str | None = None,
    *,
    period: str | None = None,
    formats: list[str] | None = None,
    chart: bool = True,
) -> html.Div | None:
    """The menu for `report_id` (or one of its widgets), with the formats the settings offer
    (`Settings.export_formats`: ENABLE_PDF_EXPORT, ENABLE_EXCEL_EXPORT and EXCEL_EXPORT_ENABLED,
    API_EXPORT_FORMATS), narrowed to `formats` (the report's own, engine.request.offered_formats;
    empty for a role that may not export); None when none is offered. Image formats only for a
    widget that draws a `chart` (engine.request.has_chart: not a metric card or a table).

    On a dashboard page the menu follows the page's live view (period, custom dates, filters: the
    `dashboard-state-store`); elsewhere it exports `period` (default: the report's own).
    """
    offered = services.current().settings.export_formats
    if formats is not None:
        offered = [f for f in offered if f in formats]
    if not chart:
        offered = [f for f in offered if f not in IMAGE_FORMATS]
    if not offered:
        return None
    scope = scope_of(widget_id)
    is_widget = widget_id is not None
    items = [
        dbc.DropdownMenuItem(label, id=IDS.item(scope, fmt), n_clicks=0)
        for fmt, label in FORMATS
        if fmt in offered
    ]
    menu = dbc.DropdownMenu(
        items,
        label="Export",
        size="sm",
        # dbc puts `btn-<color>` on the toggle: an outlined button in the toolbar, a quiet one in a card.
        color="link" if is_widget else "outline-secondary",
        direction="down",
        align_end=True,
        toggle_class_name="export-toggle" + (" export-toggle-widget" if is_widget else ""),
        class_name="export-dropdown",
        id={"type": "export-menu", "scope": scope},
    )
    panel = html.Div(
        [
            dbc.Progress(
                id=IDS.of(IDS.PROGRESS, scope),
                value=0,
                label="",
                striped=True,
                animated=True,
                style={"height": "1rem"},
                class_name="export-progress flex-grow-1",
            ),
            dbc.Button(
                "Cancel",
                id=IDS.of(IDS.CANCEL, scope),
                n_clicks=0,
                size="sm",
                color="link",
                class_name="export-cancel p-0 ms-2",
            ),
        ],
        id=IDS.of(IDS.PANEL, scope),
        className="export-panel align-items-center mt-1",
        style={"display": "none"},
    )
    return html.Div(
        [
            menu,
            panel,
            html.Div(
                id=IDS.of(IDS.STATUS, scope),
                className="export-status small",
                role="status",
                **{"aria-live": "polite"},
            ),
            dcc.Store(
                id=IDS.of(IDS.CTX, scope),
                data={
                    "report_id": report_id,
                    "widget_id": widget_id,
                    "period": period,
                    "start": None,
                    "end": None,
                    "filters": {},
                },
            ),
            dcc.Store(id=IDS.of(IDS.JOB, scope)),
            dcc.Store(id=IDS.of(IDS.READY, scope)),
            dcc.Store(id=IDS.of(IDS.DOWNLOADED, scope)),
            dcc.Interval(id=IDS.of(IDS.POLL, scope), interval=POLL_MS, disabled=True),
        ],
        className="export-menu" + (" export-menu-widget ms-auto" if is_widget else " ms-2"),
        **{"data-export-scope": scope},
    )


# Registered when the menu is imported (pages import it at app start-up, before the first request).
import components.export_menu_callbacks  # noqa: E402, F401
