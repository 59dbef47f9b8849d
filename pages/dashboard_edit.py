"""`/dashboards/<id>/edit`: the builder on a saved dashboard (pages/builder.py draws and runs it).

Dash checks path templates in registry order (by module name), so this page is matched before
pages/dashboards.py's `/dashboards/<dashboard_id>`, whose wildcard would also match `<id>/edit`.
"""

from __future__ import annotations

import sys
from typing import Any

import dash
from dash import html

dash.register_page(
    __name__,
    path_template="/dashboards/<dashboard_id>/edit",
    name="Edit dashboard",
    title="Edit dashboard · Nexpo Reports",
    feature="dashboard_builder",  # ENABLE_DASHBOARD_BUILDER: builder.layout answers the 404 view
)


def layout(dashboard_id: str | None = None, **params: Any) -> html.Div:
    # Dash has already loaded pages/builder.py as a page module (and registered the page): use
    # that module rather than importing it a second time.
    builder = sys.modules[__name__.rsplit(".", 1)[0] + ".builder"]
    return builder.layout(dashboard_id=dashboard_id, **params)
