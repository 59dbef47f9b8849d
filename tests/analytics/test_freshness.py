"""The warehouse's freshness: series stop at the last loaded day, unfinished cohort periods blank."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import pytest

from analytics.freshness import Freshness, blank_unfinished, freshness, trim_after
from datasources.registry import DataSources
from settings import Settings

# Events up to Mar 13 14:05 UTC, payments up to Mar 12 09:00: a warehouse loaded on a fixed day.
EVENTS = pd.DataFrame(
    {
        "uuid": ["e1", "e2", "e3"],
        "event": ["app_opened"] * 3,
        "person_id": [1, 2, 1],
        "timestamp": pd.to_datetime(
            ["2024-03-01 08:00", "2024-03-10 12:00", "2024-03-13 14:05"], utc=True
        ),
    }
)
PAYMENTS = pd.DataFrame(
    {
        "id": [1, 2],
        "created_at": pd.to_datetime(["2024-03-01 10:00", "2024-03-12 09:00"], utc=True),
    }
)


def _source(warehouse, tmp_path, frames):
    url = warehouse(frames)
    settings = Settings.from_env({"INSTANCE_PATH": str(tmp_path / "i"), "WAREHOUSE_URL": url})
    return DataSources.from_settings(settings).get("warehouse")


def test_freshness_is_the_last_event_and_payment_of_the_warehouse(warehouse, tmp_path):
    fresh = freshness(_source(warehouse, tmp_path, {"events": EVENTS, "payments": PAYMENTS}))
    assert fresh.until("events") == datetime(2024, 3, 13, 14, 5, tzinfo=UTC)
    assert fresh.until("payments") == datetime(2024, 3, 12, 9, 0, tzinfo=UTC)
    assert fresh.last_day("UTC", "events") == date(2024, 3, 13)
    # Everything is loaded up to the earlier of the two.
    assert fresh.label("UTC") == "Data up to Mar 12, 2024 09:00 UTC"
    # 09:00 UTC is 18:00 in Tokyo: the same day there; 14:05 UTC on Mar 13 is Mar 13 23:05.
    assert fresh.last_day("Asia/Tokyo", "events") == date(2024, 3, 13)
    assert fresh.last_day("Pacific/Honolulu", "payments") == date(2024, 3, 11)


def test_a_warehouse_with_no_payments_yet_knows_its_events_only(warehouse, tmp_path):
    fresh = freshness(_source(warehouse, tmp_path, {"events": EVENTS}))
    assert set(fresh.last) == {"events"}
    assert fresh.label("UTC") == "Data up to Mar 13, 2024 14:05 UTC"
    assert Freshness().label("UTC") == "" and Freshness().last_day("UTC") is None


def test_days_after_the_last_loaded_day_are_cut():
    frame = pd.DataFrame(
        {"date": [date(2024, 3, d) for d in (11, 12, 13, 14)], "value": [5, 6, 7, 0]}
    )
    cut = trim_after(frame, "date", date(2024, 3, 13))
    assert list(cut["value"]) == [5, 6, 7]
    assert trim_after(frame, "date", None) is frame


def test_weeks_not_over_by_the_last_day_are_blank_not_zero():
    # Weekly cohorts of Feb 26 and Mar 4 (Mondays); data up to Wed Mar 13.
    frame = pd.DataFrame(
        {
            "cohort": [date(2024, 2, 26)] * 3 + [date(2024, 3, 4)] * 2,
            "period": [0, 1, 2, 0, 1],
            "count": [10, 4, 0, 8, 0],
        }
    )
    out = blank_unfinished(frame, "cohort", "period", ["count"], "week", date(2024, 3, 13))
    # Feb 26 + 1 week = Mar 4..10: over. + 2 weeks = Mar 11..17: running. Mar 4 + 1 = Mar 11..17.
    assert out["count"].tolist()[:2] == [10, 4] and out["count"].iloc[3] == 8
    assert out["count"].isna().tolist() == [False, False, True, False, True]
    # On Sunday Mar 17 the week of Mar 11 is over.
    done = blank_unfinished(frame, "cohort", "period", ["count"], "week", date(2024, 3, 17))
    assert done["count"].notna().all()


def test_months_not_over_are_blank():
    frame = pd.DataFrame(
        {"cohort": [date(2024, 1, 1)] * 3, "months_since": [0, 1, 2], "value": [1.0, 0.8, 0.7]}
    )
    out = blank_unfinished(frame, "cohort", "months_since", ["value"], "month", date(2024, 3, 30))
    assert out["value"].isna().tolist() == [False, False, True]


@pytest.mark.parametrize("relative", [True, False])
def test_the_heatmap_draws_a_blank_period_as_no_text(relative):
    from components.figures import cohort_heatmap_figure

    frame = pd.DataFrame(
        {"cohort": [date(2024, 3, 4)] * 2, "period": [0, 1], "count": [8.0, float("nan")]}
    )
    fig = cohort_heatmap_figure(frame, relative=relative, value_format="number")
    assert fig.data[0].z[0][1] is None and fig.data[0].text[0][1] == ""
