"""The one path every number takes: spec + period + principal -> metric results per widget."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd

from analytics.catalog import MetricError, get_metric, run_metric
from analytics.freshness import Freshness, blank_unfinished, freshness, table_of, trim_after
from datasources.errors import DataSourceError
from engine import performance
from engine.periods import Window
from engine.request import ResolvedRequest, scoped_filters
from engine.services import Services
from engine.spec import DashboardSpec, WidgetSpec
from security.masking import mask_frame
from security.policy import AccessDenied, ClampMode, Resource, authorize, cap_window, row_scope
from security.users import Principal

log = logging.getLogger(__name__)

# Filters of a dashboard (analytics.filters.FILTER_NAMES) -> values.
Filters = Mapping[str, list[str]]


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
    fetches: int = 0  # queries asked of the cached source
    cache_hits: int = 0  # of which answered from the query cache
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
    filters: Filters | None = None,
    record: bool = True,
) -> list[WidgetResult]:
    """Every widget of `spec` for `window`, queries in parallel within REPORT_CONCURRENT_LIMIT.

    Access is checked once here (AccessDenied propagates); the window is cut to the role's cap.
    `filters` reach the metrics whose parameters have a `filters` field; other widgets note in
    `meta["filters_ignored"]` that they were not filtered. The generation's time is recorded
    (engine.performance) unless `record` is false (a caller generating in parts records the whole).
    """
    started = time.perf_counter()
    window = authorize_spec(spec, window, principal, action=action, cap=cap, resource=resource)
    results = _widgets(spec.widgets, window, principal, services, refresh=refresh, filters=filters)
    if record:
        elapsed = (time.perf_counter() - started) * 1000
        performance.record(services, report_key(spec, resource), results, elapsed)
    return results


def run(
    resolved: ResolvedRequest,
    services: Services,
    *,
    refresh: bool = False,
    widgets: list[WidgetSpec] | None = None,
) -> list[WidgetResult]:
    """Every widget of a resolved request (or its one `widget`, or `widgets` of its spec): access,
    days and filters were settled once by `engine.request.resolve`, so nothing is looked up or
    authorized again. A whole report's time is recorded as a generation (engine.performance),
    a part of it as widget loads."""
    started = time.perf_counter()
    whole = widgets is None and resolved.request.widget is None
    if widgets is None:
        widgets = resolved.spec.widgets
    if resolved.request.widget is not None:
        widgets = [resolved.spec.widget(resolved.request.widget)]
    results = _widgets(
        widgets,
        resolved.window,
        resolved.principal,
        services,
        refresh=refresh,
        filters=resolved.filters,
    )
    elapsed = (time.perf_counter() - started) * 1000 if whole else None
    performance.record(services, resolved.key, results, elapsed)
    return results


def _widgets(
    widgets: list[WidgetSpec],
    window: Window,
    principal: Principal,
    services: Services,
    *,
    refresh: bool,
    filters: Filters | None,
) -> list[WidgetResult]:
    """The widgets' results, queries in parallel within REPORT_CONCURRENT_LIMIT."""
    workers = max(1, min(services.settings.report_concurrent_limit, len(widgets)))
    fresh = data_freshness(services, principal, refresh=refresh)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="widget") as pool:
        futures = [
            pool.submit(
                _widget,
                w,
                window,
                principal,
                services,
                refresh=refresh,
                filters=filters,
                fresh=fresh,
            )
            for w in widgets
        ]
        return [f.result() for f in futures]


def report_key(spec: DashboardSpec, resource: Resource | None = None) -> str:
    """The id timings are recorded under: the policy resource's key (a template's key, a saved
    dashboard's slug), as GET /api/reports/performance/<id> finds it."""
    return (resource or resource_for(spec)).key or spec.key


def prefetch(
    spec: DashboardSpec,
    window: Window,
    principal: Principal,
    services: Services,
    *,
    resource: Resource | None = None,
    filters: Filters | None = None,
) -> bool:
    """Start every widget of `spec` in a background thread, to fill the query cache; True if started.

    A dashboard page calls this while it builds its layout: the browser asks for each widget in
    its own request only after the page has rendered (and at most 6 at a time per host), so
    without it the queries start ~0.3 s late and the last widgets wait for the first ones. The
    widgets' own requests then join the running queries (single-flight) or read the cache; the
    results computed here are dropped. Only with the query cache on: without it a finished
    prefetch would not be reused and every query would run twice.
    """
    if not services.sources.cache.enabled:
        return False

    def fill() -> None:
        try:
            generate(
                spec, window, principal, services, resource=resource, filters=filters, record=False
            )
        except Exception:  # an error is the widget's own request's to report
            log.debug("prefetch of %s failed", spec.key, exc_info=True)

    threading.Thread(target=fill, name=f"prefetch-{spec.key}", daemon=True).start()
    return True


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
    filters: Filters | None = None,
) -> WidgetResult:
    """One widget of `spec` (each dashboard widget loads on its own); access checked as generate's."""
    window = authorize_spec(spec, window, principal, cap=cap, resource=resource)
    result = _widget(
        spec.widget(widget_id),
        window,
        principal,
        services,
        refresh=refresh,
        filters=filters,
        fresh=data_freshness(services, principal, refresh=refresh),
    )
    performance.record(services, report_key(spec, resource), [result])
    return result


def _widget(
    widget: WidgetSpec,
    window: Window,
    principal: Principal,
    services: Services,
    *,
    refresh: bool = False,
    filters: Filters | None = None,
    fresh: Freshness | None = None,
) -> WidgetResult:
    """One widget's result; a failing metric or source becomes `error`, never an exception.

    Days after the warehouse's last loaded day (`fresh`) are cut from day-indexed series, and
    cohort periods not over by then are blanked (`_after_data`)."""
    started = time.perf_counter()
    window = _widget_window(widget, window, principal)
    result = WidgetResult(widget=widget, window=window)
    source = services.sources.cached("warehouse", access_scope(principal), refresh=refresh)
    tz = services.settings.report_timezone
    try:
        params = _params(widget, window, tz, principal)
        filters = scoped_filters(principal, filters)
        applied = _apply_filters(result, filters)
        if applied:
            params["filters"] = applied
            result.meta["filters_applied"] = applied
        last_day = _last_day(widget, fresh, tz)
        if last_day is not None:
            result.meta["data_until"] = last_day.isoformat()
        if widget.type == "metric_card":
            _card(result, source, params, last_day)
        else:
            frame = _after_data(widget, run_metric(widget.metric, source, params), params, last_day)
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
    result.fetches = sum(source.outcomes.as_dict()[k] for k in ("hits", "misses", "coalesced"))
    result.cache_hits = source.outcomes.hits
    return result


# Why a revenue metric leaves a filter out, for the widget's note.
_WHY_IGNORED = {
    "revenue_type": "MRR and the metrics built on it are recurring revenue by definition",
    "user_type": "it counts accounts and revenue, not active persons",
}


def _apply_filters(result: WidgetResult, filters: Filters) -> dict[str, list[str]]:
    """The filters the widget's metric honours; the others are noted in `meta["filters_ignored"]`
    with the reason in `meta["filters_note"]` (e.g. MRR is recurring by definition)."""
    if not filters:
        return {}
    spec = get_metric(result.widget.metric)
    ignored = (
        spec.ignored_filters(filters) if "filters" in spec.params.model_fields else sorted(filters)
    )
    if ignored:
        result.meta["filters_ignored"] = ignored
        reasons = [
            f"{n.replace('_', ' ')}: {_WHY_IGNORED[n]}" for n in ignored if n in _WHY_IGNORED
        ]
        if reasons and spec.group != "product":
            result.meta["filters_note"] = "Not applied here — " + "; ".join(reasons) + "."
    return {k: list(v) for k, v in filters.items() if k not in ignored}


def _params(
    widget: WidgetSpec, window: Window, tz: str, principal: Principal | None = None
) -> dict[str, Any]:
    """The window and time zone (for the metrics that take them), then the widget's own params.

    A widget's own `start`/`end` replace the window's days, but never escape the role's date cap:
    the final days are cut to it here, after every parameter.
    """
    accepted = get_metric(widget.metric).params.model_fields
    base = {"start": window.start, "end": window.end, "timezone": tz}
    params = {**{k: v for k, v in base.items() if k in accepted}, **widget.params}
    if principal is not None and ("start" in widget.params or "end" in widget.params):
        try:
            own = Window(
                _as_date(params.get("start", window.start)), _as_date(params.get("end", window.end))
            )
        except ValueError:
            return params  # the metric's own validation names the bad date
        if own.start <= own.end:
            capped = cap_window(principal, own, "clamp")
            params["start"], params["end"] = capped.start, capped.end
    return params


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _widget_window(widget: WidgetSpec, window: Window, principal: Principal) -> Window:
    """A widget with `options.window_days` (a cohort table needs months) sees at least that many
    days ending on the selected end, still cut to the role's cap."""
    days = int(widget.options.get("window_days") or 0)
    if days <= window.days:
        return window
    return cap_window(principal, Window(window.end - timedelta(days=days - 1), window.end), "clamp")


def _limit(result: WidgetResult, frame: pd.DataFrame, max_rows: int) -> None:
    result.row_count = len(frame)
    if len(frame) > max_rows:
        result.truncated_at = max_rows
        frame = frame.iloc[:max_rows]
    result.frame = frame


def data_freshness(services: Services, principal: Principal, *, refresh: bool = False) -> Freshness:
    """How fresh the warehouse is, as `principal` reads it (one cached query per table); empty
    when the source cannot say."""
    source = services.sources.cached("warehouse", access_scope(principal), refresh=refresh)
    try:
        return freshness(source)
    except Exception:  # freshness only cuts series and labels pages: never fail a widget on it
        log.warning("warehouse freshness unavailable", exc_info=True)
        return Freshness()


def _last_day(widget: WidgetSpec, fresh: Freshness | None, tz: str) -> date | None:
    """The last local day the widget's metric has data for (analytics.freshness.table_of), if
    known; None for a metric whose days do not stop with the loaded rows (MRR, a stock)."""
    spec = get_metric(widget.metric)
    table = table_of(spec.group, spec.filters)
    if fresh is None:
        return None
    if table is None:
        # A cohort's month is unfinished until everything is loaded past it, whatever it reads.
        return fresh.last_day(tz) if widget.type == "cohort_heatmap" else None
    return fresh.last_day(tz, table)


def _interval(metric: str, params: dict[str, Any], default: str | None = None) -> str | None:
    field = get_metric(metric).params.model_fields.get("interval")
    return str(params.get("interval", field.default if field is not None else default))


def _after_data(
    widget: WidgetSpec, frame: pd.DataFrame, params: dict[str, Any], last_day: date | None
) -> pd.DataFrame:
    """`frame` without the days after `last_day` (a day-indexed `date`, or a period starting after
    it), and for a cohort heatmap with its unfinished periods blank.

    Done here rather than in each metric: the metrics take any [start, end] and know nothing of
    the warehouse's freshness, and every surface passes here. A week/month snapshot's `date` is
    its period's last day cut at `end`, so only day-indexed `date` columns are cut.
    """
    if widget.type == "cohort_heatmap":
        # A period is unfinished until both the window and the loaded data are past it.
        end = params.get("end")
        ends = [d for d in (last_day, _as_date(end) if end else None) if d is not None]
        last_day = min(ends, default=None)
        options = widget.options
        cohort, period = options.get("cohort", "cohort"), options.get("period", "period")
        value = options.get("value", "count")
        interval = _interval(widget.metric, params, "month") or "month"
        return blank_unfinished(frame, cohort, period, [value], interval, last_day)
    if last_day is None:
        return frame
    if "date" in frame.columns and _interval(widget.metric, params, "day") == "day":
        return trim_after(frame, "date", last_day)
    return trim_after(frame, "period_start", last_day)


def _card(
    result: WidgetResult, source: Any, params: dict[str, Any], last_day: date | None = None
) -> None:
    widget, window = result.widget, result.window
    column = widget.options.get("value", "value")
    if widget.options.get("mode", "last") == "period":
        # A flow (a rate over the period): the metric computed once over each whole window.
        # Metrics without an interval (dau_mau_summary) are one row per window already.
        whole = (
            {"interval": "period"}
            if "interval" in get_metric(widget.metric).params.model_fields
            else {}
        )
        # The two windows are independent queries: run the previous one alongside.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="card-previous") as pool:
            previous_future = pool.submit(
                run_metric,
                widget.metric,
                source,
                {**params, "start": window.previous.start, "end": window.previous.end, **whole},
            )
            current = run_metric(widget.metric, source, {**params, **whole})
            previous = previous_future.result()
        result.value = _scalar(current, column)
        result.previous = _scalar(previous, column)
    else:
        # A stock (MRR, customers): the value at the end of each window, with the daily series as sparkline.
        x = widget.options.get("x", "date")
        frame = run_metric(widget.metric, source, {**params, "start": window.previous.start})
        frame = _after_data(widget, frame, params, last_day).sort_values(x)
        dates = pd.to_datetime(frame[x]).dt.date
        now, before = frame[dates <= window.end], frame[dates <= window.previous.end]
        field = get_metric(widget.metric).params.model_fields.get("interval")
        interval = params.get("interval", field.default if field is not None else None)
        if interval in ("week", "month"):
            upto = min(window.end, last_day) if last_day is not None else window.end
            now = _latest_period(result, now, column, x, str(interval), upto)
        result.value = _scalar(now, column)
        result.previous = _scalar(before, column)
        result.sparkline = frame[dates >= window.start][[x, column]]
    result.change = change_ratio(result.value, result.previous)


def _latest_period(
    result: WidgetResult,
    rows: pd.DataFrame,
    column: str,
    x: str,
    interval: str,
    end: date | None = None,
) -> pd.DataFrame:
    """A "this month" card's rows up to the period it shows, labelled in `meta["period_label"]`.

    The current period is shown so far ("month to date, Dec 1–3"); when it has no value yet (no
    trial decided on the 1st), the latest period with one is shown instead, saying so — never
    an empty card while an earlier period has a value.
    """
    if rows.empty:
        return rows
    end = end or result.window.end  # the window's end, or the data's last day before it
    starts = pd.to_datetime(rows[x]).dt.date
    valued = rows[column].notna().to_numpy()
    if valued[-1] or not valued.any():
        result.meta["period_label"] = period_label(starts.iloc[-1], interval, end)
        return rows
    shown = int(valued.nonzero()[0][-1])
    label = period_label(starts.iloc[shown], interval, end)
    current = period_label(starts.iloc[-1], interval, end)
    result.meta["period_label"] = f"{label} (no value yet for {current})"
    return rows.iloc[: shown + 1]


def period_label(first: date, interval: str, end: date) -> str:
    """A week or month starting `first` as a card names it: "month to date, Dec 1–3" while `end`
    is inside it, else "December 2026" / "week of Nov 30, 2026"."""
    if interval == "month":
        last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    else:
        last = first + timedelta(days=6)
    if end <= first:
        return f"{interval} to date, {first:%b %-d}"
    if end < last:
        upto = f"{end:%-d}" if end.month == first.month else f"{end:%b %-d}"
        return f"{interval} to date, {first:%b %-d}–{upto}"
    return f"{first:%B %Y}" if interval == "month" else f"week of {first:%b %-d, %Y}"


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
