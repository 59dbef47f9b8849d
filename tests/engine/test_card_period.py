"""A "this month" card shows the month so far with a label, or the latest month with a value."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from engine.generate import WidgetResult, _latest_period, period_label
from engine.periods import Window
from engine.spec import WidgetSpec
from security.users import Principal

ADMIN = Principal(1, "admin", "admin")

WIDGET = WidgetSpec(id="c", type="metric_card", title="Trial conversion", metric="trial_conversion")


def _rows(*values: float | None) -> pd.DataFrame:
    starts = [date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)][-len(values) :]
    return pd.DataFrame({"period_start": starts, "value": list(values)})


def test_period_labels_say_month_to_date_while_the_month_runs():
    assert period_label(date(2026, 12, 1), "month", date(2026, 12, 3)) == "month to date, Dec 1–3"
    assert period_label(date(2026, 11, 1), "month", date(2026, 11, 30)) == "November 2026"
    assert period_label(date(2026, 2, 1), "month", date(2026, 3, 2)) == "February 2026"
    assert (
        period_label(date(2026, 11, 30), "week", date(2026, 12, 2)) == "week to date, Nov 30–Dec 2"
    )
    assert period_label(date(2026, 11, 23), "week", date(2026, 12, 2)) == "week of Nov 23, 2026"


def test_a_card_early_in_the_month_shows_the_month_so_far():
    result = WidgetResult(widget=WIDGET, window=Window(date(2026, 11, 4), date(2026, 12, 3)))
    rows = _latest_period(result, _rows(0.4, 0.5), "value", "period_start", "month")
    assert rows["value"].iloc[-1] == 0.5
    assert result.meta["period_label"] == "month to date, Dec 1–3"


def test_a_month_without_a_value_yet_shows_the_latest_month_with_one_and_says_so():
    result = WidgetResult(widget=WIDGET, window=Window(date(2026, 11, 2), date(2026, 12, 1)))
    rows = _latest_period(result, _rows(0.3, 0.4, None), "value", "period_start", "month")
    assert rows["value"].iloc[-1] == 0.4
    assert result.meta["period_label"] == "November 2026 (no value yet for month to date, Dec 1)"


# --------------------------------------------------------------------------- through the engine

DATA_END = date(2026, 6, 15)  # the demo data covers the days before this one: no clock involved


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory):
    from datasources.registry import DataSources
    from demo.generator import generate
    from demo.schema import load_frames
    from engine.services import Services
    from settings import Settings
    from store import init_store

    path = tmp_path_factory.mktemp("card") / "w.duckdb"
    load_frames(f"duckdb:///{path}", generate("tiny", seed=5, today=DATA_END))
    settings = Settings.from_env(
        {"INSTANCE_PATH": str(path.parent / "i"), "WAREHOUSE_URL": f"duckdb:///{path}"}
    )
    return Services(
        settings, init_store(settings.database_url), DataSources.from_settings(settings)
    )


def _card(services, widget_id: str, key: str, end: date) -> WidgetResult:
    from engine.generate import generate_widget
    from engine.templates import builtin_dashboards

    window = Window(end - timedelta(days=29), end)
    return generate_widget(builtin_dashboards()[key], widget_id, window, ADMIN, services)


def test_the_trial_conversion_card_early_in_a_month_shows_the_month_so_far(services):
    from analytics.catalog import run_metric

    card = _card(services, "trial-conversion", "user_analytics", date(2026, 6, 10))
    assert card.error is None and card.meta["period_label"] == "month to date, Jun 1–10"
    source = services.sources.get("warehouse")
    june = run_metric(
        "trial_conversion",
        source,
        {"start": "2026-06-01", "end": "2026-06-10", "interval": "month", "method": "period"},
    )
    assert card.value is not None and card.value == june["value"].iloc[0]


def test_a_month_without_data_yet_shows_the_last_month_with_a_value(services):
    # 1 July: the data ends on 14 June, so July has decided nothing yet; June has.
    card = _card(services, "trial-conversion", "user_analytics", date(2026, 7, 1))
    assert card.error is None and card.value is not None
    assert card.meta["period_label"] == "June 2026 (no value yet for month to date, Jul 1)"


def test_the_kpi_trial_gauge_has_a_value_on_the_first_days_of_a_month(services):
    gauge = _card(services, "trial-conversion-goal", "kpi_dashboard", date(2026, 6, 2))
    assert gauge.error is None
    june = gauge.frame[gauge.frame["period_start"] == date(2026, 6, 1)]
    assert june["value"].notna().all()  # decided on 1 June already
