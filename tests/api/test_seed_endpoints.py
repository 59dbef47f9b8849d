"""The seed's 27 REST endpoints: each listed in OpenAPI with its verb, each answering, and the
API's shared answers (401 anonymous, 405 with Allow on a wrong verb, 400 naming an unknown field)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The seed sits beside the checkout (../shared/SEED.md); a worktree is one level deeper.
SEED = next(
    (p for p in (ROOT.parent / "shared" / "SEED.md", ROOT.parents[1] / "shared" / "SEED.md")
     if p.exists()),
    ROOT.parent / "shared" / "SEED.md",
)  # fmt: skip
# The seed's "API Endpoints" section, as written there (kept here too so the test runs without it).
SEED_TABLE = """
GET    /api/reports
POST   /api/reports
PUT    /api/reports/:id
DELETE /api/reports/:id
GET    /api/reports/:id/preview
POST   /api/reports/:id/generate
GET    /api/templates
POST   /api/templates
PUT    /api/templates/:id
DELETE /api/templates/:id
POST   /api/templates/:id/clone
GET    /api/schedules
POST   /api/schedules
PUT    /api/schedules/:id
DELETE /api/schedules/:id
POST   /api/schedules/:id/run
POST   /api/export/pdf
POST   /api/export/excel
POST   /api/export/csv
POST   /api/export/json
GET    /api/export/:id/download
GET    /api/dashboards
POST   /api/dashboards
PUT    /api/dashboards/:id
DELETE /api/dashboards/:id
GET    /api/dashboards/:id/embed
"""
ENDPOINT = re.compile(r"^(GET|POST|PUT|DELETE|PATCH)\s+(/api/\S+)", re.M)


def seed_endpoints() -> list[tuple[str, str]]:
    text = SEED_TABLE
    if SEED.exists():
        text = SEED.read_text().split("## 🔌 API Endpoints", 1)[1].split("\n## ", 1)[0]
    return ENDPOINT.findall(text)


def test_the_copy_here_is_the_seed_s_table():
    if not SEED.exists():
        pytest.skip("../shared/SEED.md is not beside this checkout")
    assert ENDPOINT.findall(SEED_TABLE) == seed_endpoints()


def openapi_form(path: str) -> str:
    """/api/reports/:id -> /api/reports/{} ; /api/templates/{key} -> /api/templates/{}."""
    return re.sub(r"\{[^}]+\}", "{}", re.sub(r":(\w+)", "{}", path))


def test_the_seed_table_is_read_whole():
    # Issue 12 says 27; the seed's table has 26 lines (6 report, 5 template, 5 schedule, 5 export,
    # 5 dashboard endpoints). The widget's POST /api/reports/widget-data is outside this table.
    endpoints = seed_endpoints()
    assert len(endpoints) == 26
    assert endpoints[0] == ("GET", "/api/reports")
    assert endpoints[-1] == ("GET", "/api/dashboards/:id/embed")
    assert len(set(endpoints)) == len(endpoints)


def test_openapi_lists_every_seed_endpoint_with_its_verb(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    documented = {
        (method.upper(), openapi_form(path)) for path, ops in paths.items() for method in ops
    }
    missing = [(v, p) for v, p in seed_endpoints() if (v, openapi_form(p)) not in documented]
    assert missing == []


@pytest.mark.parametrize(("verb", "path"), seed_endpoints())
def test_every_seed_endpoint_answers_401_json_without_credentials(client, verb, path):
    answer = client.open(path.replace(":id", "x"), method=verb, json={})
    assert answer.status_code == 401
    assert answer.get_json()["error"] == "unauthorized"


@pytest.mark.parametrize(("verb", "path"), seed_endpoints())
def test_every_seed_endpoint_is_routed_for_its_verb(client, bearer, verb, path):
    # An unknown id or an empty body: anything but "no such route" (404 naming the route) or 405.
    answer = client.open(
        path.replace(":id", "999999"), method=verb, json={}, headers=bearer("admin")
    )
    assert answer.status_code != 405, answer.get_json()
    assert not answer.get_json(silent=True) or "No API route" not in str(answer.get_json())


@pytest.mark.parametrize(
    ("verb", "path", "allowed"),
    [
        ("PUT", "/api/reports", "GET, POST"),
        ("DELETE", "/api/templates", "GET, POST"),
        ("GET", "/api/reports/revenue_analytics/generate", "POST"),
        ("POST", "/api/reports/revenue_analytics/preview", "GET"),
        ("PATCH", "/api/dashboards/kpi_dashboard", "GET, PUT, DELETE"),
        ("GET", "/api/templates/kpi_dashboard/clone", "POST"),
        ("DELETE", "/api/export/pdf", "POST"),
    ],
)
def test_a_wrong_verb_answers_405_json_with_allow(client, bearer, verb, path, allowed):
    answer = client.open(path, method=verb, headers=bearer("admin"))
    assert answer.status_code == 405
    assert answer.get_json()["error"] == "method_not_allowed"
    assert set(answer.headers["Allow"].split(", ")) >= set(allowed.split(", "))


def test_an_unknown_path_still_answers_404(client, bearer):
    answer = client.get("/api/nothing/here", headers=bearer("admin"))
    assert answer.status_code == 404 and answer.get_json()["error"] == "not_found"


@pytest.mark.parametrize(
    ("verb", "path", "body"),
    [
        ("POST", "/api/reports", {"name": "x", "template": "kpi_dashboard", "colour": "red"}),
        ("PUT", "/api/reports/anything", {"colour": "red"}),
        ("POST", "/api/reports/kpi_dashboard/generate", {"colour": "red"}),
        ("POST", "/api/templates", {"title": "T", "widgets": [], "colour": "red"}),
        ("PUT", "/api/templates/anything", {"title": "T", "widgets": [], "colour": "red"}),
        ("POST", "/api/templates/kpi_dashboard/clone", {"colour": "red"}),
        ("POST", "/api/dashboards", {"title": "T", "widgets": [], "colour": "red"}),
        ("PUT", "/api/dashboards/x", {"title": "T", "widgets": [], "version": 1, "colour": "red"}),
    ],
)
def test_an_unknown_body_field_answers_400_naming_it(client, bearer, verb, path, body):
    answer = client.open(path, method=verb, json=body, headers=bearer("admin"))
    assert answer.status_code == 400
    assert answer.get_json()["message"].startswith("colour: unknown field")
