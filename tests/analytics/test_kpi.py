"""KPIs against goals: monthly values from the catalog's metrics, goals from kpi_goals."""

import pandas as pd
import pytest

import analytics.kpi  # noqa: F401  (registers kpi_progress)
from tests.analytics._revenue_rows import Runner, billing, item, sub


@pytest.fixture
def run(warehouse) -> Runner:
    frames = billing(
        [
            sub(1, 1, "2024-01-01"),  # 100 / month from January
            sub(2, 2, "2024-02-10"),  # +100 from February
            sub(3, 3, "2024-01-01", status="canceled", ended="2024-03-15"),  # 50, churns in March
        ],
        [
            item(1, 1, 1, "2024-01-01"),
            item(2, 2, 1, "2024-02-10"),
            item(3, 3, 8, "2024-01-01", "2024-03-15"),
        ],
    )
    # Customers created: 1 and 3 in January, 2 in February; customer 9 is a test account.
    frames["customers"] = pd.DataFrame(
        {
            "id": [1, 2, 3, 9],
            "account_name": ["a", "b", "c", "test"],
            "created_at": pd.to_datetime(
                ["2024-01-01", "2024-02-10", "2024-01-05", "2024-02-11"], utc=True
            ),
            "is_test": [False, False, False, True],
        }
    )
    frames["kpi_goals"] = pd.DataFrame(
        {
            "kpi": ["mrr", "mrr", "mrr", "churn_rate", "churn_rate", "new_customers", "mrr"],
            "period_start": [
                "2024-01-01",
                "2024-02-01",
                "2024-03-01",
                "2024-02-01",
                "2024-03-01",
                "2024-02-01",
                "2024-03-01",
            ],
            "period_end": [
                "2024-01-31",
                "2024-02-29",
                "2024-03-31",
                "2024-02-29",
                "2024-03-31",
                "2024-02-29",
                "2024-03-31",
            ],
            # mrr goals in cents: 150.00, 200.00, 260.00; churn goal 0.2; one new customer; Sales: 999.00
            "goal": [15_000, 20_000, 26_000, 0.2, 0.2, 1, 99_900],
            "department": [None, None, None, None, None, None, "Sales"],
        }
    )
    return Runner(warehouse, frames)


def test_mrr_kpi_against_goal_and_previous_month(run):
    frame = run("kpi_progress", kpi="mrr", start="2024-02-01", end="2024-03-31")
    feb, mar = frame.to_dict("records")
    # Feb end: 100 + 100 + 50 = 250 vs goal 200 -> 1.25, on track; Jan end 150 -> +66.7 %
    assert (feb["value"], feb["goal"], feb["previous"]) == (250, 200, 150)
    assert feb["attainment"] == pytest.approx(1.25) and feb["on_track"] is True
    assert feb["change"] == pytest.approx(100 / 150)
    # Mar end: 200 vs goal 260 -> not on track; change -20 %
    assert (mar["value"], mar["goal"], mar["on_track"]) == (200, 260, False)
    assert mar["change"] == pytest.approx(-0.2)


def test_churn_kpi_lower_is_better(run):
    frame = run("kpi_progress", kpi="churn_rate", start="2024-02-01", end="2024-03-31")
    feb, mar = frame.to_dict("records")
    assert feb["value"] == 0 and feb["on_track"] is True  # nobody churned, goal 0.2
    # March: customer 3 of {1, 2, 3} paying at Feb end -> 1/3 > 0.2
    assert mar["value"] == pytest.approx(1 / 3) and mar["on_track"] is False
    assert mar["change"] is None or pd.isna(mar["change"])  # previous is 0: change undefined


def test_new_customers_excludes_test_accounts_and_missing_goal_is_null(run):
    frame = run("kpi_progress", kpi="new_customers", start="2024-01-01", end="2024-02-29")
    jan, feb = frame.to_dict("records")
    assert jan["value"] == 2 and pd.isna(jan["goal"]) and jan["on_track"] is None
    assert (
        feb["value"] == 1 and feb["goal"] == 1 and feb["on_track"] is True
    )  # test account 9 not counted
    assert feb["change"] == pytest.approx(-0.5)


def test_department_goals_are_separate(run):
    frame = run("kpi_progress", kpi="mrr", start="2024-03-01", end="2024-03-31", department="Sales")
    assert frame["goal"].tolist() == [999.0]
