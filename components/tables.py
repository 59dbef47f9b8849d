"""The comparison table: a DataFrame as a sortable, filterable dash-ag-grid in the house formats."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import dash_ag_grid as dag
import pandas as pd

from components.figures import _label
from components.formats import CURRENCY_SYMBOLS, cents

# Rows beyond this scroll inside the grid instead of growing the card.
AUTO_HEIGHT_ROWS = 12
ROW_PX = 42


def value_formatter(kind: str, currency: str = "USD") -> dict[str, str]:
    """An ag-grid valueFormatter (JavaScript run by dash-ag-grid, d3-format) for money, percent or
    number; a missing value shows as an em dash, as everywhere else."""
    if kind == "money":
        symbol = CURRENCY_SYMBOLS.get(currency, currency + " ").replace("'", "\\'")
        body = f"(params.value < 0 ? '-' : '') + '{symbol}' + d3.format(',.2f')(Math.abs(params.value))"
    elif kind == "percent":
        body = "d3.format('.1%')(params.value)"
    else:
        # Whole numbers without decimals, others with two (no `Number`: dash-ag-grid evaluates
        # these strings in a scope that has d3 and Math but not every global).
        body = "d3.format(Math.round(params.value) == params.value ? ',' : ',.2f')(params.value)"
    return {"function": f"params.value == null ? '—' : {body}"}


def column_defs(
    frame: pd.DataFrame,
    formats: Mapping[str, str] | None = None,
    *,
    default_format: str = "number",
    currency: str = "USD",
    labels: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """One column per frame column: numbers right-aligned with a number filter and a format,
    dates with a date filter, the rest with a text filter."""
    formats, labels = formats or {}, labels or {}
    defs = []
    for column in frame.columns:
        series = frame[column]
        col: dict[str, Any] = {"field": column, "headerName": labels.get(column, _label(column))}
        if pd.api.types.is_bool_dtype(series):
            col["filter"] = "agTextColumnFilter"
        elif pd.api.types.is_numeric_dtype(series):
            kind = formats.get(column, default_format)
            col.update(
                type="rightAligned",
                filter="agNumberColumnFilter",
                valueFormatter=value_formatter(kind, currency),
            )
        elif _is_date(series):
            col["filter"] = "agDateColumnFilter"
        else:
            col["filter"] = "agTextColumnFilter"
        defs.append(col)
    if defs:
        defs[0]["pinned"] = "left"  # the row label stays in view when a phone scrolls sideways
    return defs


def comparison_table(
    frame: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    formats: Mapping[str, str] | None = None,
    default_format: str = "number",
    currency: str = "USD",
    labels: Mapping[str, str] | None = None,
    grid_id: str | dict[str, str] | None = None,
) -> dag.AgGrid:
    """A grid of `frame` (or of its `columns`): click a header to sort, use its menu to filter."""
    frame = frame.loc[:, list(columns)] if columns else frame
    frame = numeric_columns(frame)
    frame = _money_in_cents(frame, formats or {}, default_format)
    defs = column_defs(
        frame, formats, default_format=default_format, currency=currency, labels=labels
    )
    auto = len(frame) <= AUTO_HEIGHT_ROWS
    kwargs = {"id": grid_id} if grid_id is not None else {}
    return dag.AgGrid(
        rowData=_records(frame),
        columnDefs=defs,
        defaultColDef={"sortable": True, "resizable": True, "minWidth": 110, "flex": 1},
        columnSize="responsiveSizeToFit",
        dashGridOptions={
            "domLayout": "autoHeight" if auto else "normal",
            "animateRows": False,
            "suppressCellFocus": True,
        },
        style={"width": "100%"} if auto else {"width": "100%", "height": f"{ROW_PX * 10}px"},
        className="comparison-table",
        **kwargs,
    )


def numeric_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns whose values are all numbers (a database's DECIMAL arrives as Python
    Decimals, or a column mixes ints and None) as floats, so they get a number format and filter
    instead of printing 176.33333333333334."""
    out = frame
    for column in frame.columns:
        series = frame[column]
        if series.dtype != object:
            continue
        values = series.dropna()
        if values.empty or not all(
            isinstance(v, int | float | Decimal) and not isinstance(v, bool) for v in values
        ):
            continue
        if out is frame:
            out = frame.copy()
        out[column] = pd.to_numeric(series, errors="coerce").astype(float)
    return out


def _money_in_cents(frame: pd.DataFrame, formats: Mapping[str, str], default: str) -> pd.DataFrame:
    """Money rounded half-up to cents here, so the grid shows the same cents as the cards
    (JavaScript's formatting of 175362.47499... would say .47 where the card says .48)."""
    out = frame.copy()
    for column in out.columns:
        if formats.get(column, default) == "money" and pd.api.types.is_numeric_dtype(out[column]):
            if pd.api.types.is_bool_dtype(out[column]):
                continue
            out[column] = [None if pd.isna(v) else float(cents(float(v))) for v in out[column]]
    return out


def _is_date(series: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(series):
        return True
    sample = series.dropna().head(1).tolist()
    return bool(sample) and hasattr(sample[0], "isoformat")


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-safe rows: dates as ISO strings (sortable as text), booleans as Yes/No, NaN as None."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if pd.api.types.is_bool_dtype(series):
            out[column] = series.map({True: "Yes", False: "No"})
        elif _is_date(series):
            out[column] = series.map(lambda v: None if pd.isna(v) else v.isoformat()[:10])
    out = out.astype(object).where(out.notna(), None)
    return out.to_dict("records")
