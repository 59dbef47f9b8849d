"""Issue 13, item 9: a manager asking for another department gets their own, on every surface, and
an export's header states only the filters actually applied."""

from __future__ import annotations

import csv
import io

from tests.api.conftest import bearer  # noqa: F401  (fixture)


def _values(body: dict, widget: str) -> list:
    found = next(w for w in body["widgets"] if w["id"] == widget)
    assert found["error"] is None, found["error"]
    return found["rows"]


def test_a_managers_kpi_progress_with_another_department_shows_their_own(app, bearer):  # noqa: F811
    client = app.server.test_client()
    asked = "/api/reports/kpi_dashboard/preview?period=30d"
    own = client.get(asked, headers=bearer("manager")).get_json()
    other = client.get(asked + "&department=Support", headers=bearer("manager")).get_json()
    assert other["filters"]["department"] == ["Sales"]
    progress = [w["id"] for w in own["widgets"] if w["metric"] == "kpi_progress"]
    assert progress, "kpi_dashboard has a kpi_progress widget"
    for widget in progress:
        assert _values(other, widget) == _values(own, widget)
    # ...and it is not what an admin sees for Support.
    support = client.get(asked + "&department=Support", headers=bearer("admin")).get_json()
    assert any(_values(support, w) != _values(own, w) for w in progress)


def test_an_export_header_states_the_forced_department_not_the_asked_one(app, bearer):  # noqa: F811
    client = app.server.test_client()
    answer = client.post(
        "/api/export/csv",
        json={
            "report_id": "revenue_overview",
            "period": "30d",
            "filters": {"department": "Support"},
        },
        headers=bearer("manager"),
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    header = [row[0] for row in csv.reader(io.StringIO(answer.get_data(as_text=True))) if row][:12]
    line = next(h for h in header if "Filters:" in h)
    assert "department=Sales" in line and "Support" not in line


def test_a_filter_no_widget_applies_is_left_out_of_the_header(app, bearer):  # noqa: F811
    client = app.server.test_client()
    answer = client.post(
        "/api/export/csv",
        json={"report_id": "revenue_overview", "period": "30d", "filters": {"user_type": "active"}},
        headers=bearer("admin"),
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    header = [line for line in answer.get_data(as_text=True).splitlines()[:8]]
    assert any(line.startswith("# Report:") for line in header), header
    assert not any("user_type" in line for line in header), header
