"""Derived revenue tables (read-only DuckDB): the same numbers as the inline SQL, built once.

On a read-only DuckDB file the revenue segments are read from tables the service derives once
per open source (analytics/_revenue_sql.derived_segments); every other engine inlines the same
SQL. Both paths must give identical results for every revenue metric, filtered or not, in any
time zone.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from analytics.catalog import list_metrics, run_metric
from datasources.base import DERIVED_SCHEMA, Query
from datasources.sql import SQLSource
from demo.generator import generate
from demo.schema import load_frames

TODAY = date(2026, 6, 15)
RANGE = {"start": str(TODAY - timedelta(days=200)), "end": str(TODAY - timedelta(days=1))}
EXTRA = {"kpi_progress": {"kpi": "mrr"}}


class InlineSource(SQLSource):
    """The same read-only DuckDB file, but queried as if it could not keep derived tables."""

    @property
    def can_derive(self) -> bool:
        return False


@pytest.fixture(scope="module")
def warehouse_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"duckdb:///{tmp_path_factory.mktemp('derived') / 'w.duckdb'}"
    load_frames(url, generate("tiny", seed=11, today=TODAY))
    return url


@pytest.mark.parametrize("timezone", ["UTC", "America/New_York"])
@pytest.mark.parametrize(
    "filters",
    [
        None,
        {"department": ["Sales"]},
        {"plan": ["Pro Monthly"]},
        {"processor": ["paddle"]},
        {"revenue_type": ["recurring"]},
    ],
)
def test_every_revenue_metric_is_identical_from_derived_tables_and_inline_sql(
    warehouse_url, timezone, filters
):
    derived, inline = SQLSource("d", warehouse_url), InlineSource("i", warehouse_url)
    assert derived.can_derive and not inline.can_derive
    revenue = [spec.name for spec in list_metrics() if spec.group == "revenue"] + ["kpi_progress"]
    assert len(revenue) >= 20, revenue
    for name in revenue:
        params = {**RANGE, **EXTRA.get(name, {}), "timezone": timezone}
        if filters:
            params["filters"] = filters
        got = run_metric(name, derived, params)
        want = run_metric(name, inline, params)
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12, obj=name)
        if name in ("mrr", "revenue_trend", "trial_conversion", "cohort_ltv"):
            assert got.drop(columns=got.columns[0]).fillna(0).to_numpy().sum() > 0, name
    tables = derived.execute(
        Query(f"SELECT table_name FROM duckdb_tables() WHERE database_name = '{DERIVED_SCHEMA}'")
    )["table_name"].tolist()
    # One table of each kind per time zone, shared by filtered and unfiltered runs.
    kinds = sorted(t.removeprefix("revenue_").rsplit("_", 1)[0] for t in tables)
    assert kinds == ["cpay", "delta", "outcome", "pay", "plan_pay", "seg"], tables
    derived.close()
    inline.close()


def test_derived_tables_are_built_once_and_do_not_outlive_the_open_file(tmp_path: Path, caplog):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    frames = generate("tiny", seed=3, today=TODAY)
    load_frames(url, frames)
    params = {**RANGE, "interval": "month"}
    caplog.set_level(logging.INFO, logger="datasources.sql")
    source = SQLSource("w", url)
    first = run_metric("mrr", source, params)
    again = run_metric("mrr", source, params)
    pd.testing.assert_frame_equal(first, again)
    assert len([r for r in caplog.records if "built derived table" in r.getMessage()]) == 2

    # Once the file is closed a writer may change it; reopened, the source derives afresh.
    source.close()
    frames["subscriptions"] = frames["subscriptions"].iloc[0:0]
    frames["subscription_items"] = frames["subscription_items"].iloc[0:0]
    load_frames(url, frames)
    source = SQLSource("w", url)
    after = run_metric("mrr", source, params)
    assert first["mrr"].sum() > 0
    assert after["mrr"].fillna(0).eq(0).all(), after
    source.close()
