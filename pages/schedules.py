"""Scheduled reports: the list, a create/edit form with a live preview of the next run times, pause /
resume / run now, and the run history with the delivery status of every recipient.

The form and the page's ids are in components/schedule_form.py, the form <-> service input mapping in
components/schedule_form_input.py, the tables in components/schedule_tables.py and the callbacks
(registered by the import below) in components/schedule_callbacks.py.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

# Importing the callbacks registers them; the names are re-exported for tests that call them.
from components.schedule_callbacks import fill_form, render_history, save
from components.schedule_form import FIELD_IDS, IDS, schedule_form
from layouts.features import page_off

__all__ = ["FIELD_IDS", "IDS", "fill_form", "layout", "render_history", "save"]

dash.register_page(
    __name__,
    path="/schedules",
    name="Schedules",
    title="Schedules · Nexpo Reports",
    nav_order=4,
    feature="scheduled_reports",  # ENABLE_SCHEDULED_REPORTS (layouts/features.py)
)


def layout(**_params: Any) -> html.Div:
    if (off := page_off("scheduled_reports")) is not None:
        return off
    return html.Div(
        [
            html.Div(
                [
                    html.H1("Scheduled reports", className="h4 mb-0"),
                    dbc.Button(
                        "New schedule", id=IDS.NEW, color="primary", size="sm", className="ms-auto"
                    ),
                ],
                className="d-flex align-items-center mb-3",
            ),
            dbc.Alert(id=IDS.FEEDBACK, is_open=False, duration=8000, className="small"),
            html.Div(schedule_form(), id=IDS.FORM, style={"display": "none"}),
            html.Div(id=IDS.LIST),
            html.Div(id=IDS.HISTORY, className="mt-4"),
            dcc.Store(id=IDS.VERSION, data=0),
            dcc.Store(id=IDS.SELECTED, data=None),
            dcc.Store(id=IDS.EDITING, data=None),
            dcc.Interval(id=IDS.POLL, interval=3000),
        ],
        id="schedules-page",
    )
