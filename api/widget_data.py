"""POST /api/reports/widget-data: the seed's dashboard widget contract (metric cards and Chart.js data).

    POST /api/reports/widget-data   {"type": "kpi_dashboard", "period": "30d", "source": "warehouse"}
    -> {"metrics": [{"key", "label", "value", "change"}],
        "chartData": {"labels": ["2026-01-01", ...], "datasets": [{"label", "data": [...]}]},
        "period": "30d", "window": {"start", "end", "days", "capped"}}

`type` is a report id (a template key or a saved dashboard), `period` 7d, 30d or 90d (the widget's
choices), `source` optional: one of the report's `data_sources`, or `warehouse`. The numbers come
from `engine.generate` like every other surface: the role's reports, department rows, date cap
(a longer period is cut to the cap, as on the dashboard, and `window.capped` says so) and masking.

`metrics` are the report's single-number widgets (metric cards, then gauges): `value` in the unit
shown (percentages in percent, with " (%)" in the label), `change` the change against the previous
period in percent, 1 decimal (the widget prints `+{{change}}%`), null when undefined. `chartData`
is the report's first line or area chart as the dashboard draws it (the same series and names),
empty when the report has none.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from flask import Response, jsonify, request

from api import ApiError, bp, document, json_body, principal, schema
from components.widgets import widget_figure
from engine import services
from engine.generate import WidgetResult, run
from engine.periods import PERIOD_DAYS
from engine.reports import ReportNotFound, find_report
from engine.request import ReportRequest, normalise_period, resolve
from engine.spec import DashboardSpec, WidgetSpec
from security import audit
from security.policy import AccessDenied

FIELDS = ("type", "period", "source")
DEFAULT_PERIOD = "30d"
CARD_TYPES = ("metric_card", "gauge")
CHART_TYPES = ("line", "area")
ALWAYS_SOURCES = ("warehouse",)


def allowed_sources(spec: DashboardSpec) -> list[str]:
    """The data sources a widget may name for `spec`: the report's own, and the warehouse."""
    return list(dict.fromkeys([*spec.data_sources, *ALWAYS_SOURCES]))


def widgets_used(spec: DashboardSpec) -> list[WidgetSpec]:
    """The widgets the answer needs: the number widgets and the first line or area chart."""
    cards = [w for w in spec.widgets if w.type in CARD_TYPES]
    chart = next((w for w in spec.widgets if w.type in CHART_TYPES), None)
    return sorted(cards, key=lambda w: CARD_TYPES.index(w.type)) + ([chart] if chart else [])


def _number(value: Any, digits: int | None = None) -> float | None:
    if value is None or pd.isna(value):
        return None
    number = float(value)
    if not math.isfinite(number):
        return None
    return round(number, digits) if digits is not None else number


def _gauge_numbers(result: WidgetResult) -> tuple[float | None, float | None]:
    """The latest row's value (as the gauge shows it) and its `change` column, if any."""
    frame, options = result.frame, result.widget.options
    column, order = options.get("value", "value"), options.get("x", "period_start")
    if frame is None or frame.empty or column not in frame:
        return None, None
    rows = frame.sort_values(order) if order in frame else frame
    last = rows.iloc[-1]
    return _number(last[column]), _number(last["change"]) if "change" in rows else None


def metric_json(result: WidgetResult) -> dict[str, Any]:
    """One metric of the widget contract from a card or gauge result."""
    widget = result.widget
    if widget.type == "gauge":
        value, change = _gauge_numbers(result)
    else:
        value, change = _number(result.value), _number(result.change)
    percent = widget.options.get("format") == "percent"
    if value is not None:
        value = round(value * 100, 2) if percent else round(value, 2)
    return {
        "key": widget.id,
        "label": widget.title + (" (%)" if percent else ""),
        "value": value,
        "change": None if change is None else round(change * 100, 1),
    }


def _iso(values: Any) -> list[str | None]:
    stamps = pd.to_datetime(pd.Series(list(values)), errors="coerce")
    return [None if pd.isna(s) else s.date().isoformat() for s in stamps]


def chart_json(result: WidgetResult | None) -> dict[str, Any]:
    """Chart.js data (`labels`, `datasets` of `{label, data}`) of a line or area widget: the
    traces of the dashboard's own figure, so series, order and names are the screen's."""
    empty: dict[str, Any] = {"labels": [], "datasets": []}
    if result is None or result.error or result.frame is None or result.frame.empty:
        return empty
    figure = widget_figure(result.widget, result.frame)
    traces = [t for t in (figure.data if figure is not None else ()) if t.x is not None]
    if not traces:
        return empty
    return {
        "labels": _iso(traces[0].x),
        "datasets": [
            {"label": t.name, "data": [_number(v) for v in (t.y if t.y is not None else ())]}
            for t in traces
        ],
    }


def widget_payload(results: list[WidgetResult]) -> dict[str, Any]:
    """The contract's body from the results of `widgets_used` (cards first, the chart last)."""
    cards = [r for r in results if r.widget.type in CARD_TYPES]
    chart = next((r for r in results if r.widget.type in CHART_TYPES), None)
    return {"metrics": [metric_json(r) for r in cards], "chartData": chart_json(chart)}


def _request() -> tuple[ReportRequest, str | None]:
    """The widget's body as the one request model: `type` is the report, `period` a preset."""
    body = json_body()
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise ApiError(400, "bad_request", f"{unknown[0]}: unknown field; send {', '.join(FIELDS)}")
    report_id, period, source = body.get("type"), body.get("period"), body.get("source")
    if not isinstance(report_id, str) or not report_id.strip():
        raise ApiError(400, "bad_request", "type: required, a report id such as kpi_dashboard")
    period = DEFAULT_PERIOD if period is None else normalise_period(period)
    if period not in PERIOD_DAYS:
        raise ApiError(
            400, "bad_request", f"period={period!r}: expected one of {', '.join(PERIOD_DAYS)}"
        )
    if source is not None and not isinstance(source, str):
        raise ApiError(400, "bad_request", "source: expected a string such as warehouse")
    return ReportRequest(report_id.strip(), period), source or None


@bp.post("/reports/widget-data")
def widget_data() -> Response:
    req, source = _request()
    report_id, period = req.report, req.period
    svc, who = services.current(), principal()
    try:
        found = find_report(svc.store, report_id)
    except ReportNotFound as exc:
        raise ApiError(404, "not_found", exc.user_message) from None
    if source is not None and source not in allowed_sources(found.spec):
        raise ApiError(
            400,
            "bad_request",
            f"source={source!r}: {report_id} reads {', '.join(allowed_sources(found.spec))}",
        )
    target = found.resource.label()

    def audited(outcome: str) -> None:
        audit.record(svc.store, principal=who, action="view", target=target, outcome=outcome,
                     ip=request.remote_addr, detail={"via": "widget-data", "period": period},
                     enabled=svc.settings.enable_audit_log)  # fmt: skip

    try:
        resolved = resolve(req, who, svc, found=found)
    except AccessDenied:
        audited("denied")
        raise
    results = run(resolved, svc, widgets=widgets_used(found.spec))
    audited("ok")
    actual = results[0].window if results else resolved.window
    return jsonify(
        **widget_payload(results),
        period=period,
        window={
            "start": actual.start.isoformat(),
            "end": actual.end.isoformat(),
            "days": actual.days,
            "capped": actual != resolved.requested,
        },
    )


# -- OpenAPI -------------------------------------------------------------------------------------------

_REQUEST = schema(
    "WidgetDataRequest",
    {
        "type": "object",
        "required": ["type"],
        "additionalProperties": False,
        "properties": {
            "type": {"type": "string", "description": "Report id: template key or dashboard slug"},
            "period": {"type": "string", "enum": list(PERIOD_DAYS), "default": DEFAULT_PERIOD},
            "source": {
                "type": "string",
                "nullable": True,
                "description": "One of the report's data_sources, or warehouse",
            },
        },
    },
)
_METRIC = {
    "type": "object",
    "required": ["key", "label", "value", "change"],
    "properties": {
        "key": {"type": "string", "description": "The widget id"},
        "label": {"type": "string"},
        "value": {"type": "number", "nullable": True, "description": "Percentages in percent"},
        "change": {
            "type": "number",
            "nullable": True,
            "description": "Change against the previous period in percent, 1 decimal",
        },
    },
}
_CHART = {
    "type": "object",
    "required": ["labels", "datasets"],
    "properties": {
        "labels": {"type": "array", "items": {"type": "string", "format": "date"}},
        "datasets": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["label", "data"],
                "properties": {
                    "label": {"type": "string"},
                    "data": {"type": "array", "items": {"type": "number", "nullable": True}},
                },
            },
        },
    },
}
_RESPONSE = schema(
    "WidgetDataResponse",
    {
        "type": "object",
        "required": ["metrics", "chartData"],
        "properties": {
            "metrics": {"type": "array", "items": _METRIC},
            "chartData": _CHART,
            "period": {"type": "string"},
            "window": {
                "type": "object",
                "properties": {
                    "start": {"type": "string", "format": "date"},
                    "end": {"type": "string", "format": "date"},
                    "days": {"type": "integer"},
                    "capped": {"type": "boolean"},
                },
            },
        },
    },
)
_ERROR = {"$ref": "#/components/responses/Error"}
document(
    "/api/reports/widget-data",
    "post",
    {
        "summary": "The seed's dashboard widget: metric cards and Chart.js data of a report",
        "operationId": "widgetData",
        "tags": ["reports"],
        "requestBody": {"required": True, "content": {"application/json": {"schema": _REQUEST}}},
        "responses": {
            "200": {
                "description": "Metrics and chart data",
                "content": {"application/json": {"schema": _RESPONSE}},
            },
            **{code: _ERROR for code in ("400", "401", "403", "404")},
        },
    },
)
