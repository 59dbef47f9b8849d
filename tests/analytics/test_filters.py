"""Dimension filters: every metric computed with a filter equals the metric on a warehouse that
holds only the filtered accounts — on DuckDB and PostgreSQL. This is also what makes a manager's
department scope hold for every metric, since the engine forces it as the department filter."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from analytics.catalog import list_metrics, run_metric
from analytics.filters import RowFilter, customer_condition
from datasources.sql import SQLSource
from demo.generator import generate

TODAY = date(2026, 6, 15)
RANGE = {"start": str(TODAY - timedelta(days=120)), "end": str(TODAY - timedelta(days=1))}
EXTRA = {
    "kpi_progress": {"kpi": "mrr"},
    "engagement_segments": {"start": None},
    "engagement_report": {"start": None},
    "trial_funnel": {"as_of": str(TODAY)},
    "funnel": {"steps": "signup_started,signup_completed,event_created"},
    "funnel_breakdown": {"steps": "signup_started,signup_completed", "breakdown": "utm_source"},
    "funnel_time_to_convert": {"steps": "signup_started,signup_completed,event_created"},
    "lifecycle": {"event": "app_opened"},
    "retention": {
        "start_event": "signup_completed",
        "return_event": "app_opened",
        "interval": "week",
    },
    "stickiness": {"event": "app_opened"},
    "trends": {"event": "app_opened", "math": "dau"},
}


def params_for(name: str) -> dict:
    params = {**RANGE, **EXTRA.get(name, {})}
    return {k: v for k, v in params.items() if v is not None}


@pytest.fixture(scope="module")
def tiny() -> dict[str, pd.DataFrame]:
    return generate("tiny", seed=7, today=TODAY)


def only_department(frames: dict[str, pd.DataFrame], department: str) -> dict[str, pd.DataFrame]:
    """The warehouse as if it held only the accounts of `department` (and no anonymous visitors)."""
    keep = set(frames["customer_departments"].query("department == @department")["customer_id"])
    out = dict(frames)
    out["customers"] = frames["customers"][frames["customers"]["id"].isin(keep)]
    out["customer_departments"] = frames["customer_departments"][
        frames["customer_departments"]["customer_id"].isin(keep)
    ]
    users = frames["users"][frames["users"]["customer_id"].isin(keep)]
    out["users"] = users
    people = set(users["id"])
    out["persons"] = frames["persons"][frames["persons"]["id"].isin(people)]
    out["events"] = frames["events"][frames["events"]["person_id"].isin(people)]
    out["sessions"] = frames["sessions"][frames["sessions"]["person_id"].isin(people)]
    subs = frames["subscriptions"][frames["subscriptions"]["customer_id"].isin(keep)]
    out["subscriptions"] = subs
    out["subscription_items"] = frames["subscription_items"][
        frames["subscription_items"]["subscription_id"].isin(subs["id"])
    ]
    invoices = frames["invoices"][frames["invoices"]["customer_id"].isin(keep)]
    out["invoices"] = invoices
    out["payments"] = frames["payments"][frames["payments"]["invoice_id"].isin(invoices["id"])]
    return out


def test_every_metric_filtered_by_department_equals_the_metric_on_that_department_alone(
    warehouse, tiny
):
    department = sorted(tiny["customer_departments"]["department"].unique())[0]
    full = SQLSource("full", warehouse(tiny))
    alone = SQLSource("alone", warehouse(only_department(tiny, department)))
    checked = []
    for spec in list_metrics():
        params = params_for(spec.name)
        filtered = run_metric(spec.name, full, {**params, "filters": {"department": [department]}})
        expected = run_metric(spec.name, alone, params)
        unfiltered = run_metric(spec.name, full, params)
        pd.testing.assert_frame_equal(
            filtered.reset_index(drop=True),
            expected.reset_index(drop=True),
            check_dtype=False,
            obj=spec.name,
        )
        checked.append((spec.name, not filtered.equals(unfiltered)))
    # The filter really changed something: most metrics differ from their unfiltered value.
    assert sum(changed for _, changed in checked) >= len(checked) * 2 // 3, checked
    full.close()
    alone.close()


def test_filter_values_are_validated_and_quoted():
    with pytest.raises(ValueError, match="cannot contain"):
        RowFilter(country=("DE'; DROP TABLE customers; --",))
    condition = customer_condition(RowFilter(department=("O'Brien & Co",)), "c.id")
    assert "'O''Brien & Co'" in condition
    assert customer_condition(RowFilter(), "c.id") == "TRUE"
