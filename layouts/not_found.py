"""The app's 404 view: unknown paths and pages a deployment turned off (layouts/features.py) show it."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

ID = "not-found"


def not_found() -> html.Div:
    return html.Div(
        [
            html.H1("Page not found", className="h3"),
            html.P("There is no page at this address. It may have moved, or the link is mistyped."),
            dbc.Button("Go to your dashboards", href="/", color="primary"),
        ],
        className="py-5 text-center",
        id=ID,
    )
