"""The seed's API-Based Report of a revenue report, against numbers worked out by hand."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from datasources.registry import DataSources
from engine.periods import Window
from engine.report_data import report_data
from engine.services import Services
from engine.templates import builtin_dashboards
from security.policy import RangeTooLong, Resource
from security.users import Principal
from settings import Settings
from store import init_store
from tests.analytics._revenue_rows import billing, item, sub

MARCH = Window(date(2024, 3, 1), date(2024, 3, 31))  # 31 days; the previous window ends Feb 29


def _invoice(iid: int, customer: int) -> dict:
    return {"id": iid, "customer_id": customer, "status": "paid", "currency": "usd",
            "created_at": "2024-02-01", "total_minor": 0, "amount_paid_minor": 0}  # fmt: skip


def _payment(pid: int, inv: int, amount: int, at: str, **extra) -> dict:
    return {"id": pid, "invoice_id": inv, "processor": "stripe", "amount_minor": amount,
            "currency": "usd", "status": "succeeded", "created_at": at, **extra}  # fmt: skip


def frames() -> dict[str, pd.DataFrame]:
    out = billing(
        [
            sub(1, 1, "2024-01-01"),  # 100 / month throughout
            sub(2, 2, "2024-03-10"),  # 300 / month from March 10
            sub(3, 3, "2024-01-15", status="canceled", ended="2024-03-20"),  # 50, ends March 20
        ],
        [
            item(1, 1, 1, "2024-01-01"),
            item(2, 2, 9, "2024-03-10"),
            item(3, 3, 8, "2024-01-15", "2024-03-20"),
        ],
        test_customers=(9,),
        invoices=[_invoice(i, c) for i, c in [(1, 1), (2, 2), (3, 3), (4, 1), (5, 9), (6, 3)]],
        payments=[
            _payment(1, 1, 10_000, "2024-03-01 10:00"),  # 100
            _payment(2, 2, 30_000, "2024-03-10 10:00"),  # 300
            _payment(3, 3, 5_000, "2024-02-15 10:00"),  # before the window
            _payment(4, 4, 10_000, "2024-03-05 10:00", status="failed"),  # not collected
            _payment(5, 5, 9_900, "2024-03-06 10:00"),  # a test account's
            _payment(6, 6, 5_000, "2024-03-15 10:00", refunded_minor=2_000),  # 50 - 20 = 30
        ],
    )
    # Customers created: 1 and 3 in January, 2 and 4 in March (4 never paid); 9 is a test account.
    out["customers"] = pd.DataFrame(
        {
            "id": [1, 2, 3, 4, 9],
            "account_name": ["a", "b", "c", "d", "test"],
            "created_at": pd.to_datetime(
                ["2024-01-01", "2024-03-10", "2024-01-15", "2024-03-25", "2024-03-05"], utc=True
            ),
            "is_test": [False, False, False, False, True],
            "country": ["US", "DE", "US", "US", "DE"],
        }
    )
    out["customer_departments"] = pd.DataFrame(
        {"customer_id": [1, 2, 3, 4], "department": ["Sales", "Ops", "Sales", "Ops"]}
    )
    return out


@pytest.fixture
def services(warehouse, tmp_path):
    url = warehouse(frames())
    settings = Settings.from_env({"INSTANCE_PATH": str(tmp_path / "i"), "WAREHOUSE_URL": url})
    svc = Services(settings, init_store(settings.database_url), DataSources.from_settings(settings))
    yield svc
    svc.sources.close()
    svc.store.dispose()


def _revenue(svc: Services, who: Principal, window: Window = MARCH, **kw):
    spec = builtin_dashboards()["revenue_analytics"]
    resource = Resource.template("revenue_analytics")
    return report_data("revenue_analytics", spec, window, who, svc, resource=resource, **kw)


def test_revenue_report_metrics_and_charts_match_the_hand_computation(services):
    data = _revenue(services, Principal(1, "admin", "admin"))
    assert data.errors == {}
    m = data.metrics
    assert m["total_revenue"] == pytest.approx(100 + 300 + 30)
    assert m["mrr"] == pytest.approx(100 + 300)  # customer 3 ended on March 20
    assert m["arr"] == pytest.approx(400 * 12)
    # Paying at the end of Feb 29: customers 1 and 3; customer 3 no longer at the end of March.
    assert m["churn_rate"] == pytest.approx(1 / 2)
    assert m["new_customers"] == 2  # customers 2 and 4; the test account does not count
    # MRR at the end of the previous 31 days (Feb 29) was 100 + 50 = 150.
    assert m["growth_rate"] == pytest.approx((400 - 150) / 150 * 100)

    trend = {p["date"]: p["revenue"] for p in data.charts["revenue_trend"]}
    # The last payment loaded is on March 15: the days after it are not drawn as 0 revenue.
    assert len(trend) == 15 and min(trend) == "2024-03-01" and max(trend) == "2024-03-15"
    assert {d: v for d, v in trend.items() if v} == {
        "2024-03-01": 100.0,
        "2024-03-10": 300.0,
        "2024-03-15": 30.0,
    }
    mrr = {p["date"]: p["mrr"] for p in data.charts["mrr_growth"]}
    assert len(mrr) == 31
    assert (mrr["2024-03-01"], mrr["2024-03-09"], mrr["2024-03-10"]) == (150, 150, 450)
    assert (mrr["2024-03-19"], mrr["2024-03-20"], mrr["2024-03-31"]) == (450, 400, 400)
    acquired = {p["date"]: p["new_customers"] for p in data.charts["customer_acquisition"]}
    assert len(acquired) == 31
    assert {d: v for d, v in acquired.items() if v} == {"2024-03-10": 1, "2024-03-25": 1}


def test_a_manager_gets_the_numbers_of_their_department_only(services):
    # Sales owns customers 1 and 3: 100 + 30 collected, MRR 150 -> 100, nobody new.
    manager = Principal(2, "sales-lead", "manager", department="Sales")
    m = _revenue(services, manager).metrics
    assert m["total_revenue"] == pytest.approx(130)
    assert m["mrr"] == pytest.approx(100)
    assert m["growth_rate"] == pytest.approx((100 - 150) / 150 * 100)
    assert m["churn_rate"] == pytest.approx(1 / 2)
    assert m["new_customers"] == 0


def test_growth_rate_is_null_when_there_was_no_mrr_before(services):
    january = Window(date(2024, 1, 1), date(2024, 1, 31))  # before any subscription: MRR 0
    m = _revenue(services, Principal(1, "admin", "admin"), january).metrics
    assert m["mrr"] == pytest.approx(150)
    assert m["growth_rate"] is None


def test_filters_and_the_role_cap_apply(services):
    admin = Principal(1, "admin", "admin")
    german = _revenue(services, admin, filters={"country": ["DE"]}).metrics  # customer 2 only
    assert (german["mrr"], german["total_revenue"], german["new_customers"]) == (300, 300, 1)
    manager = Principal(2, "sales-lead", "manager", department="Sales")
    long = Window(date(2022, 1, 1), date(2024, 3, 31))
    with pytest.raises(RangeTooLong):  # the manager's one-year cap, refused when asked explicitly
        _revenue(services, manager, long, cap="refuse")
    clamped = _revenue(services, manager, long)
    assert clamped.window == Window(date(2023, 4, 1), date(2024, 3, 31))
