"""This period against the previous one, on hand-made rows, on DuckDB and PostgreSQL."""

from __future__ import annotations

import pandas as pd

from tests.analytics._product_rows import events
from tests.analytics.test_filters_seed import _billing, _run


def _warehouse(warehouse) -> str:
    return warehouse(
        {
            **_billing(),
            "users": pd.DataFrame({"id": [1, 2, 3], "customer_id": [1, 1, 1]}),
            "events": events(
                (1, "app_opened", "2024-01-05 09:00Z"),
                (2, "app_opened", "2024-01-05 09:00Z"),
                (2, "app_opened", "2024-01-06 09:00Z"),
                (3, "app_opened", "2024-01-04 09:00Z"),
                (4, "$pageview", "2024-01-03 09:00Z"),  # an anonymous person
                (4, "$pageview", "2024-01-06 09:00Z"),
            ),
        }
    )


def test_kpi_comparison_of_5_6_january_with_3_4_january(warehouse):
    frame = _run(_warehouse(warehouse), "period_comparison", start="2024-01-05", end="2024-01-06")
    rows = {
        r.measure: (r.current, r.previous, None if pd.isna(r.change) else r.change)
        for r in frame.itertuples()
    }
    assert rows == {
        # The $100 Pro subscription runs from 1 Jan: the same MRR at the end of both windows.
        "MRR at the end": (100.0, 100.0, 0.0),
        "Paying customers at the end": (1.0, 1.0, 0.0),
        "Net new MRR": (0.0, 0.0, None),  # no change against a previous 0
        "Customer churn rate (%)": (0.0, 0.0, None),
        # DAU 5 Jan: p1, p2; 6 Jan: p2, p4 -> 2. 3 Jan: p4; 4 Jan: p3 -> 1. Change +100 %.
        "Average DAU": (2.0, 1.0, 1.0),
    }


def test_product_comparison_counts_signups_and_sessions(warehouse):
    url = _warehouse(warehouse)
    frame = _run(url, "period_comparison", start="2024-01-05", end="2024-01-06", measures="product")
    assert list(frame["measure"]) == [
        "Average DAU",
        "Average MAU (rolling 30 days)",
        "Stickiness DAU / MAU (%)",
        "Sessions",
        "Signups completed",
    ]
    dau = frame.iloc[0]
    assert (dau["current"], dau["previous"]) == (2.0, 1.0)
    # MAU (30 days to each day): 5 Jan p1-p4 = 4, 6 Jan 4 -> 4; 3 Jan p4 = 1, 4 Jan p3, p4 = 2 -> 1.5.
    mau = frame.iloc[1]
    assert (mau["current"], mau["previous"]) == (4.0, 1.5)
    # Stickiness: mean of daily DAU/MAU: (2/4 + 2/4) / 2 = 50 %; (1/1 + 1/2) / 2 = 75 %.
    assert frame.iloc[2]["current"] == 50.0 and frame.iloc[2]["previous"] == 75.0
    # No sessions and no signups in either window: 0 and 0, no change.
    assert frame.iloc[3]["current"] == 0.0 and pd.isna(frame.iloc[3]["change"])
