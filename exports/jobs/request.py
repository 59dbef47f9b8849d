"""Checking an export request: its format, its period window and its filters, applied to the
widgets that honour them. Anything unusable is an `ExportRequestError` with an HTTP status."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from analytics.catalog import MetricError, get_metric, parse_params
from engine.periods import Window
from engine.spec import FILTER_NAMES, DashboardSpec
from exports import ExportError, ExportFormat
from settings import DATA_FORMATS

RESERVED_FILTERS = frozenset({"start", "end", "timezone", "interval"})


class ExportRequestError(ExportError):
    """A request that cannot become an export: `status` is the HTTP status (400, 404, 409, 410)."""

    def __init__(self, status: int, code: str, user_message: str) -> None:
        super().__init__(user_message, user_message)
        self.status, self.code = status, code


class ExportNotReady(ExportRequestError):
    """A download asked for while the export is still pending or running: a 202 with Retry-After
    and the job's status, never the file; `export_id` is the job to follow."""

    RETRY_AFTER_SECONDS = 2

    def __init__(self, export_id: str, status: str, progress: int) -> None:
        super().__init__(202, "not_ready", f"The export is still {status} ({progress} %).")
        self.export_id = export_id


def parse_format(raw: str, settings: Any, allowed: tuple[str, ...] | None = None) -> ExportFormat:
    """`raw` as an ExportFormat: "image" means IMAGE_EXPORT_FORMAT.

    A format the settings turn off (`Settings.format_off`: ENABLE_PDF_EXPORT, ENABLE_EXCEL_EXPORT
    and EXCEL_EXPORT_ENABLED, API_EXPORT_FORMATS for json/xml/csv) is an ExportRequestError 404
    naming the variable. `allowed` narrows the data formats (json, xml, csv) further; PDF, Excel
    and images follow their own switches only, so passing API_EXPORT_FORMATS keeps PDF on.
    An unknown or narrowed-out format is a 400 naming the accepted ones."""
    value = str(raw or "").strip().lower()
    if value == "image":
        value = settings.image_export_format
    try:
        fmt = ExportFormat.parse(value)
    except ExportError as exc:
        raise ExportRequestError(400, "bad_format", exc.user_message) from None
    off = settings.format_off(fmt.value)
    if off:
        raise ExportRequestError(404, "feature_off", off)
    if allowed is not None and fmt.value in DATA_FORMATS and fmt.value not in allowed:
        offered = [f for f in settings.export_formats if f not in DATA_FORMATS or f in allowed]
        names = ", ".join(offered) + (", image" if settings.image_export_format in offered else "")
        raise ExportRequestError(
            400,
            "bad_format",
            f"Export format {value!r} is not offered here; choose one of {names}.",
        )
    return fmt


def dimension_filters(filters: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """The dashboard dimension filters (processor, plan, country, department, user_type) among
    `filters`, as lists of strings: what `engine.generate(filters=...)` takes."""
    out: dict[str, list[str]] = {}
    for name, value in (filters or {}).items():
        if name in FILTER_NAMES and value not in (None, "", []):
            values = value if isinstance(value, list) else [value]
            out[name] = [str(v) for v in values]
    return out


def apply_filters(
    spec: DashboardSpec, filters: Mapping[str, Any] | None, window: Window, timezone: str
) -> DashboardSpec:
    """`spec` with the filters set on the widgets that honour them.

    A dimension filter (processor, plan, country, department, user_type) goes into the `filters`
    parameter of every metric that has one (as `engine.generate(filters=...)` does); any other name
    is set as a parameter of every widget whose metric accepts it. A filter no widget honours, a
    reserved name (start, end, timezone, interval) or a value the metrics reject is an
    ExportRequestError (400): an export never claims a filter its numbers do not honour.
    """
    if not filters:
        return spec
    if not isinstance(filters, Mapping):
        raise ExportRequestError(400, "bad_filters", "filters must be a JSON object.")
    for name, value in filters.items():
        if name in RESERVED_FILTERS:
            raise ExportRequestError(
                400, "bad_filters", f"Filter {name!r} is set by the period, not by a filter."
            )
        if not (value is None or isinstance(value, str | int | float | bool | list)):
            raise ExportRequestError(
                400, "bad_filters", f"Filter {name!r} must be a string, number, boolean or list."
            )
    dimensions = dimension_filters(filters)
    others = {k: v for k, v in filters.items() if k not in FILTER_NAMES}
    widgets, used = [], set()
    for widget in spec.widgets:
        metric = get_metric(widget.metric)
        accepted = metric.params.model_fields
        mine = {k: v for k, v in others.items() if k in accepted}
        if dimensions and "filters" in accepted:
            mine["filters"] = {**(widget.params.get("filters") or {}), **dimensions}
            used.update(dimensions)
        if not mine:
            widgets.append(widget)
            continue
        used.update(k for k in mine if k != "filters")
        params = {**widget.params, **mine}
        base = {"start": window.start, "end": window.end, "timezone": timezone}
        try:
            parse_params(metric, {**{k: v for k, v in base.items() if k in accepted}, **params})
        except MetricError as exc:
            raise ExportRequestError(400, "bad_filters", f"Filter rejected: {exc}") from None
        widgets.append(widget.model_copy(update={"params": params}))
    unknown = sorted(set(filters) - used - {k for k in FILTER_NAMES if k not in dimensions})
    if unknown:
        raise ExportRequestError(
            400,
            "bad_filters",
            f"Filter {unknown[0]!r} is not accepted by any widget of {spec.key!r}.",
        )
    return spec.model_copy(update={"widgets": widgets})


def applied_filters(results: Sequence[Any], filters: Mapping[str, Any] | None) -> dict[str, Any]:
    """The filters a report's header states: those its widgets actually applied (a manager's
    forced department, not the one asked for; none a widget left out), each noted when only some
    widgets applied it; other parameter filters (set on the widgets by `apply_filters`) as asked."""
    out: dict[str, Any] = {}
    widgets = [r for r in results if r.error is None]
    for name in FILTER_NAMES:
        used = [r.meta.get("filters_applied", {}).get(name) for r in widgets]
        values = next((v for v in used if v), None)
        if not values:
            continue
        shown = ", ".join(str(v) for v in values)
        skipped = sum(1 for v in used if not v)
        out[name] = shown + (
            f" (not applied to {skipped} of {len(used)} widgets)" if skipped else ""
        )
    for name, value in (filters or {}).items():
        if name not in FILTER_NAMES and value not in (None, "", []):
            out[name] = value
    return out
