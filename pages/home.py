"""Home: the dashboards the user may open."""

import dash
import dash_bootstrap_components as dbc
from dash import html

from engine.templates import builtin_dashboards

dash.register_page(__name__, path="/", name="Dashboards", title="Nexpo Reports", nav_order=0)


def layout(**_params: str) -> html.Div:
    cards = [
        dbc.Col(
            dbc.Card(
                dbc.CardBody(
                    [
                        html.H2(spec.title, className="h5"),
                        html.P(spec.description, className="text-secondary small"),
                        dbc.Button(
                            "Open", href=f"/dashboards/{spec.key}", color="primary", size="sm"
                        ),
                    ]
                ),
                className="h-100 shadow-sm",
            ),
            md=6,
            lg=4,
            className="mb-3",
        )
        for spec in builtin_dashboards().values()
    ]
    return html.Div([html.H1("Dashboards", className="h4 mb-3"), dbc.Row(cards)], id="home-page")
