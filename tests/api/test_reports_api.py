"""/api/reports as saved configurations: create, update, delete, preview and generate, per role."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pandas as pd
import pytest

from datasources.base import Query
from engine.saved_reports import ReportConfig, SavedReports
from engine.services import EXTENSION_KEY
from security.users import create_user

MARCH = {"period": "custom", "start": "2024-03-01", "end": "2024-03-31"}  # fixed, for the shapes
REVENUE_METRICS = {"total_revenue", "mrr", "arr", "churn_rate", "new_customers", "growth_rate"}


def _create(client, headers, **fields):
    body = {"name": f"Revenue {uuid.uuid4().hex[:6]}", "template": "revenue_analytics", **fields}
    return client.post("/api/reports", json=body, headers=headers)


@pytest.fixture
def admin(bearer):
    return bearer("admin")


@pytest.fixture(scope="module")
def last_month(app) -> dict[str, str]:
    """The 31 days ending on the demo warehouse's last payment day (the data, not the clock)."""
    source = app.server.extensions[EXTENSION_KEY].sources.get("warehouse")
    last = source.fetch(Query("SELECT MAX(created_at) AS last FROM payments")).iloc[0, 0]
    end = pd.Timestamp(last).date()
    start = end - timedelta(days=30)
    return {"period": "custom", "start": start.isoformat(), "end": end.isoformat()}


@pytest.fixture
def saved(client, admin):
    answer = _create(client, admin, formats=["pdf", "json"], filters={"country": ["DE"]}, **MARCH)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def test_admin_saves_a_report_and_it_is_listed_with_its_configuration(client, admin, saved):
    assert saved["kind"] == "report" and saved["template"] == "revenue_analytics"
    assert (saved["period"], saved["start"], saved["end"]) == ("custom", "2024-03-01", "2024-03-31")
    assert saved["formats"] == ["pdf", "json"] and saved["filters"] == {"country": ["DE"]}
    assert saved["version"] == 1
    listed = client.get("/api/reports?per_page=100", headers=admin).get_json()["items"]
    assert saved["id"] in {item["id"] for item in listed}
    assert {"revenue_analytics", "kpi_dashboard", "user_analytics"} <= {i["id"] for i in listed}
    one = client.get(f"/api/reports/{saved['id']}", headers=admin).get_json()
    assert one["spec"]["key"] == "revenue_analytics"


def test_formats_default_to_the_template_s(client, admin):
    body = _create(client, admin).get_json()
    assert body["formats"] == ["pdf", "excel", "json"]  # the seed's revenue_analytics
    assert body["period"] == "30d" and body["start"] is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"formats": ["xml"]},
            "formats: 'xml' is not offered by 'Revenue Analytics Report'; allowed:",
        ),
        ({"template": "nope"}, "template: no template or saved dashboard named 'nope'"),
        ({"filters": {"colour": ["red"]}}, "filters.colour: unknown filter"),
        ({"period": "custom"}, "period: a custom period needs start and end"),
        ({"period": "7d", "start": "2024-01-01"}, "start/end: only a custom period has dates"),
        ({**MARCH, "end": "2024-02-01"}, "end: the custom period ends (2024-02-01) before"),
        ({"period": "1y"}, "period: Input should be"),
        ({"colour": "red"}, "colour: unknown field"),
    ],
)
def test_a_bad_configuration_answers_400_naming_the_field(client, admin, fields, message):
    answer = _create(client, admin, **fields)
    assert answer.status_code == 400
    assert answer.get_json()["message"].startswith(message), answer.get_json()


def test_a_viewer_may_not_save_a_report(client, bearer):
    # Holds under the old policy table (viewers create nothing) and the seed's (only admins).
    answer = _create(client, bearer("viewer"), template="kpi_dashboard")
    assert answer.status_code == 403 and answer.get_json()["error"] == "forbidden"


def test_update_changes_the_configuration_and_refuses_a_stale_version(client, admin, saved):
    path = f"/api/reports/{saved['id']}"
    changed = client.put(
        path, json={"name": "Renamed", "period": "90d", "version": 1}, headers=admin
    )
    assert changed.status_code == 200, changed.get_json()
    body = changed.get_json()
    assert (body["title"], body["period"], body["start"], body["version"]) == (
        "Renamed", "90d", None, 2,
    )  # fmt: skip
    assert body["filters"] == {"country": ["DE"]}  # untouched fields are kept
    stale = client.put(path, json={"name": "Mine", "version": 1}, headers=admin)
    assert stale.status_code == 409 and "version 1" in stale.get_json()["message"]
    assert client.put(path, json={"formats": ["xml"]}, headers=admin).status_code == 400


def test_update_and_delete_answer_404_for_unknown_and_409_for_built_in(client, admin):
    assert client.put("/api/reports/nope", json={"name": "x"}, headers=admin).status_code == 404
    assert client.delete("/api/reports/nope", headers=admin).status_code == 404
    for answer in (
        client.put("/api/reports/kpi_dashboard", json={"name": "x"}, headers=admin),
        client.delete("/api/reports/kpi_dashboard", headers=admin),
    ):
        assert answer.status_code == 409
        assert "built in" in answer.get_json()["message"]


def test_a_viewer_may_not_change_or_delete_a_saved_report(client, bearer, saved):
    viewer = bearer("viewer")
    path = f"/api/reports/{saved['id']}"
    assert client.put(path, json={"name": "x"}, headers=viewer).status_code == 403
    assert client.delete(path, headers=viewer).status_code == 403


def test_delete_removes_it(client, admin, saved):
    path = f"/api/reports/{saved['id']}"
    assert client.delete(path, headers=admin).status_code == 204
    assert client.get(path, headers=admin).status_code == 404
    assert client.delete(path, headers=admin).status_code == 404


def test_preview_of_a_saved_report_uses_its_period_and_filters(client, admin, last_month):
    saved = _create(client, admin, filters={"country": ["DE"]}, **last_month).get_json()
    answer = client.get(f"/api/reports/{saved['id']}/preview", headers=admin)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["report"] == saved["id"]
    assert body["window"] == {"start": last_month["start"], "end": last_month["end"], "days": 31}
    # The country filter reached the widgets that take filters.
    unfiltered = client.get(
        "/api/reports/revenue_analytics/preview", headers=admin, query_string=last_month
    ).get_json()
    mrr = {w["id"]: w["value"] for w in body["widgets"]}["mrr"]
    mrr_all = {w["id"]: w["value"] for w in unfiltered["widgets"]}["mrr"]
    assert mrr is not None and mrr_all is not None and mrr < mrr_all


def test_generate_answers_the_seed_s_api_report_shape(client, admin, last_month):
    saved = _create(client, admin, **last_month).get_json()
    answer = client.post(f"/api/reports/{saved['id']}/generate", headers=admin)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["period"]["start"] == last_month["start"] and body["period"]["days"] == 31
    assert set(body["metrics"]) == REVENUE_METRICS
    assert set(body["charts"]) == {"revenue_trend", "mrr_growth", "customer_acquisition"}
    assert body["errors"] == {}
    m = body["metrics"]
    assert m["mrr"] > 0 and m["total_revenue"] > 0 and m["new_customers"] > 0
    assert m["arr"] == pytest.approx(m["mrr"] * 12)
    assert [p["date"] for p in body["charts"]["revenue_trend"]][0] == last_month["start"]
    assert len(body["charts"]["mrr_growth"]) == 31
    assert m["mrr"] == body["charts"]["mrr_growth"][-1]["mrr"]
    assert m["total_revenue"] == pytest.approx(
        sum(p["revenue"] for p in body["charts"]["revenue_trend"])
    )
    assert m["new_customers"] == sum(
        p["new_customers"] for p in body["charts"]["customer_acquisition"]
    )


def test_generate_takes_a_period_and_filters_in_the_body(client, admin, last_month):
    saved = _create(client, admin, filters={"country": ["DE"]}, **last_month).get_json()
    path = f"/api/reports/{saved['id']}/generate"
    april = client.post(
        path, json={"period": "custom", "start": "2024-04-01", "end": "2024-04-07"}, headers=admin
    ).get_json()
    assert (april["period"]["start"], april["period"]["days"]) == ("2024-04-01", 7)
    everyone = client.post(path, json={"filters": {"country": []}}, headers=admin).get_json()
    germany = client.post(path, headers=admin).get_json()
    assert everyone["metrics"]["mrr"] > germany["metrics"]["mrr"]
    bad = client.post(path, json={"filters": {"colour": ["red"]}}, headers=admin)
    assert bad.status_code == 400 and bad.get_json()["message"].startswith("filters.colour")


def test_generate_of_another_template_answers_its_widgets(client, admin):
    body = client.post(
        "/api/reports/kpi_dashboard/generate", json={"period": "7d"}, headers=admin
    ).get_json()
    assert set(body) >= {"period", "metrics", "charts"}
    assert "mrr-goal" in body["charts"]
    assert body["period"]["name"] == "7d" and body["period"]["days"] == 7


def test_generate_answers_404_403_and_the_role_cap(client, bearer):
    assert client.post("/api/reports/nope/generate", headers=bearer("admin")).status_code == 404
    # Viewers read only the KPI dashboard, under the old table and the seed's.
    denied = client.post("/api/reports/revenue_analytics/generate", headers=bearer("viewer"))
    assert denied.status_code == 403
    too_long = client.post(
        "/api/reports/kpi_dashboard/generate", json={"period": "90d"}, headers=bearer("viewer")
    )
    assert too_long.status_code == 403 and "30 days" in too_long.get_json()["message"]


def test_a_manager_reads_a_saved_revenue_report_of_their_department_only(app, client, bearer):
    store = app.server.extensions[EXTENSION_KEY].store
    reports = SavedReports(store)
    made = {}
    for department in ("Sales", "Ops"):
        owner = create_user(
            store, f"lead-{department}-{uuid.uuid4().hex[:6]}", "pw-unused-1", "admin",
            department=department,
        )  # fmt: skip
        config = ReportConfig(name=f"{department} revenue", template="revenue_analytics", **MARCH)
        made[department] = reports.create(config, owner).slug
    manager = bearer("manager")  # the demo manager is in Sales
    own = client.get(f"/api/reports/{made['Sales']}/preview", headers=manager)
    assert own.status_code == 200, own.get_json()
    assert client.post(f"/api/reports/{made['Sales']}/generate", headers=manager).status_code == 200
    other = client.get(f"/api/reports/{made['Ops']}/preview", headers=manager)
    assert other.status_code == 403
    listed = {
        i["id"] for i in client.get("/api/reports?per_page=100", headers=manager).json["items"]
    }
    assert made["Sales"] in listed and made["Ops"] not in listed
