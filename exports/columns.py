"""Column typing shared by the renderers: which columns are dates, money, percent, numbers or text."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # engine types only: renderers run without importing the engine
    from engine.spec import WidgetSpec


KINDS = ("date", "datetime", "money", "percent", "integer", "number", "boolean", "text")


@dataclass(frozen=True)
class Column:
    """One exported column: its name in the frame, a reader-friendly label and its kind (see KINDS)."""

    name: str
    label: str
    kind: str


ACRONYMS = {
    "mrr": "MRR",
    "arr": "ARR",
    "clv": "CLV",
    "arpu": "ARPU",
    "id": "ID",
    "dau": "DAU",
    "mau": "MAU",
    "wau": "WAU",
}


def label(name: str) -> str:
    """'revenue_ma7' -> 'Revenue (7-day avg)', 'customer_id' -> 'Customer ID', 'mrr' -> 'MRR'."""
    words = str(name).replace("_ma7", " (7-day avg)").replace("_", " ").split(" ")
    text = " ".join(ACRONYMS.get(w.lower(), w) for w in words)
    return text[:1].upper() + text[1:]


def columns_of(frame: pd.DataFrame, widget: WidgetSpec) -> list[Column]:
    """The kind of every column, from the widget's declared formats as the dashboard uses them:
    `options.formats` names a column's format; otherwise `options.format` marks the value columns
    (`y`, `value`) and, in a table, every non-integer number column (an id is never money)."""
    fmt = widget.options.get("format", "number")
    formats = widget.options.get("formats") or {}
    ys = widget.options.get("y") or []
    value_columns = {*ys, widget.options.get("value", "value")}
    out = []
    for name in frame.columns:
        kind = _kind(frame[name])
        if kind in ("integer", "number"):
            declared = formats.get(name)
            if declared is None and fmt in ("money", "percent") and not _is_id(str(name)):
                in_table = widget.type == "table" and kind == "number"
                declared = fmt if name in value_columns or in_table else None
            if declared in ("money", "percent"):
                kind = declared
        out.append(Column(str(name), label(name), kind))
    return out


def _is_id(name: str) -> bool:
    return name.lower() == "id" or name.lower().endswith("_id")


def _kind(series: pd.Series) -> str:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        values = series.dropna()
        if getattr(dtype, "tz", None) is None and (
            values.empty or (values.dt.normalize() == values).all()
        ):
            return "date"
        return "datetime"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_numeric_dtype(dtype):
        return "number"
    first = series.dropna().head(50)
    if not first.empty and all(
        isinstance(v, Decimal | int | float) and not isinstance(v, bool) for v in first
    ):
        return "number"  # NUMERIC columns from PostgreSQL arrive as Decimal objects
    if not first.empty and all(
        isinstance(v, dt.date) and not isinstance(v, dt.datetime) for v in first
    ):
        return "date"
    if not first.empty and all(isinstance(v, dt.datetime) for v in first):
        return "datetime"
    return "text"


def normalise(frame: pd.DataFrame, columns: list[Column], timezone: str) -> pd.DataFrame:
    """Dates as naive datetime64 in the report's time zone (files carry no zone; the header says which)."""
    changed = {}
    for col in columns:
        series = frame[col.name]
        if col.kind in ("date", "datetime"):
            if not pd.api.types.is_datetime64_any_dtype(series.dtype):
                series = pd.to_datetime(series, utc=col.kind == "datetime" and _any_aware(series))
            if getattr(series.dtype, "tz", None) is not None:
                series = series.dt.tz_convert(timezone).dt.tz_localize(None)
            changed[col.name] = series.astype("datetime64[us]")
    return frame.assign(**changed) if changed else frame


def _any_aware(series: pd.Series) -> bool:
    return any(getattr(v, "tzinfo", None) is not None for v in series.dropna().head(50))


def chunks(frame: pd.DataFrame, size: int = 20_000) -> Iterator[pd.DataFrame]:
    for start in range(0, len(frame), size):
        yield frame.iloc[start : start + size]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """A text cell a spreadsheet would run as a formula (OWASP CSV injection: it starts with
    = + - @, a tab or CR) gets a leading single quote; numbers never pass through here."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


# Decimals each numeric kind carries in CSV, JSON and XML: money to cents, rates (0.0425 is
# 4.25 %) to 4 decimals, any other number to 6 decimals; counts are integers.
DECIMALS = {"money": 2, "percent": 4, "number": 6}


def rounded(values: np.ndarray, kind: str) -> np.ndarray:
    """Float values rounded to their kind's decimals, half away from zero (as the cards: 175362.475
    is .48), after absorbing binary noise; NaN and inf stay as they are."""
    digits = DECIMALS.get(kind, 6)
    scale = 10.0**digits
    # First to 4 more decimals (as components.formats.cents), then the scaled value's own float
    # noise: 175362.475 * 100 = 17536247.499999996 -> 17536247.5.
    scaled = np.round(np.round(values, digits + 4) * scale, 4)
    return np.sign(scaled) * np.floor(np.abs(scaled) + 0.5) / scale


def number_value(value: float | None, kind: str) -> float | int | None:
    """One value as the text formats write it: rounded to its kind, a whole number as an int,
    None for missing or infinite."""
    if value is None or value is pd.NA or not math.isfinite(float(value)):
        return None
    out = float(rounded(np.array([float(value)]), kind)[0])
    return int(out) if kind in ("number", "integer") and out.is_integer() else out


def wire_values(series: pd.Series, kind: str) -> list:
    """A column as plain Python values for text formats: ISO dates, int/float numbers rounded to
    their kind (see DECIMALS), None for missing."""
    if kind == "date":
        out = np.datetime_as_string(series.to_numpy(dtype="datetime64[D]"), unit="D").tolist()
        return [None if v == "NaT" else v for v in out] if series.isna().any() else out
    if kind == "datetime":
        out = np.datetime_as_string(series.to_numpy(dtype="datetime64[s]"), unit="s").tolist()
        return [None if v == "NaT" else v for v in out] if series.isna().any() else out
    if kind == "integer":
        if series.isna().any():
            return [None if pd.isna(v) else int(v) for v in series.tolist()]
        return series.to_numpy().tolist()
    if kind in ("number", "money", "percent"):
        values = rounded(series.to_numpy(dtype="float64", na_value=np.nan), kind)
        finite = np.isfinite(values)
        whole = finite.all() and (values == np.floor(values)).all()
        if kind == "number" and whole and (np.abs(values) < 2**53).all():
            return values.astype(np.int64).tolist()  # counts that arrived as floats
        out = values.tolist()
        if kind == "number":
            out = [
                int(v) if f and v.is_integer() else v
                for v, f in zip(out, finite.tolist(), strict=True)
            ]
        if not finite.all():
            return [v if f else None for v, f in zip(out, finite.tolist(), strict=True)]
        return out
    if kind == "boolean":
        return [None if pd.isna(v) else bool(v) for v in series.tolist()]
    return [None if _missing(v) else str(v) for v in series.tolist()]


def _missing(value: object) -> bool:
    return (
        value is None
        or (isinstance(value, float) and value != value)
        or value is pd.NA
        or value is pd.NaT
    )
