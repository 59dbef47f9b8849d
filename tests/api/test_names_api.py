"""Names through the API: trimmed, at most 120 characters, required, numbered when taken; errors
keep their field paths (`title: …`, `name: …`, `recipients.email[0]: …`)."""

from __future__ import annotations

import uuid

import pytest


def _spec(title: str) -> dict:
    return {
        "title": title,
        "widgets": [{"id": "mrr", "type": "metric_card", "title": "MRR", "metric": "mrr"}],
    }


def _unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:6]}"


@pytest.fixture
def admin(bearer):
    return bearer("admin")


@pytest.mark.parametrize("route", ["/api/dashboards", "/api/templates"])
def test_a_taken_title_gets_a_number_and_a_padded_one_is_trimmed(client, admin, route):
    title = _unique("Revenue")
    first = client.post(route, json=_spec(f"  {title}  "), headers=admin)
    second = client.post(route, json=_spec(title.lower()), headers=admin)
    assert (first.status_code, second.status_code) == (201, 201), second.get_json()
    assert first.get_json()["title"] == title
    assert second.get_json()["title"] == f"{title.lower()} (2)"
    assert first.get_json()["id"] != second.get_json()["id"]


@pytest.mark.parametrize("route", ["/api/dashboards", "/api/templates"])
def test_a_blank_or_long_title_is_a_400_naming_the_field(client, admin, route):
    blank = client.post(route, json=_spec(" \t "), headers=admin)
    assert blank.status_code == 400
    assert blank.get_json()["message"] == "title: A title is required."
    long = client.post(route, json=_spec("L" * 121), headers=admin)
    assert long.status_code == 400
    assert long.get_json()["message"] == "title: The title is 121 characters long; keep it to 120."


def test_saved_report_names_are_trimmed_numbered_required_and_limited(client, admin):
    name = _unique("Monthly revenue")
    body = {"template": "revenue_analytics", "period": "30d"}
    first = client.post("/api/reports", json={**body, "name": f" {name} "}, headers=admin)
    second = client.post("/api/reports", json={**body, "name": name}, headers=admin)
    assert (first.status_code, second.status_code) == (201, 201), second.get_json()
    assert (first.get_json()["title"], second.get_json()["title"]) == (name, f"{name} (2)")
    blank = client.post("/api/reports", json={**body, "name": "   "}, headers=admin)
    assert blank.status_code == 400
    assert blank.get_json()["message"] == "name: A report name is required."
    long = client.post("/api/reports", json={**body, "name": "n" * 121}, headers=admin)
    assert long.status_code == 400 and long.get_json()["message"].startswith("name: ")
    renamed = client.put(
        f"/api/reports/{first.get_json()['id']}", json={"name": "  "}, headers=admin
    )
    assert renamed.status_code == 400
    assert renamed.get_json()["message"] == "name: A report name is required."


SCHEDULE = {
    "report": "revenue_overview",
    "frequency": "weekly",
    "time": "09:00",
    "weekday": 0,
    "formats": ["csv"],
    "recipients": {"email": ["finance@example.com"]},
}


def test_schedule_names_are_trimmed_and_limited_and_errors_keep_field_paths(client, admin):
    made = client.post(
        "/api/schedules", json={**SCHEDULE, "name": "  Weekly   revenue "}, headers=admin
    )
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["name"] == "Weekly revenue"
    long = client.post("/api/schedules", json={**SCHEDULE, "name": "s" * 121}, headers=admin)
    assert long.status_code == 400
    assert long.get_json()["message"] == (
        "name: The schedule name is 121 characters long; keep it to 120."
    )
    bad = client.post(
        "/api/schedules", json={**SCHEDULE, "recipients": {"email": ["bob"]}}, headers=admin
    )
    assert bad.status_code == 400
    assert bad.get_json()["message"] == "recipients.email[0]: 'bob' is not an e-mail address"
    empty = client.post("/api/schedules", json={}, headers=admin)
    assert empty.status_code == 400 and empty.get_json()["message"].startswith("report: required")
