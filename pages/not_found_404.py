"""The 404 page for any unknown path."""

import dash
import dash_bootstrap_components as dbc
from dash import html

dash.register_page(__name__, path="/404", title="Not found · Nexpo Reports")


def layout(**_params: str) -> html.Div:
    return html.Div(
        [
            html.H1("Page not found", className="h3"),
            html.P("There is no page at this address. It may have moved, or the link is mistyped."),
            dbc.Button("Go to your dashboards", href="/", color="primary"),
        ],
        className="py-5 text-center",
        id="not-found",
    )
