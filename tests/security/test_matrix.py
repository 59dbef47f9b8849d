"""Every role × every API endpoint and page × the seed templates, through a UI session and an API token.

The expected answers are written out from the seed's access-control table (SEED.md), not computed
from the policy: managers open the three seed reports (and the revenue overview, the seed's
"revenue_report" too), analysts user_analytics and kpi_dashboard, viewers only kpi_dashboard; nobody
but an admin opens the admin pages, issuing an embed link needs `export` (not viewers). Allowed
previews must carry exactly the numbers `engine.generate` gives that principal; a saved dashboard
with personal data shows it masked to every role but admin, through the API and through an embed.
"""

from __future__ import annotations

import re
from datetime import date

import pandas as pd
import pytest
from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, select

from analytics.catalog import CATALOG, metric
from api.reports import widget_json
from engine.generate import generate
from engine.periods import resolve
from engine.services import EXTENSION_KEY
from engine.spec import DashboardSpec
from engine.templates import builtin_dashboards
from security import tokens
from security.policy import using
from security.users import Principal
from store.models import Dashboard, User
from tests.api.conftest import bearer, release_warehouse  # noqa: F401, F811  (fixture)
from tests.policies import builders_table

ROLES = ("admin", "manager", "analyst", "viewer")
SEED_TEMPLATES = ("revenue_analytics", "user_analytics", "kpi_dashboard")
TEMPLATES = tuple(k for k in SEED_TEMPLATES if k in builtin_dashboards()) or tuple(
    builtin_dashboards()
)
# The seed's table: which templates each role may read, and who may share (export/embed).
READS = {
    "admin": set(builtin_dashboards()),
    # user_analytics, revenue_report (revenue_analytics and the demo's revenue_overview), kpi_dashboard
    "manager": {"user_analytics", "revenue_analytics", "revenue_overview", "kpi_dashboard"},
    "analyst": {"user_analytics", "kpi_dashboard"},
    "viewer": {"kpi_dashboard"},
}
EXPORTS = {"admin": True, "manager": True, "analyst": True, "viewer": False}
PII_SLUG = "matrix-contacts"
PII_ROWS = [
    {"customer_id": 1, "email": "ana.analyst@nexpo.example", "contact_name": "Ana Analyst", "phone": "+1 (555) 123-4567"},
    {"customer_id": 2, "email": "bo@x.io", "contact_name": "Bo Li", "phone": "555 0199"},
]  # fmt: skip
MASKED_ROWS = [
    {"customer_id": 1, "email": "ana***@nexpo.example", "contact_name": "A. A.", "phone": "***4567"},
    {"customer_id": 2, "email": "b***@x.io", "contact_name": "B. L.", "phone": "***0199"},
]  # fmt: skip


@pytest.fixture(autouse=True, scope="module")
def _release_warehouse_after_module(app):
    yield
    release_warehouse(app)


def test_the_matrix_covers_the_seed_templates():
    assert set(SEED_TEMPLATES) <= set(builtin_dashboards()), "seed templates missing"


class ContactParams(BaseModel):
    model_config = ConfigDict(extra="ignore")
    start: date | None = None
    end: date | None = None
    timezone: str = "UTC"


@pytest.fixture(scope="module")
def pii_dashboard(app):
    """A saved dashboard whose one table shows contacts (a test-only metric), owned by the admin."""
    name = "test_matrix_contacts"
    if name not in CATALOG:
        metric(
            name,
            params=ContactParams,
            columns=("customer_id", "email", "contact_name", "phone"),
            definition="test rows with personal data",
            group="kpi",
        )(lambda source, params: pd.DataFrame(PII_ROWS))
    store = app.server.extensions[EXTENSION_KEY].store
    spec = DashboardSpec.model_validate(
        {
            "key": PII_SLUG,
            "title": "Contacts",
            "widgets": [{"id": "contacts", "type": "table", "title": "Contacts", "metric": name}],
        }
    )
    with store.session() as session:
        admin_id = session.scalar(select(User.id).where(User.username == "admin"))
        session.add(
            Dashboard(slug=PII_SLUG, title="Contacts", spec=spec.model_dump(), owner_id=admin_id)
        )
    yield PII_SLUG
    with store.session() as session:
        session.execute(delete(Dashboard).where(Dashboard.slug == PII_SLUG))
    CATALOG.pop(name, None)


def _principal(app, username: str) -> Principal:
    store = app.server.extensions[EXTENSION_KEY].store
    with store.session() as session:
        u = session.scalar(select(User).where(User.username == username))
        return Principal(u.id, u.username, u.role, u.department, u.full_name)


def signed_in(app, role: str):
    """A test client signed in as `role` through the real login form."""
    client = app.server.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post(
        "/login", data={"username": role, "password": "nexpo-demo", "csrf_token": csrf, "next": "/"}
    )
    assert answer.status_code == 302
    return client


@pytest.fixture(params=["session", "token"])
def as_role(request, app):
    """`as_role("viewer")` -> (client, extra headers): signed in through the login form, or a token."""

    def make(role: str):
        if request.param == "session":
            return signed_in(app, role), {}
        client = app.server.test_client()
        store = app.server.extensions[EXTENSION_KEY].store
        plaintext, _ = tokens.issue(store, _principal(app, role).id, "matrix")
        return client, {"Authorization": f"Bearer {plaintext}"}

    return make


def _expect(response, allowed: bool) -> dict:
    assert response.status_code == (200 if allowed else 403), response.get_data(as_text=True)[:300]
    body = response.get_json()
    if not allowed:
        assert body["error"] == "forbidden" and body["message"]
    return body


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("key", TEMPLATES)
def test_role_x_template_on_every_api_endpoint(app, as_role, role, key):
    client, headers = as_role(role)
    allowed = key in READS[role]
    for path in (f"/api/reports/{key}", f"/api/templates/{key}", f"/api/dashboards/{key}"):
        body = _expect(client.get(path, headers=headers), allowed)
        if allowed:
            assert body["id"] == key and body["spec"]["key"] == key
    embed = client.get(f"/api/dashboards/{key}/embed", headers=headers)
    _expect(embed, allowed and EXPORTS[role])
    preview = client.get(f"/api/reports/{key}/preview", headers=headers)
    body = _expect(preview, allowed)
    if allowed:
        # The right rows: exactly what the engine gives this principal for the same window.
        spec = builtin_dashboards()[key]
        svc = app.server.extensions[EXTENSION_KEY]
        with app.server.test_request_context():
            window = resolve(spec.default_period, svc.settings.report_timezone)
            defaults = spec.default_filters.dimensions() or None  # e.g. user_type=active
            who = _principal(app, role)
            expected = [widget_json(r) for r in generate(spec, window, who, svc, filters=defaults)]
        assert body["widgets"] == expected
        assert body["masked"] is (role != "admin")
        assert body["window"]["days"] <= (30 if role == "viewer" else 366)


@pytest.mark.parametrize("role", ROLES)
def test_role_lists_show_exactly_the_readable_templates(as_role, role):
    client, headers = as_role(role)
    for path in ("/api/reports", "/api/templates", "/api/dashboards"):
        body = client.get(path + "?per_page=100", headers=headers).get_json()
        ids = {item["id"] for item in body["items"]} & set(builtin_dashboards())
        assert ids == READS[role], path
    assert client.get("/api/tokens", headers=headers).status_code == 200
    assert client.get("/api/embeds", headers=headers).status_code == 200


@pytest.mark.parametrize("role", ROLES)
def test_viewer_range_cap_refuses_an_explicit_longer_period(as_role, role):
    client, headers = as_role(role)
    answer = client.get("/api/reports/kpi_dashboard/preview?period=90d", headers=headers)
    if role == "viewer":
        assert answer.status_code == 403
        assert "30 days" in answer.get_json()["message"]
    else:
        assert answer.status_code == 200


@pytest.mark.parametrize("role", ROLES)
def test_personal_data_is_masked_for_every_role_but_admin(app, as_role, pii_dashboard, role):
    client, headers = as_role(role)
    answer = client.get(f"/api/reports/{pii_dashboard}/preview", headers=headers)
    if role != "admin":  # the seed's table: saved dashboards are admins' ("all" reports)
        _expect(answer, False)
    with using(builders_table()):  # an operator's file opening all reports to managers, analysts
        answer = client.get(f"/api/reports/{pii_dashboard}/preview", headers=headers)
    if role == "viewer":
        _expect(answer, False)
        return
    rows = _expect(answer, True)["widgets"][0]["rows"]
    assert rows == (PII_ROWS if role == "admin" else MASKED_ROWS)


def _render_page(client, path: str):
    body = {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [
            {"id": "_pages_content", "property": "children"},
            {"id": "_pages_store", "property": "data"},
        ],
        "inputs": [
            {"id": "_pages_location", "property": "pathname", "value": path},
            {"id": "_pages_location", "property": "search", "value": ""},
        ],
        "changedPropIds": ["_pages_location.pathname"],
        "state": [],
    }
    return client.post("/_dash-update-component", json=body)


@pytest.mark.parametrize("role", ROLES)
def test_role_x_pages_through_the_ui_session(app, role):
    client = signed_in(app, role)
    for key in TEMPLATES:
        content = _render_page(client, f"/dashboards/{key}").get_data(as_text=True)
        if key in READS[role]:
            assert "dashboard-denied" not in content and key in content
        else:
            assert "dashboard-denied" in content
    for path in ("/admin/users", "/admin/audit"):
        direct = client.get(path)
        assert direct.status_code == (200 if role == "admin" else 403)
        content = _render_page(client, path).get_data(as_text=True)
        assert ("admin-denied" in content) is (role != "admin")
    assert client.get("/account").status_code == 200
    assert "account-page" in _render_page(client, "/account").get_data(as_text=True)


def test_embed_of_personal_data_is_masked_even_when_an_admin_issued_it(app, bearer, pii_dashboard):  # noqa: F811
    client = app.server.test_client()
    link = client.get(f"/api/dashboards/{pii_dashboard}/embed", headers=bearer("admin")).get_json()
    token = link["token"]
    viewer = app.server.test_client()
    assert viewer.get(f"/embed/{token}").status_code == 200
    body = {
        "output": '{"type":"embed-widget-body","widget":["MATCH"]}.children',
        "outputs": {"id": {"type": "embed-widget-body", "widget": "contacts"}, "property": "children"},
        "inputs": [{"id": "embed-state-store", "property": "data", "value": {"token": token, "period": "30d"}}],
        "state": [{"id": {"type": "embed-widget-body", "widget": "contacts"}, "property": "id", "value": {"type": "embed-widget-body", "widget": "contacts"}}],
        "changedPropIds": ["embed-state-store.data"],
    }  # fmt: skip
    answer = viewer.post(f"/embed/{token}/_dash-update-component", json=body)
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200, text[:300]
    assert "ana***@nexpo.example" in text and "ana.analyst@" not in text
