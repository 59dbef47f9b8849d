"""The one request model: what a dashboard view, a REST call, an export, a schedule run, an embed and
the seed's widget all ask for — a report, a period, filters, a format — parsed, validated and
resolved in one place.

    req = ReportRequest.parse({"report": "kpi_dashboard", "period": "30d", "plan": "Pro"})
    resolved = resolve(req, principal, services, action="export", cap="refuse")
    results = engine.generate.run(resolved, services)

`ReportRequest.parse` checks the shape (names, types, dates) and raises `RequestError` (a 400 that
names the field). `resolve` finds the report, checks the role may take the action on it, turns the
period into days, applies the role's date cap, forces the row scope on the filters (a manager's
department) and checks the format against the report's `export_formats` and the service's. Every
surface passes through it, so the lists below are the only lists of periods, formats and filters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from engine.periods import PERIOD_DAYS, PERIODS, Window, preset_window, today_in
from engine.reports import FoundReport, find_report
from engine.services import Services
from engine.spec import DATE_RANGE_PERIODS, FILTER_NAMES, FILTER_VALUES
from security.policy import AccessDenied, ClampMode, authorize, cap_window, row_scope
from security.users import Principal
from settings import EXPORT_FORMATS, IMAGE_FORMATS

# The periods a view, an export or the API may ask for; the seed's date_range names are aliases.
PERIOD_ALIASES: dict[str, str] = dict(DATE_RANGE_PERIODS)
# A schedule's periods: complete days before each run (engine/report_runner.py says which).
SCHEDULE_PERIODS: tuple[str, ...] = ("auto", "previous_day", *PERIOD_DAYS, "previous_month")
FORMATS: tuple[str, ...] = EXPORT_FORMATS
FORMAT_ALIASES = {"xlsx": "excel", "jpeg": "jpg", "image": ""}  # "" = IMAGE_EXPORT_FORMAT
FILTERS: tuple[str, ...] = FILTER_NAMES
EARLIEST_DAY = date(2000, 1, 1)
MAX_DAYS = 3660  # ten years


class RequestError(ValueError):
    """A request that cannot be served as asked: `field` names what is wrong (a 400)."""

    status = 400

    def __init__(self, field_name: str, user_message: str) -> None:
        super().__init__(user_message)
        self.field = field_name
        self.user_message = user_message


def normalise_period(value: Any, field_name: str = "period") -> str:
    """A period name (7d, 30d, 90d, custom, or the seed's last_7_days...) as one of PERIODS."""
    if not isinstance(value, str):
        raise RequestError(field_name, f"{field_name}: expected a string such as 30d")
    text = value.strip().lower()
    text = PERIOD_ALIASES.get(text, text)
    if text not in PERIODS:
        raise RequestError(
            field_name,
            f"{field_name}={value!r}: expected one of {', '.join(PERIODS)}"
            f" (or {', '.join(PERIOD_ALIASES)})",
        )
    return text


def normalise_format(value: Any, image_format: str = "png") -> str:
    """A format name as one of FORMATS ("image" is IMAGE_EXPORT_FORMAT, xlsx is excel)."""
    if not isinstance(value, str):
        raise RequestError("format", "format: expected a string such as pdf")
    text = value.strip().lower()
    text = FORMAT_ALIASES.get(text, text) or image_format
    if text not in FORMATS:
        raise RequestError(
            "format", f"format={value!r}: expected one of {', '.join(FORMATS)} or image"
        )
    return text


def _date(value: Any, field_name: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise RequestError(
            field_name, f"{field_name}={value!r}: expected a date YYYY-MM-DD"
        ) from None


def _filter_values(name: str, value: Any) -> tuple[str, ...]:
    values = value if isinstance(value, list | tuple) else [value]
    out = []
    for item in values:
        if item in (None, ""):
            continue
        if not isinstance(item, str | int | float) or isinstance(item, bool):
            raise RequestError(name, f"{name}: expected a string or a list of strings")
        out.append(str(item))
    return tuple(out)


@dataclass(frozen=True)
class ReportRequest:
    """What was asked for, checked for shape only (no store, no policy)."""

    report: str
    period: str | None = None  # None: the report's default period
    start: date | None = None
    end: date | None = None
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    format: str | None = None
    widget: str | None = None

    @classmethod
    def parse(
        cls,
        data: Mapping[str, Any],
        *,
        report: str | None = None,
        image_format: str = "png",
        extra: frozenset[str] = frozenset(),
    ) -> ReportRequest:
        """A request from a JSON body or a query string (lists for repeated keys).

        Keys: report (or report_id), period (or date_range), start, end, format, widget (or
        widget_id), filters (an object) or the filter names at the top level. Keys in `extra` are
        the caller's own and are ignored here; any other key is a RequestError naming it.
        """
        known = {"report", "report_id", "period", "date_range", "start", "end", "format"}
        known |= {"widget", "widget_id", "filters", *FILTERS, *extra}
        for key in data:
            if key not in known:
                raise RequestError(
                    key,
                    f"{key}: unknown field; expected report, period, start, end, filters"
                    f" ({', '.join(FILTERS)}), format or widget",
                )

        def one(key: str) -> Any:
            value = data.get(key)
            if isinstance(value, list) and key not in FILTERS:
                value = value[-1] if value else None
            return value

        name = report or one("report") or one("report_id")
        if not isinstance(name, str) or not name.strip():
            raise RequestError("report", "report: required (a template key or a dashboard id)")
        raw_period = one("period") or one("date_range")
        period = normalise_period(raw_period) if raw_period not in (None, "") else None
        start, end = _date(one("start"), "start"), _date(one("end"), "end")
        if period == "custom" and not (start and end):
            raise RequestError("period", "period: a custom period needs start and end (YYYY-MM-DD)")
        if (start or end) and period in (None, "custom"):
            if not (start and end):
                missing = "start" if not start else "end"
                raise RequestError(missing, f"{missing}: start and end go together")
            period = "custom"
        filters: dict[str, tuple[str, ...]] = {}
        nested = data.get("filters")
        if nested is not None and not isinstance(nested, Mapping):
            raise RequestError("filters", "filters: expected an object of filter name -> values")
        for key, value in [*(nested or {}).items(), *((k, data[k]) for k in FILTERS if k in data)]:
            if key not in FILTERS:
                raise RequestError(
                    f"filters.{key}",
                    f"filters.{key}: unknown filter; expected {', '.join(FILTERS)}",
                )
            values = _filter_values(key, value)
            bad = [v for v in values if key in FILTER_VALUES and v not in FILTER_VALUES[key]]
            if bad:
                hint = "; the role filter is user_role" if key == "user_type" else ""
                raise RequestError(
                    f"filters.{key}",
                    f"filters.{key}: {bad[0]!r} is not one of {', '.join(FILTER_VALUES[key])}{hint}",
                )
            if values:
                filters[key] = values
        fmt = one("format")
        widget = one("widget") or one("widget_id")
        if widget is not None and not isinstance(widget, str):
            raise RequestError("widget", "widget: expected a widget id")
        return cls(
            report=name.strip(),
            period=period,
            start=start if period == "custom" else None,
            end=end if period == "custom" else None,
            filters=filters,
            format=normalise_format(fmt, image_format) if fmt not in (None, "") else None,
            widget=widget or None,
        )


@dataclass(frozen=True)
class ResolvedRequest:
    """A request the principal may make, resolved: the report, the days, the scoped filters."""

    request: ReportRequest
    found: FoundReport
    principal: Principal
    period: str
    requested: Window  # the days asked for
    window: Window  # the days served: `requested` cut to the role's date cap
    filters: dict[str, list[str]]  # what the metrics get, row scope forced on top
    format: str | None = None

    @property
    def spec(self) -> Any:
        return self.found.spec

    @property
    def capped(self) -> bool:
        return self.window != self.requested

    @property
    def key(self) -> str:
        return self.found.resource.key or self.found.spec.key


def period_window(period: str, start: date | None, end: date | None, today: date) -> Window:
    """The days of a period ending `today` (presets), or [start, end] (custom)."""
    if period in PERIOD_DAYS:
        return preset_window(period, today)
    assert start is not None and end is not None  # ReportRequest.parse guarantees it
    return Window(start, end)


def check_window(window: Window) -> None:
    """A window the service can serve: in order, not before 2000, at most ten years."""
    if window.end < window.start:
        raise RequestError(
            "end", f"end: the custom period ends ({window.end}) before it starts ({window.start})"
        )
    if window.start < EARLIEST_DAY:
        raise RequestError("start", f"start={window.start}: the earliest day is {EARLIEST_DAY}")
    if window.days > MAX_DAYS:
        raise RequestError("start", "start: a period may span at most 10 years")


# Widgets drawn without a chart: a card shows a number, a table rows; neither is an image.
NO_CHART_TYPES = ("metric_card", "table")


def has_chart(widget: Any) -> bool:
    """Whether a widget draws a chart (line, bar, pie, funnel, heatmap, gauge...)."""
    return widget.type not in NO_CHART_TYPES


def offered_formats(
    spec: Any, allowed: tuple[str, ...] | None = None, widget: str | None = None
) -> list[str]:
    """The formats a report offers: its template's `export_formats`, plus chart images (the
    seed's image export, IMAGE_EXPORT_FORMAT, is its own component and offered for every report);
    `allowed` narrows them to what a surface or the settings offer. For one `widget` (an id),
    images only when it draws a chart."""
    listed = [*spec.export_formats, *(f for f in IMAGE_FORMATS if f not in spec.export_formats)]
    found = next((w for w in spec.widgets if w.id == widget), None) if widget else None
    if found is not None and not has_chart(found):
        listed = [f for f in listed if f not in IMAGE_FORMATS]
    return [f for f in listed if allowed is None or f in allowed]


def schedule_frequencies(spec: Any) -> list[str]:
    """The schedule frequencies a report offers (its template's `schedule_options`)."""
    options = spec.schedule_options
    return list(getattr(options, "frequencies", options))


def scoped_filters(principal: Principal, filters: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """The filters with the row scope forced on top: a manager's department filter is always their
    own department, whatever was asked for.

    Raises:
        AccessDenied: the principal's scope sees no rows (a manager without a department).
    """
    # "all" of revenue_type / user_type is no selection.
    out = {k: [x for x in v if x != "all"] for k, v in (filters or {}).items() if v}
    out = {k: v for k, v in out.items() if v}
    scope = row_scope(principal)
    if scope.sees_nothing:
        raise AccessDenied(
            "Your account has no department, so it sees no data. Ask an admin.", "read", None
        )
    if not scope.unrestricted:
        out["department"] = [scope.department]
    return out


def resolve(
    req: ReportRequest,
    principal: Principal,
    services: Services,
    *,
    action: str = "read",
    cap: ClampMode = "clamp",
    today: date | None = None,
    found: FoundReport | None = None,
    default_filters: bool = True,
    allowed_formats: tuple[str, ...] | None = None,
) -> ResolvedRequest:
    """`req` for `principal`: report found (ReportNotFound), action allowed (AccessDenied), days
    resolved and capped (RangeTooLong with cap="refuse"), filters scoped, format checked.

    Args:
        today: the last day of preset periods (default: today in REPORT_TIMEZONE).
        found: the report when the caller already looked it up.
        default_filters: without filters in the request, use the report's default filters.
        allowed_formats: the formats this surface offers (e.g. API_EXPORT_FORMATS); the report's
            own `export_formats` always apply too.
    """
    found = found or find_report(services.store, req.report)
    authorize(principal, action, found.resource)
    spec = found.spec
    period = req.period or spec.default_period
    last = today or today_in(services.settings.report_timezone)
    requested = period_window(period, req.start, req.end, last)
    check_window(requested)
    window = cap_window(principal, requested, cap)
    wanted: Mapping[str, Any] = dict(req.filters)
    if not wanted and default_filters:
        wanted = spec.default_filters.dimensions()
    fmt = req.format
    widget = next((w for w in spec.widgets if w.id == req.widget), None)
    if req.widget is not None and widget is None:
        raise RequestError("widget", f"widget: {req.widget!r} is not on {spec.key!r}")
    if fmt is not None:
        offered = offered_formats(spec, allowed_formats)
        if fmt not in offered:
            raise RequestError(
                "format",
                f"format: {fmt!r} is not offered for {spec.key!r}; choose one of "
                + (", ".join(offered) or "none"),
            )
        if widget is not None and fmt not in offered_formats(spec, allowed_formats, widget.id):
            kind = "a metric card" if widget.type == "metric_card" else "a table"
            raise RequestError(
                "format",
                f"format: {fmt!r} is an image, and the widget {widget.title!r} is {kind} with no "
                "chart to draw; choose one of "
                + (", ".join(offered_formats(spec, allowed_formats, widget.id)) or "none"),
            )
    return ResolvedRequest(
        request=req,
        found=found,
        principal=principal,
        period=period,
        requested=requested,
        window=window,
        filters=scoped_filters(principal, wanted),
        format=fmt,
    )
