"""POST /api/reports/widget-data: the seed's widget contract, its shaping, its errors and roles."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from sqlalchemy import select

from api.widget_data import chart_json, metric_json, widget_payload, widgets_used
from engine.generate import WidgetResult, generate
from engine.periods import Window, resolve
from engine.spec import WidgetSpec
from engine.templates import builtin_dashboards
from security.users import load_principal
from store.models import User
from tests.loaded_days import loaded_days

URL = "/api/reports/widget-data"
WINDOW = Window(date(2026, 3, 1), date(2026, 3, 3))


def card(change: float | None, value: float | None = 1234.5678, fmt: str = "money"):
    widget = WidgetSpec(
        id="mrr", type="metric_card", title="MRR", metric="mrr", options={"format": fmt}
    )
    return WidgetResult(widget=widget, window=WINDOW, value=value, change=change)


# -- shaping (pure) ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "shown"), [(0.12345, 12.3), (-0.0449, -4.5), (0.0, 0.0), (None, None)]
)
def test_a_cards_change_is_in_percent_with_one_decimal_or_null(change, shown):
    assert metric_json(card(change)) == {
        "key": "mrr",
        "label": "MRR",
        "value": 1234.57,
        "change": shown,
    }


def test_a_percent_card_is_in_percent_and_says_so():
    got = metric_json(card(0.5, value=0.02391, fmt="percent"))
    assert got["value"] == 2.39 and got["label"] == "MRR (%)" and got["change"] == 50.0


def test_a_gauge_shows_its_latest_month_and_that_months_change():
    widget = WidgetSpec(
        id="mrr-goal",
        type="gauge",
        title="MRR vs goal",
        metric="kpi_progress",
        options={"value": "value", "goal": "goal", "x": "period_start", "format": "money"},
    )
    frame = pd.DataFrame(  # out of order on purpose: the latest month is the one shown
        {
            "period_start": pd.to_datetime(["2026-03-01", "2026-01-01", "2026-02-01"]),
            "value": [120.0, 100.0, 110.0],
            "goal": [130.0, 100.0, 100.0],
            "change": [120 / 110 - 1, None, 0.1],
        }
    )
    got = metric_json(WidgetResult(widget=widget, window=WINDOW, frame=frame))
    assert got == {"key": "mrr-goal", "label": "MRR vs goal", "value": 120.0, "change": 9.1}


def test_chart_data_is_the_screens_series_with_iso_dates_and_nulls():
    widget = WidgetSpec(
        id="active-users",
        type="line",
        title="DAU",
        metric="trends",
        options={"x": "date", "y": ["value"], "moving_average": 2, "labels": {"value": "DAU"}},
    )
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(["2026-03-01", "2026-03-02", "2026-03-03"]),
            "value": [10.0, 20.0, float("nan")],
        }
    )
    got = chart_json(WidgetResult(widget=widget, window=WINDOW, frame=frame))
    assert got == {
        "labels": ["2026-03-01", "2026-03-02", "2026-03-03"],
        "datasets": [
            {"label": "DAU", "data": [10.0, 20.0, None]},
            # rolling(2, min_periods=1): 10, (10+20)/2, 20 (NaN skipped)
            {"label": "DAU (2-point avg)", "data": [10.0, 15.0, 20.0]},
        ],
    }


def test_no_chart_or_a_failed_one_is_empty_chart_data():
    assert chart_json(None) == {"labels": [], "datasets": []}
    widget = WidgetSpec(id="t", type="line", title="T", metric="trends")
    failed = WidgetResult(widget=widget, window=WINDOW, error="The source is down.")
    assert widget_payload([failed]) == {"metrics": [], "chartData": {"labels": [], "datasets": []}}


def test_the_widgets_used_are_the_number_widgets_and_the_first_line_or_area_chart():
    spec = builtin_dashboards()["revenue_analytics"]
    used = widgets_used(spec)
    charts = [w for w in spec.widgets if w.type in ("line", "area")]
    assert used[-1] == charts[0]
    assert used[:-1] == [w for w in spec.widgets if w.type == "metric_card"] + [
        w for w in spec.widgets if w.type == "gauge"
    ]


# -- the endpoint -------------------------------------------------------------------------------------


def principal(app, username: str):
    store = app.server.extensions["nexpo"].store
    with store.session() as session:
        user_id = session.scalar(select(User.id).where(User.username == username))
    return load_principal(store, str(user_id))


@pytest.fixture
def admin(login, client):
    login("admin")
    return client


@pytest.mark.parametrize("report", ["kpi_dashboard", "revenue_analytics", "user_analytics"])
def test_the_answer_is_what_the_dashboard_computes(app, admin, report):
    response = admin.post(URL, json={"type": report, "period": "30d", "source": "warehouse"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    svc = app.server.extensions["nexpo"]
    spec = builtin_dashboards()[report]
    window = resolve("30d", svc.settings.report_timezone)
    used = spec.model_copy(update={"widgets": widgets_used(spec)})
    with app.server.app_context():
        defaults = used.default_filters.dimensions() or None  # the report's own, e.g. user_type
        results = generate(used, window, principal(app, "admin"), svc, filters=defaults)
    assert body == {
        **widget_payload(results),
        "period": "30d",
        "window": {
            "start": window.start.isoformat(),
            "end": window.end.isoformat(),
            "days": 30,
            "capped": False,
        },
    }
    assert body["metrics"] and body["chartData"]["labels"]
    assert [m["key"] for m in body["metrics"]] == [
        w.id for w in widgets_used(spec) if w.type in ("metric_card", "gauge")
    ]


def test_revenue_chart_data_is_daily_revenue_and_its_moving_average(app, admin):
    body = admin.post(URL, json={"type": "revenue_analytics", "period": "7d"}).get_json()
    svc = app.server.extensions["nexpo"]
    spec = builtin_dashboards()["revenue_analytics"]
    trend = spec.model_copy(update={"widgets": [spec.widget("revenue-trend")]})
    window = resolve("7d", svc.settings.report_timezone)
    with app.server.app_context():
        defaults = trend.default_filters.dimensions() or None
        (result,) = generate(trend, window, principal(app, "admin"), svc, filters=defaults)
    frame = result.frame
    chart = body["chartData"]
    assert chart["labels"] == [pd.Timestamp(d).date().isoformat() for d in frame["date"]]
    assert len(chart["labels"]) == loaded_days(svc, window)  # up to the last loaded day
    assert [d["label"] for d in chart["datasets"]] == ["Revenue", "Revenue (7-day avg)"]
    assert chart["datasets"][0]["data"] == pytest.approx(list(frame["revenue"]))
    assert chart["datasets"][1]["data"] == pytest.approx(list(frame["revenue_ma7"]))


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"type": "kpi_dashboard", "widget": "x"}, "widget: unknown field"),
        ({"type": "kpi_dashboard", "period": "1y"}, "period='1y'"),
        ({"period": "7d"}, "type: required"),
        ({"type": "kpi_dashboard", "source": "mongodb"}, "warehouse"),
        ({"type": "kpi_dashboard", "source": 3}, "source"),
    ],
)
def test_bad_requests_are_400_naming_the_problem(admin, body, named):
    response = admin.post(URL, json=body)
    assert response.status_code == 400 and named in response.get_json()["message"]


def test_an_unknown_source_lists_the_allowed_ones(admin):
    spec = builtin_dashboards()["kpi_dashboard"]
    message = admin.post(URL, json={"type": "kpi_dashboard", "source": "mongodb"}).get_json()
    for name in {*spec.data_sources, "warehouse"}:
        assert name in message["message"]


def test_every_source_the_report_names_is_accepted(admin):
    spec = builtin_dashboards()["user_analytics"]
    for source in {*spec.data_sources, "warehouse"}:
        response = admin.post(URL, json={"type": "user_analytics", "source": source})
        assert response.status_code == 200, (source, response.get_json())


def test_an_unknown_report_is_404_and_no_session_is_401(app, admin):
    assert admin.post(URL, json={"type": "no-such-report"}).status_code == 404
    assert app.server.test_client().post(URL, json={"type": "kpi_dashboard"}).status_code == 401


def test_a_non_json_body_is_400(admin):
    response = admin.post(URL, data="type=kpi_dashboard", content_type="text/plain")
    assert response.status_code == 400


# Roles: cases that hold under the old policy table and the seed's (viewer: kpi_dashboard, 30 days).


def test_a_viewer_may_not_read_the_revenue_report(login, client):
    login("viewer")
    response = client.post(URL, json={"type": "revenue_analytics"})
    assert response.status_code == 403 and response.get_json()["error"] == "forbidden"


def test_a_viewers_90_days_are_cut_to_their_30_and_say_so(login, client):
    login("viewer")
    body = client.post(URL, json={"type": "kpi_dashboard", "period": "90d"}).get_json()
    assert body["window"]["days"] == 30 and body["window"]["capped"] is True
    assert body["metrics"]
