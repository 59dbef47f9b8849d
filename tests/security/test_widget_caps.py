"""Issue 13, item 2: a widget's own start/end never escape the role's date cap, on any surface.

The attack: a saved dashboard whose widget says `params: {start: <two years ago>}`. Before the fix
the widget's parameters replaced the capped window, so an analyst's preview, a CSV export and an
embed returned 731 days. Now the cap is applied to the final days of every query.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import delete, select

from engine.generate import run
from engine.periods import today_in
from engine.services import EXTENSION_KEY
from engine.spec import DashboardSpec
from pages.embed import embed_request, verify
from security.policy import using
from store.models import Dashboard, User
from tests.api.conftest import bearer, release_warehouse  # noqa: F401  (fixture)
from tests.policies import builders_table

SLUG = "two-years-of-revenue"


@pytest.fixture(autouse=True, scope="module")
def _release(app):
    yield
    release_warehouse(app)


@pytest.fixture(scope="module")
def long_dashboard(app):
    svc = app.server.extensions[EXTENSION_KEY]
    today = today_in(svc.settings.report_timezone)
    start = (today - timedelta(days=730)).isoformat()
    spec = DashboardSpec.model_validate(
        {
            "key": SLUG,
            "title": "Two years of revenue",
            "export_formats": ["csv", "json"],
            "widgets": [
                {
                    "id": "trend",
                    "type": "line",
                    "title": "Revenue",
                    "metric": "revenue_trend",
                    "params": {"start": start},
                    "options": {"x": "date", "y": ["revenue"]},
                }
            ],
        }
    )
    with svc.store.session() as session:
        admin = session.scalar(select(User.id).where(User.username == "admin"))
        session.add(Dashboard(slug=SLUG, title=spec.title, spec=spec.model_dump(), owner_id=admin))
    yield today
    with svc.store.session() as session:
        session.execute(delete(Dashboard).where(Dashboard.slug == SLUG))


def _days(rows: list[dict]) -> tuple[int, date]:
    days = sorted(date.fromisoformat(r["date"][:10]) for r in rows)
    return len(days), days[0]


@pytest.mark.parametrize(("role", "longest"), [("admin", 731), ("manager", 366), ("analyst", 184)])
def test_a_widgets_own_start_is_cut_to_the_role_cap_in_the_preview(
    app,
    bearer,  # noqa: F811  (the fixture imported above)
    long_dashboard,
    role,
    longest,
):
    client = app.server.test_client()
    with using(builders_table()):  # managers and analysts may open saved dashboards
        body = client.get(f"/api/reports/{SLUG}/preview", headers=bearer(role)).get_json()
    rows = body["widgets"][0]["rows"]
    count, first = _days(rows)
    assert count <= longest, f"{role} got {count} days"
    if role != "admin":  # the cap's first day, not the widget's two-years-ago start
        assert first >= long_dashboard - timedelta(days=longest)


def test_the_cap_holds_in_a_csv_export_and_an_embed(app, bearer, long_dashboard):  # noqa: F811
    client = app.server.test_client()
    with using(builders_table()):
        answer = client.post(
            "/api/export/csv", json={"report_id": SLUG, "period": "30d"}, headers=bearer("analyst")
        )
        assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
        lines = [
            line
            for line in answer.get_data(as_text=True).splitlines()
            if line[:4].isdigit() and line[4:5] == "-"
        ]
        assert 0 < len(lines) <= 184
        link = client.get(f"/api/dashboards/{SLUG}/embed", headers=bearer("analyst")).get_json()
    svc = app.server.extensions[EXTENSION_KEY]
    with using(builders_table()), app.server.test_request_context():
        claims = verify(link["token"])  # what every embed request does (issuer re-checked)
        (result,) = run(embed_request(claims, "30d"), svc)
    assert result.error is None and 0 < len(result.frame) <= 184
