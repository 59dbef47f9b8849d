"""Column typing shared by the renderers: which columns are dates, money, percent, numbers or text."""

from __future__ import annotations

import datetime as dt
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
    """The kind of every column: the widget's `format` marks its value columns as money or percent."""
    fmt = widget.options.get("format", "number")
    ys = widget.options.get("y") or []
    value_columns = (
        {*ys, widget.options.get("value", "value")} if fmt in ("money", "percent") else set()
    )
    # Columns that are money by name, whatever the widget's format (tables mixing counts and revenue).
    out = []
    for name in frame.columns:
        series = frame[name]
        kind = _kind(series)
        if kind in ("integer", "number") and name in value_columns:
            kind = fmt
        out.append(Column(str(name), label(name), kind))
    return out


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


def wire_values(series: pd.Series, kind: str) -> list:
    """A column as plain Python values for text formats: ISO dates, int/float numbers, None for missing."""
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
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        out = values.tolist()
        if np.isnan(values).any() or np.isinf(values).any():
            return [None if (v != v or v in (float("inf"), float("-inf"))) else v for v in out]
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
