"""A live dashboard: period, filters and auto-refresh in the URL; each widget loads and fails alone.

The view state (period, custom start/end, filters, refresh) is read from the query string by
`layout(**params)`, kept in a dcc.Store while the page is open, and written back to the address
bar (history.replaceState) on every change, so a copied link reproduces the view.

Auto-refresh re-fetches "only what can have changed": data of past days is settled, so the timer
runs only while the selected window includes today in the reporting time zone (a custom range in
the past never refreshes), and each tick re-runs the widgets with `refresh=True`, which bypasses
and overwrites the query cache for their queries alone. A manual Refresh does the same on demand.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import dash
import dash_bootstrap_components as dbc
from dash import ALL, MATCH, Input, Output, State, callback, clientside_callback, dcc, html
from flask import request
from flask_login import current_user

from components.export_menu import export_menu
from components.graphs import graph
from components.widgets import widget_body, widget_card
from engine import services
from engine.dashboards import Dashboards
from engine.filters import LABELS, filter_options
from engine.generate import data_freshness, prefetch, run
from engine.periods import PERIOD_DAYS, Window, today_in
from engine.reports import ReportNotFound, find_report
from engine.request import (
    ReportRequest,
    RequestError,
    ResolvedRequest,
    check_window,
    has_chart,
    offered_formats,
    resolve,
)
from engine.spec import FILTER_NAMES, DashboardSpec
from security import audit
from security.policy import AccessDenied, authorize, row_scope

dash.register_page(
    __name__,
    path_template="/dashboards/<dashboard_id>",
    name="Dashboard",
    title="Dashboard · Nexpo Reports",
)

# Auto-refresh choices: URL value -> (label, milliseconds).
REFRESH_CHOICES = {
    "off": ("Off", 0),
    "30s": ("30 s", 30_000),
    "1m": ("1 min", 60_000),
    "5m": ("5 min", 300_000),
}


class IDS:
    STATE = "dashboard-state-store"
    WINDOW = "dashboard-window-text"
    FRESHNESS = "dashboard-freshness-text"
    PERIOD = "dashboard-period-button"
    DATES = "dashboard-dates-picker"
    REFRESH = "dashboard-refresh-button"
    AUTO_REFRESH = "dashboard-autorefresh-select"
    INTERVAL = "dashboard-refresh-interval"
    FILTER = "dashboard-filter-dropdown"

    @staticmethod
    def period(period: str) -> dict[str, str]:
        return {"type": IDS.PERIOD, "period": period}

    @staticmethod
    def filter(name: str) -> dict[str, str]:
        return {"type": IDS.FILTER, "filter": name}

    @staticmethod
    def body(widget_id: str) -> dict[str, str]:
        return {"type": "widget-body", "widget": widget_id}


# ---------------------------------------------------------------------------------------------
# View state: pure functions over plain dicts (what the Store and the URL hold)


def view_state(spec: DashboardSpec, params: dict[str, Any], options: dict[str, list[str]]) -> dict:
    """The view a URL asks for, with the spec's defaults for what it leaves out or gets wrong
    (a link must always open: a bad period falls back to the report's default)."""
    try:
        asked = ReportRequest.parse(
            {k: params[k] for k in ("period", "start", "end") if params.get(k)}, report=spec.key
        )
        period, start, end = asked.period or spec.default_period, asked.start, asked.end
        check_window(Window(start, end)) if start and end else None
    except RequestError:
        period, start, end = spec.default_period, None, None
    if any(name in params for name in FILTER_NAMES):
        wanted = {name: _many(params.get(name)) for name in FILTER_NAMES}
    else:
        wanted = spec.default_filters.dimensions()
    filters = {
        name: [v for v in wanted.get(name, []) if v in options.get(name, [])]
        for name in FILTER_NAMES
    }
    refresh = _one(params.get("refresh"))
    return {
        "key": spec.key,
        "period": period,
        "start": start.isoformat() if start else None,
        "end": end.isoformat() if end else None,
        "filters": {k: v for k, v in filters.items() if v},
        "refresh": refresh if refresh in REFRESH_CHOICES else "off",
    }


def state_query(state: dict) -> str:
    """The query string of a view state ("?period=90d&plan=Pro+Monthly"); defaults left out."""
    pairs: list[tuple[str, str]] = [("period", state["period"])]
    if state["period"] == "custom":
        pairs += [("start", state["start"]), ("end", state["end"])]
    for name in FILTER_NAMES:
        pairs += [(name, value) for value in state["filters"].get(name, [])]
    if state["refresh"] != "off":
        pairs.append(("refresh", state["refresh"]))
    return "?" + urlencode(pairs)


def state_request(state: dict) -> ReportRequest:
    """The view state as the one request model (RequestError for a bad custom range)."""
    return ReportRequest.parse(
        {
            "report": state["key"],
            "period": state["period"],
            "start": state.get("start"),
            "end": state.get("end"),
            "filters": state.get("filters") or {},
        }
    )


def resolve_state(state: dict, found: Any = None) -> ResolvedRequest:
    """The view state resolved for the signed-in user: report, access, days, cap, row scope."""
    svc = services.current()
    return resolve(
        state_request(state),
        current_user._get_current_object(),
        svc,
        found=found,
        default_filters=False,  # view_state already applied the report's defaults
    )


def is_live(window: Window, timezone: str) -> bool:
    """Whether the window includes today: only then can its numbers still change."""
    return window.end >= today_in(timezone)


def _one(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[-1] if value else None
    return value or None


def _many(value: Any) -> list[str]:
    if value is None:
        return []
    return [v for v in (value if isinstance(value, list) else [value]) if v]


# ---------------------------------------------------------------------------------------------
# Layout


def layout(dashboard_id: str | None = None, **params: Any) -> html.Div:
    svc = services.current()
    principal = current_user._get_current_object()
    try:
        found = find_report(svc.store, dashboard_id or "")
    except ReportNotFound:
        return html.Div(
            [
                html.H1("Dashboard not found", className="h4"),
                dbc.Button("All dashboards", href="/"),
            ],
            className="py-5 text-center",
        )
    spec, tz = found.spec, svc.settings.report_timezone
    options = filter_options(svc, principal)
    state = view_state(spec, params, options)
    try:
        resolved = resolve_state(state, found)
    except RequestError as exc:
        return html.Div(exc.user_message, className="alert alert-warning")
    except AccessDenied as exc:
        _audit(svc, principal, spec.key, "denied")
        return html.Div(
            [html.H1("No access", className="h4"), html.P(exc.user_message)],
            className="py-5 text-center",
            id="dashboard-denied",
        )
    selected, window = resolved.requested, resolved.window
    formats = _export_formats(principal, found)
    _audit(svc, principal, spec.key, "ok", detail={"period": state["period"]})
    Dashboards(svc.store, audit_enabled=False).record_view(principal, spec.key)
    # The widgets' queries start now, not when the browser asks for each widget (bench/README.md).
    prefetch(
        spec, window, principal, svc, resource=found.resource, filters=resolved.filters or None
    )
    refresh_ms = REFRESH_CHOICES[state["refresh"]][1]
    return html.Div(
        [
            _toolbar(
                spec,
                state,
                window,
                selected,
                tz,
                editable=_may_edit(principal, found),
                formats=formats,
                freshness=data_freshness(svc, principal).label(tz),
            ),  # fmt: skip
            _filter_bar(state, options, _locked_filters(principal)),
            dcc.Store(id=IDS.STATE, data=state),
            dcc.Interval(
                id=IDS.INTERVAL,
                interval=refresh_ms or 60_000,
                # ENABLE_REAL_TIME_REPORTS=false turns auto-refresh off for everyone.
                disabled=not svc.settings.enable_real_time_reports
                or not refresh_ms
                or not is_live(window, tz),
            ),
            *_grid(spec, formats),
            # Mounting a graph makes the browser load plotly.js; this hidden one starts that
            # (and its parse) with the page instead of when the first chart arrives.
            graph(id="dashboard-plotly-preload", style={"display": "none"}),
        ],
        id="dashboard-page",
    )


def _audit(svc: Any, principal: Any, key: str, outcome: str, detail: dict | None = None) -> None:
    audit.record(
        svc.store,
        principal=principal,
        action="dashboard.view",
        target=key,
        outcome=outcome,
        ip=request.remote_addr,
        detail=detail,
        enabled=svc.settings.enable_audit_log,
    )


def _window_text(window: Window, selected: Window, tz: str) -> str:
    text = f"{window.label()} · {tz}"
    if window != selected:
        text += f" · limited to {window.days} days for your role"
    return text


def _locked_filters(principal: Any) -> dict[str, list[str]]:
    scope = row_scope(principal)
    return (
        {} if scope.unrestricted or scope.department is None else {"department": [scope.department]}
    )


def _export_formats(principal: Any, found: Any) -> list[str]:
    """The formats the export menus offer: the report's (its template's export_formats and chart
    images) that the settings turn on; none for a role that may not export it."""
    try:
        authorize(principal, "export", found.resource)
    except AccessDenied:
        return []
    return offered_formats(found.spec, services.current().settings.export_formats)


def _may_edit(principal: Any, found: Any) -> bool:
    """Saved dashboards the user may update get an Edit button (templates are cloned instead),
    while the builder is on (ENABLE_DASHBOARD_BUILDER)."""
    if found.version is None or not services.current().settings.enable_dashboard_builder:
        return False
    try:
        authorize(principal, "update", found.resource)
    except AccessDenied:
        return False
    return True


def _toolbar(
    spec: DashboardSpec,
    state: dict,
    window: Window,
    selected: Window,
    tz: str,
    *,
    editable: bool = False,
    formats: list[str] | None = None,
    freshness: str = "",
) -> html.Div:
    """The title, the days shown, how fresh the data is ("Data up to …"), and the controls."""
    buttons = dbc.ButtonGroup(
        [
            dbc.Button(
                p, id=IDS.period(p), outline=p != state["period"], color="primary", size="sm"
            )
            for p in PERIOD_DAYS
        ],
        className="me-2",
    )
    dates = dcc.DatePickerRange(
        id=IDS.DATES,
        start_date=selected.start.isoformat(),
        end_date=selected.end.isoformat(),
        max_date_allowed=today_in(tz).isoformat(),
        display_format="MMM D, YYYY",
        updatemode="bothdates",
        minimum_nights=0,
        className="dashboard-dates" + (" custom-active" if state["period"] == "custom" else ""),
    )
    real_time = services.current().settings.enable_real_time_reports
    refresh = html.Div(
        [
            html.Label(
                "Auto-refresh",
                htmlFor=IDS.AUTO_REFRESH,
                className="small text-secondary me-1",
                hidden=not real_time,
            ),
            # ENABLE_REAL_TIME_REPORTS=false: hidden (it stays in the layout: callbacks read it).
            dbc.Select(
                id=IDS.AUTO_REFRESH,
                options=[
                    {"label": label, "value": key} for key, (label, _) in REFRESH_CHOICES.items()
                ],
                value=state["refresh"],
                disabled=not real_time,
                size="sm",
                style={"width": "6.5rem"} if real_time else {"display": "none"},
            ),
            dbc.Button(
                "Refresh",
                id=IDS.REFRESH,
                color="secondary",
                outline=True,
                size="sm",
                className="ms-2",
            ),
            export_menu(spec.key, period=state["period"], formats=formats),
            *(
                [
                    dbc.Button(
                        "Edit",
                        href=f"/dashboards/{spec.key}/edit",
                        color="primary",
                        outline=True,
                        size="sm",
                        className="ms-2",
                        id="dashboard-edit-button",
                    )
                ]
                if editable
                else []
            ),
        ],
        className="d-flex align-items-center",
    )
    return html.Div(
        [
            html.Div(
                [
                    html.H1(spec.title, className="h4 mb-0"),
                    html.Div(
                        _window_text(window, selected, tz),
                        id=IDS.WINDOW,
                        className="small text-secondary",
                    ),
                    html.Div(freshness, id=IDS.FRESHNESS, className="small text-secondary"),
                ],
                className="me-auto",
            ),
            html.Div([buttons, dates], className="d-flex flex-wrap align-items-center gap-2"),
            refresh,
        ],
        className="d-flex flex-wrap align-items-end dashboard-toolbar mb-2",
    )


def _filter_bar(
    state: dict, options: dict[str, list[str]], locked: dict[str, list[str]] | None = None
) -> dbc.Row:
    """One dropdown per filter; a filter the role's row scope fixes (a manager's department) is
    shown with its value and disabled — the engine forces it anyway."""
    locked = locked or {}
    return dbc.Row(
        [
            dbc.Col(
                dcc.Dropdown(
                    id=IDS.filter(name),
                    options=[{"label": v, "value": v} for v in options.get(name, [])],
                    value=locked.get(name, state["filters"].get(name, [])),
                    multi=True,
                    disabled=name in locked,
                    placeholder=f"{LABELS[name]}: all",
                    className="dashboard-filter",
                ),
                xs=12,
                sm=6,
                lg=True,
                className="mb-2",
            )
            for name in FILTER_NAMES
        ],
        className="g-2 mb-2 dashboard-filters",
    )


def _grid(spec: DashboardSpec, formats: list[str] | None = None) -> list[dbc.Row]:
    rows: dict[int, list[Any]] = {}
    for widget in sorted(spec.widgets, key=lambda w: (w.position.y, w.position.x)):
        body = dcc.Loading(
            html.Div(id=IDS.body(widget.id), className="widget-body"),
            type="dot",
            delay_show=150,
            # Keep the previous drawing visible (dimmed) while a refresh runs.
            overlay_style={"visibility": "visible", "opacity": 0.5},
        )
        col = dbc.Col(
            widget_card(
                widget.id,
                widget.title,
                body,
                card=widget.type == "metric_card",
                menu=export_menu(spec.key, widget.id, formats=formats, chart=has_chart(widget)),
            ),
            xs=12,
            md=max(widget.position.w, 6),
            lg=widget.position.w,
            className="mb-3",
        )
        rows.setdefault(widget.position.y, []).append(col)
    return [dbc.Row(cols) for _, cols in sorted(rows.items())]


# ---------------------------------------------------------------------------------------------
# Callbacks


@callback(
    Output(IDS.STATE, "data"),
    Output(IDS.period(ALL), "outline"),
    Output(IDS.DATES, "start_date"),
    Output(IDS.DATES, "end_date"),
    Output(IDS.DATES, "className"),
    Output(IDS.WINDOW, "children"),
    Output(IDS.INTERVAL, "interval"),
    Output(IDS.INTERVAL, "disabled"),
    Input(IDS.period(ALL), "n_clicks"),
    Input(IDS.DATES, "start_date"),
    Input(IDS.DATES, "end_date"),
    Input(IDS.filter(ALL), "value"),
    Input(IDS.AUTO_REFRESH, "value"),
    State(IDS.STATE, "data"),
    prevent_initial_call=True,
)
def update_state(
    _clicks: list, start: str | None, end: str | None, values: list, refresh: str, state: dict
) -> tuple:
    svc, trigger = services.current(), dash.ctx.triggered_id
    state = {**state, "refresh": refresh if refresh in REFRESH_CHOICES else "off"}
    state["filters"] = {
        item["id"]["filter"]: value
        for item, value in zip(dash.ctx.inputs_list[3], values, strict=True)
        if value
    }
    if isinstance(trigger, dict) and trigger.get("type") == IDS.PERIOD:
        state.update(period=trigger["period"], start=None, end=None)
    elif trigger == IDS.DATES and start and end:
        state.update(period="custom", start=start[:10], end=end[:10])
    tz = svc.settings.report_timezone
    try:
        resolved = resolve_state(state)
    except RequestError as exc:  # e.g. a typed range that ends before it starts: keep the view
        return (*(dash.no_update,) * 5, f"⚠ {exc.user_message}", *(dash.no_update,) * 2)
    selected, window = resolved.requested, resolved.window
    state["search"] = state_query(state)
    refresh_ms = REFRESH_CHOICES[state["refresh"]][1]
    return (
        state,
        [p != state["period"] for p in PERIOD_DAYS],
        selected.start.isoformat(),
        selected.end.isoformat(),
        "dashboard-dates" + (" custom-active" if state["period"] == "custom" else ""),
        _window_text(window, selected, tz),
        refresh_ms or 60_000,
        not refresh_ms or not is_live(window, tz),
    )


# The address bar follows the state without a page reload (and without re-running the layout).
clientside_callback(
    """function (state) {
        if (state && state.search && window.location.search !== state.search) {
            window.history.replaceState(null, "", window.location.pathname + state.search);
        }
    }""",
    Input(IDS.STATE, "data"),
)


@callback(
    Output(IDS.body(MATCH), "children"),
    Input(IDS.STATE, "data"),
    Input(IDS.REFRESH, "n_clicks"),
    Input(IDS.INTERVAL, "n_intervals"),
    State(IDS.body(MATCH), "id"),
)
def update_widget(state: dict, _clicks: int | None, _ticks: int | None, body_id: dict) -> html.Div:
    svc, trigger = services.current(), dash.ctx.triggered_id
    tz = svc.settings.report_timezone
    try:
        resolved = resolve_state(state)
    except (AccessDenied, RequestError) as exc:
        return html.Div(exc.user_message, className="widget-error", role="alert")
    if trigger == IDS.INTERVAL and not is_live(resolved.window, tz):
        raise dash.exceptions.PreventUpdate  # settled days cannot change: nothing to refetch
    (result,) = run(
        resolved,
        svc,
        refresh=trigger in (IDS.REFRESH, IDS.INTERVAL),
        widgets=[resolved.spec.widget(body_id["widget"])],
    )
    return widget_body(result, svc.settings.report_currency)
