"""The 404 page for any unknown path."""

import dash
from dash import html

from layouts.not_found import not_found

dash.register_page(__name__, path="/404", title="Not found · Nexpo Reports")


def layout(**_params: str) -> html.Div:
    return not_found()
