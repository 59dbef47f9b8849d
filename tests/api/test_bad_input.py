"""Bad input gets a 4xx naming the problem, never a 5xx: each attack of issue 13 item 9, as sent."""

from __future__ import annotations

import json

import pytest

SURROGATE = '"\\ud800"'  # JSON text for a lone surrogate: valid JSON, no valid UTF-8
SCHEDULE = {"report": "kpi_dashboard", "frequency": "daily", "formats": ["json"], "recipients": {"email": ["a@example.com"]}}  # fmt: skip


def _raw(client, method: str, path: str, text: str, headers: dict[str, str]):
    return client.open(path, method=method, data=text, content_type="application/json", headers=headers)  # fmt: skip


@pytest.mark.parametrize(
    "text", ["[" * 100_000 + "]" * 100_000, '{"a":' * 3000 + "1" + "}" * 3000, "[" * 70 + "]" * 70]
)
def test_deeply_nested_json_is_a_400(client, bearer, text):
    answer = _raw(client, "POST", "/api/schedules", text, bearer("admin"))
    assert answer.status_code == 400
    assert "nested deeper than 64" in answer.get_json()["message"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/schedules", json.dumps({**SCHEDULE, "name": "X"}).replace('"X"', SURROGATE), "name"),
        ("/api/dashboards", '{"title": ' + SURROGATE + ', "widgets": []}', "title"),
        ("/api/reports", '{"name": ' + SURROGATE + ', "template": "kpi_dashboard"}', "name"),
    ],
)
def test_a_lone_surrogate_in_a_name_is_a_400_naming_the_field(client, bearer, path, body, field):
    answer = _raw(client, "POST", path, body, bearer("admin"))
    assert answer.status_code == 400, answer.get_data(as_text=True)[:200]
    assert answer.get_json()["message"].startswith(f"{field}: contains an invalid character")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/schedules/99999999999999999999999"),
        ("DELETE", "/api/schedules/99999999999999999999999"),
        ("POST", "/api/schedules/99999999999999999999999/run"),
        ("GET", "/api/schedules/99999999999999999999999/runs"),
        ("GET", "/api/schedules/runs/99999999999999999999999/files/x.csv"),
        ("GET", "/api/dashboards/99999999999999999999999"),
        ("DELETE", "/api/dashboards/99999999999999999999999"),
        ("GET", "/api/reports/99999999999999999999999/preview"),
        ("DELETE", "/api/tokens/99999999999999999999999"),
        ("GET", "/api/schedules?page=99999999999999999999999"),
        ("GET", "/api/dashboards/%C2%B2"),  # "²" is a digit to str.isdigit, not to int()
    ],
)
def test_huge_or_odd_ids_are_a_4xx_json(client, bearer, method, path):
    answer = client.open(path, method=method, headers=bearer("admin"))
    assert 400 <= answer.status_code < 500, (
        answer.status_code,
        answer.get_data(as_text=True)[:200],
    )
    assert answer.is_json and "error" in answer.get_json()


def test_a_10_mb_field_is_refused_with_413_json_and_not_echoed(client, bearer):
    answer = client.post("/api/schedules", json={**SCHEDULE, "name": "Q" * 10_000_000}, headers=bearer("admin"))  # fmt: skip
    assert answer.status_code == 413
    assert answer.get_json() == {"error": "too_large", "message": "The request body is larger than 1,048,576 bytes."}  # fmt: skip
    assert b"QQQQ" not in answer.get_data()


@pytest.mark.parametrize("name", ["Weekly\r\nBcc: x@evil.example", "a\nb", "tab\there", "bell\x07"])
def test_a_line_break_or_control_character_in_a_schedule_name_is_a_400(client, bearer, name):
    answer = client.post("/api/schedules", json={**SCHEDULE, "name": name}, headers=bearer("admin"))
    assert answer.status_code == 400
    assert answer.get_json()["message"].startswith("name: must be one line")


def test_a_one_line_schedule_name_is_still_accepted(client, bearer):
    answer = client.post("/api/schedules", json={**SCHEDULE, "name": "KPIs – daily ✓"}, headers=bearer("admin"))  # fmt: skip
    assert answer.status_code == 201, answer.get_data(as_text=True)[:300]
    assert answer.get_json()["name"] == "KPIs – daily ✓"


@pytest.mark.parametrize(
    "path",
    [
        "/_dash-component-suites/dash/..%2f..%2fsettings.py",
        "/_dash-component-suites/dash/dcc/..%2f..%2f..%2fapp.py",
        "/_dash-component-suites/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/_dash-component-suites/dash/%2e%2e%2f%2e%2e%2fdash.py",
    ],
)
def test_dot_dot_paths_under_component_suites_are_a_404(client, bearer, path):
    answer = client.get(path)
    assert answer.status_code == 404
    assert b"SECRET" not in answer.get_data() and b"import" not in answer.get_data()
    link = client.get("/api/dashboards/kpi_dashboard/embed", headers=bearer("admin")).get_json()
    embedded = client.get(f"/embed/{link['token']}{path}")
    assert embedded.status_code in (302, 404)
    if embedded.status_code == 302:  # the embed's redirect leads to the same refusal
        assert client.get(embedded.headers["Location"]).status_code == 404


def test_an_embed_period_sent_as_a_list_draws_the_default_period(app, bearer):
    client = app.server.test_client()
    token = client.get("/api/dashboards/kpi_dashboard/embed", headers=bearer("admin")).get_json()["token"]  # fmt: skip
    stranger = app.server.test_client()
    widget = {"type": "embed-widget-body", "widget": "mrr-trend"}
    body = {
        "output": '{"type":"embed-widget-body","widget":["MATCH"]}.children',
        "outputs": {"id": widget, "property": "children"},
        "inputs": [{"id": "embed-state-store", "property": "data", "value": {"token": token, "period": ["90d", "1y"]}}],
        "state": [{"id": widget, "property": "id", "value": widget}],
        "changedPropIds": ["embed-state-store.data"],
    }  # fmt: skip
    answer = stranger.post(f"/embed/{token}/_dash-update-component", json=body)
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200, text[:300]
    assert "widget-error" not in text
    body["output"] = "embed-window-text.children"
    body["outputs"] = {"id": "embed-window-text", "property": "children"}
    body["state"] = []
    window = stranger.post(f"/embed/{token}/_dash-update-component", json=body)
    assert window.status_code == 200
    body["inputs"][0]["value"]["period"] = "30d"  # the default the list falls back to
    default = stranger.post(f"/embed/{token}/_dash-update-component", json=body)
    assert window.get_json() == default.get_json()
