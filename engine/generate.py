"""The one path every number takes: spec + period + principal -> metric results per widget."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from analytics.catalog import MetricError, run_metric
from datasources.errors import DataSourceError
from engine.periods import Window
from engine.services import Services
from engine.spec import DashboardSpec, WidgetSpec
from security.masking import mask_frame
from security.policy import AccessDenied, ClampMode, Resource, authorize, cap_window, row_scope
from security.users import Principal

log = logging.getLogger(__name__)


@dataclass
class WidgetResult:
    """What one widget shows: its rows, or a card's value and change, or a safe error message."""

    widget: WidgetSpec
    window: Window
    frame: pd.DataFrame | None = None
    value: float | None = None
    previous: float | None = None
    change: float | None = None
    sparkline: pd.DataFrame | None = None
    row_count: int = 0
    truncated_at: int | None = None
    error: str | None = None
    elapsed_ms: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)


def access_scope(principal: Principal) -> str:
    """What makes one user's rows differ from another's: part of every query cache key."""
    return row_scope(principal).cache_key()


def resource_for(spec: DashboardSpec) -> Resource:
    """The policy resource of a built-in spec (company-wide, shared per the policy); saved
    dashboards pass their own (engine.reports.find_report)."""
    return Resource.template(spec.key)


def authorize_spec(
    spec: DashboardSpec,
    window: Window,
    principal: Principal,
    *,
    action: str = "read",
    cap: ClampMode = "clamp",
    resource: Resource | None = None,
) -> Window:
    """Check `principal` may take `action` on `spec`; return the window cut to the role's date cap.

    Raises:
        AccessDenied: the role may not; RangeTooLong (a subclass) when `cap="refuse"` and the
            window is longer than the role's cap.
    """
    authorize(principal, action, resource or resource_for(spec))
    return cap_window(principal, window, cap)


def generate(
    spec: DashboardSpec,
    window: Window,
    principal: Principal,
    services: Services,
    *,
    refresh: bool = False,
    action: str = "read",
    cap: ClampMode = "clamp",
    resource: Resource | None = None,
) -> list[WidgetResult]:
    """Every widget of `spec` for `window`, queries in parallel within REPORT_CONCURRENT_LIMIT.

    Access is checked once here (AccessDenied propagates); the window is cut to the role's cap.
    """
    window = authorize_spec(spec, window, principal, action=action, cap=cap, resource=resource)
    workers = max(1, min(services.settings.report_concurrent_limit, len(spec.widgets)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="widget") as pool:
        futures = [
            pool.submit(_widget, w, window, principal, services, refresh=refresh)
            for w in spec.widgets
        ]
        return [f.result() for f in futures]


def generate_widget(
    spec: DashboardSpec,
    widget_id: str,
    window: Window,
    principal: Principal,
    services: Services,
    *,
    refresh: bool = False,
    cap: ClampMode = "clamp",
    resource: Resource | None = None,
) -> WidgetResult:
    """One widget of `spec` (each dashboard widget loads on its own); access checked as generate's."""
    window = authorize_spec(spec, window, principal, cap=cap, resource=resource)
    return _widget(spec.widget(widget_id), window, principal, services, refresh=refresh)


def _widget(
    widget: WidgetSpec,
    window: Window,
    principal: Principal,
    services: Services,
    *,
    refresh: bool = False,
) -> WidgetResult:
    """One widget's result; a failing metric or source becomes `error`, never an exception."""
    started = time.perf_counter()
    result = WidgetResult(widget=widget, window=window)
    source = services.sources.cached("warehouse", access_scope(principal), refresh=refresh)
    tz = services.settings.report_timezone
    try:
        if widget.type == "metric_card":
            _card(result, source, tz)
        else:
            frame = run_metric(widget.metric, source, _params(widget, window, tz))
            frame = mask_frame(frame, principal, enabled=services.settings.enable_pii_masking)
            _limit(result, frame, services.settings.report_max_rows)
    except AccessDenied:
        raise
    except (MetricError, DataSourceError) as exc:
        result.error = getattr(exc, "user_message", None) or str(exc)
        log.warning("widget %s failed: %s", widget.id, exc)
    except Exception:
        result.error = "This widget could not be computed. The error was logged."
        log.exception("widget %s failed", widget.id)
    result.elapsed_ms = (time.perf_counter() - started) * 1000
    return result


def _params(widget: WidgetSpec, window: Window, tz: str) -> dict[str, Any]:
    return {"start": window.start, "end": window.end, "timezone": tz, **widget.params}


def _limit(result: WidgetResult, frame: pd.DataFrame, max_rows: int) -> None:
    result.row_count = len(frame)
    if len(frame) > max_rows:
        result.truncated_at = max_rows
        frame = frame.iloc[:max_rows]
    result.frame = frame


def _card(result: WidgetResult, source: Any, tz: str) -> None:
    widget, window = result.widget, result.window
    column = widget.options.get("value", "value")
    if widget.options.get("mode", "last") == "period":
        # A flow (a rate over the period): the metric computed once over each whole window.
        current = run_metric(
            widget.metric, source, {**_params(widget, window, tz), "interval": "period"}
        )
        previous = run_metric(
            widget.metric, source, {**_params(widget, window.previous, tz), "interval": "period"}
        )
        result.value = _scalar(current, column)
        result.previous = _scalar(previous, column)
    else:
        # A stock (MRR, customers): the value at the end of each window, with the daily series as sparkline.
        x = widget.options.get("x", "date")
        frame = run_metric(
            widget.metric, source, {**_params(widget, window, tz), "start": window.previous.start}
        )
        frame = frame.sort_values(x)
        dates = pd.to_datetime(frame[x]).dt.date
        now, before = frame[dates <= window.end], frame[dates <= window.previous.end]
        result.value = _scalar(now, column)
        result.previous = _scalar(before, column)
        result.sparkline = frame[dates >= window.start][[x, column]]
    result.change = change_ratio(result.value, result.previous)


def _scalar(frame: pd.DataFrame, column: str) -> float | None:
    if frame.empty:
        return None
    value = frame[column].iloc[-1]
    return None if pd.isna(value) else float(value)


def change_ratio(value: float | None, previous: float | None) -> float | None:
    """Relative change against the previous period; None when it is undefined (no previous, or 0)."""
    if value is None or previous is None or previous == 0:
        return None
    return (value - previous) / abs(previous)
