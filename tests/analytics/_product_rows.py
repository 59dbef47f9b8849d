"""Row builders and a runner shared by the product-metric tests (funnels, retention, trends...)."""

from __future__ import annotations

from typing import Any

import pandas as pd

import analytics.product  # noqa: F401  (registers the product metrics)
from analytics.catalog import CATALOG, parse_params
from datasources.sql import SQLSource

TEST_PERSON = 9  # a user of customer 2, which is a test account (D.7.8)


def events(*rows: tuple[Any, ...]) -> pd.DataFrame:
    """Events from (person_id, event, UTC timestamp[, properties]) tuples; uuids follow row order."""
    frame = pd.DataFrame(
        [
            {
                "uuid": f"e{i:05d}",
                "person_id": row[0],
                "event": row[1],
                "timestamp": row[2],
                "properties": row[3] if len(row) > 3 else {},
            }
            for i, row in enumerate(rows)
        ],
        columns=["uuid", "person_id", "event", "timestamp", "properties"],
    )
    frame["person_id"] = frame["person_id"].astype("Int64")
    return frame


def accounts() -> dict[str, pd.DataFrame]:
    """Customer 1 is real, customer 2 a test account; users 1-4 belong to 1, user 9 to 2.

    Persons 5+ (other than 9) have no users row: their events are kept.
    """
    return {
        "customers": pd.DataFrame(
            {"id": [1, 2], "account_name": ["Real", "Test"], "is_test": [False, True]}
        ),
        "users": pd.DataFrame({"id": [1, 2, 3, 4, TEST_PERSON], "customer_id": [1, 1, 1, 1, 2]}),
    }


def run(url: str, name: str, **raw: Any) -> pd.DataFrame:
    """Validate raw parameters like the CLI does and run metric `name` on the warehouse at `url`."""
    spec = CATALOG[name]
    frame = spec.fn(SQLSource("t", url), parse_params(spec, raw))
    assert list(frame.columns) == list(spec.columns)
    return frame


def column(frame: pd.DataFrame, name: str) -> list[Any]:
    """A column as plain Python values (dates as ISO strings, NaN as None)."""
    out = []
    for value in frame[name]:
        if value is None or (isinstance(value, float) and pd.isna(value)):
            out.append(None)
        elif hasattr(value, "isoformat"):
            out.append(value.isoformat())
        elif hasattr(value, "item"):
            out.append(value.item())
        else:
            out.append(value)
    return out
