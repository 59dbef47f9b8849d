"""Templates are validated when loaded: a bad metric or field fails loudly with the file and field."""

import pytest

from engine.templates import TemplateError, builtin_dashboards, load_template


def test_builtin_templates_load():
    specs = builtin_dashboards()
    assert "revenue_overview" in specs
    assert [w.id for w in specs["revenue_overview"].widgets][:4] == [
        "mrr",
        "arr",
        "paying-customers",
        "customer-churn",
    ]


def test_unknown_metric_names_file_and_field(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(
        "key: broken\ntitle: Broken\nwidgets:\n  - {id: a, type: line, title: A, metric: mrr}\n  - {id: b, type: line, title: B, metric: no_such_metric}\n"
    )
    with pytest.raises(
        TemplateError, match=r"broken.yaml: field widgets.1.metric: unknown metric 'no_such_metric'"
    ):
        load_template(path)


def test_unknown_widget_type_names_file_and_field(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "key: bad\ntitle: Bad\nwidgets:\n  - {id: a, type: sundial, title: A, metric: mrr}\n"
    )
    with pytest.raises(TemplateError, match=r"bad.yaml: field widgets.0.type"):
        load_template(path)


# The seed's report_templates block, as written in SEED.md.
SEED_TEMPLATES = {
    "revenue_analytics": {
        "name": "Revenue Analytics Report",
        "description": "PostHog-powered revenue insights and funnel analysis",
        "data_sources": ["posthog", "subscriptions", "payments"],
        "default_filters": {"date_range": "last_30_days", "revenue_type": "all"},
        "metrics": ["mrr", "arr", "clv", "churn_rate", "trial_conversion"],
        "visualizations": ["funnel_chart", "revenue_trend", "cohort_analysis"],
        "export_formats": ["pdf", "excel", "json"],
        "schedule_options": ["daily", "weekly", "monthly"],
    },
    "user_analytics": {
        "name": "User Analytics Report",
        "description": "User engagement and behavior metrics",
        "data_sources": ["users", "events", "sessions", "posthog"],
        "default_filters": {"date_range": "last_30_days", "user_type": "active"},
        "metrics": [],
        "visualizations": ["gauge_chart", "trend_lines", "comparison_table"],
        "export_formats": ["pdf", "json"],
        "schedule_options": ["daily", "weekly"],
    },
    "kpi_dashboard": {
        "name": "KPI Dashboard",
        "description": "Key performance indicators overview",
        "data_sources": ["kpis", "metrics", "goals"],
        "default_filters": {"date_range": "last_7_days", "department": "all"},
        "metrics": [],
        "visualizations": ["gauge_chart", "trend_lines", "comparison_table"],
        "export_formats": ["pdf", "json"],
        "schedule_options": ["daily", "weekly"],
    },
}
PERIODS = {"last_7_days": "7d", "last_30_days": "30d"}


@pytest.mark.parametrize("key", sorted(SEED_TEMPLATES))
def test_seed_templates_carry_the_seed_fields(key):
    spec = builtin_dashboards()[key]
    seed = SEED_TEMPLATES[key]
    assert spec.title == seed["name"] and spec.description == seed["description"]
    assert spec.data_sources == seed["data_sources"]
    assert spec.metrics == seed["metrics"] and spec.visualizations == seed["visualizations"]
    assert spec.export_formats == seed["export_formats"]
    assert spec.schedule_options == seed["schedule_options"]
    filters = spec.default_filters
    for name, value in seed["default_filters"].items():
        if name == "department":
            assert filters.department == []  # "all"
        else:
            assert getattr(filters, name) == value, name
    assert spec.default_period == PERIODS[seed["default_filters"]["date_range"]]


# A seed visualization and the widget types that draw it (the test's own reading of the names).
FITTING = {
    "funnel_chart": {"funnel"},
    "revenue_trend": {"line", "area"},
    "cohort_analysis": {"cohort_heatmap"},
    "gauge_chart": {"gauge"},
    "trend_lines": {"line"},
    "comparison_table": {"table"},
}
# What each visualization must show: the metric of its widget.
SHOWS = {
    "funnel_chart": {"trial_funnel", "funnel"},
    "revenue_trend": {"revenue_trend"},
    "cohort_analysis": {"cohort_mrr_retention", "retention", "cohort_ltv"},
    "gauge_chart": {"kpi_progress", "dau_mau_summary"},
    "trend_lines": {"trends", "dau_mau", "kpi_progress"},
    "comparison_table": {"period_comparison"},
}


@pytest.mark.parametrize("key", sorted(SEED_TEMPLATES))
def test_every_listed_visualization_is_a_widget_of_a_fitting_type(key):
    spec = builtin_dashboards()[key]
    for name in spec.visualizations:
        widgets = [w for w in spec.widgets if w.visualization == name]
        assert widgets, f"{key}: no widget draws {name}"
        for widget in widgets:
            assert widget.type in FITTING[name], (key, widget.id, widget.type)
            assert widget.metric in SHOWS[name], (key, widget.id, widget.metric)
    # The comparison tables compare this period with the previous one.
    for widget in spec.widgets:
        if widget.visualization == "comparison_table":
            assert {"current", "previous", "change"} <= set(widget.options["columns"])


def test_every_seed_metric_of_the_revenue_report_has_a_widget():
    from engine.templates import resolve_metric

    spec = builtin_dashboards()["revenue_analytics"]
    shown = {w.metric for w in spec.widgets}
    assert all(resolve_metric(m) in shown for m in spec.metrics)


def test_the_engagement_report_is_on_user_analytics():
    widgets = {w.metric: w for w in builtin_dashboards()["user_analytics"].widgets}
    assert widgets["engagement_report"].type == "table"


def test_revenue_overview_offers_what_the_revenue_report_offers_and_every_data_format():
    # The demo's extra report (not a seed template) is the one that offers every data format.
    specs = builtin_dashboards()
    overview, report = specs["revenue_overview"], specs["revenue_analytics"]
    assert set(report.export_formats) <= set(overview.export_formats)
    assert overview.export_formats == ["pdf", "excel", "csv", "json", "xml"]
    assert overview.schedule_options == report.schedule_options


def test_default_filters_in_the_seed_shape_become_dashboard_filters():
    from engine.spec import DefaultFilters

    filters = DefaultFilters(date_range="last_30_days", user_type="active", department="all")
    assert filters.dimensions() == {"user_type": ["active"]}
    assert DefaultFilters(revenue_type="recurring", plan=["Pro"]).dimensions() == {
        "plan": ["Pro"],
        "revenue_type": ["recurring"],
    }
    # Saved specs hold lists: [] is all.
    assert DefaultFilters.model_validate({"user_type": [], "revenue_type": []}).dimensions() == {}


def test_older_saved_specs_with_schedule_options_as_a_mapping_still_load():
    from engine.spec import DashboardSpec

    spec = DashboardSpec.model_validate(
        {
            "key": "old",
            "title": "Old",
            "widgets": [],
            "schedule_options": {"frequencies": ["weekly"], "default_frequency": "weekly"},
        }
    )
    assert spec.schedule_options == ["weekly"]


def test_a_visualization_tag_must_fit_and_be_listed(tmp_path):
    with pytest.raises(TemplateError, match=r"widgets.0.type: 'gauge_chart' is drawn by a gauge"):
        load_template(
            _write_full(tmp_path, "line", "gauge_chart", "visualizations: [gauge_chart]\n")
        )
    with pytest.raises(TemplateError, match=r"widgets.0.visualization: 'gauge_chart' is not in"):
        load_template(_write_full(tmp_path, "gauge", "gauge_chart", ""))


def _write_full(tmp_path, type_: str, visualization: str, body: str):
    path = tmp_path / "v.yaml"
    path.write_text(
        "key: v\ntitle: V\nwidgets:\n"
        f"  - {{id: a, type: {type_}, title: A, metric: mrr, visualization: {visualization}}}\n"
        + body
    )
    return path


def test_seed_metric_names_resolve_to_catalog_metrics():
    from engine.templates import resolve_metric

    assert resolve_metric("clv") == "ltv" and resolve_metric("churn_rate") == "customer_churn_rate"
    widgets = {w.metric for w in builtin_dashboards()["revenue_analytics"].widgets}
    assert {"ltv", "customer_churn_rate", "trial_conversion"} <= widgets


def _write(tmp_path, body: str):
    path = tmp_path / "t.yaml"
    path.write_text(
        "key: t\ntitle: T\nwidgets:\n  - {id: a, type: line, title: A, metric: mrr}\n" + body
    )
    return path


def test_unknown_headline_metric_names_file_and_field(tmp_path):
    with pytest.raises(TemplateError, match=r"t.yaml: field metrics.1: unknown metric 'cac'"):
        load_template(_write(tmp_path, "metrics: [mrr, cac]\n"))


def test_headline_metric_without_a_widget_fails(tmp_path):
    with pytest.raises(TemplateError, match=r"field metrics.0: no widget shows 'clv'"):
        load_template(_write(tmp_path, "metrics: [clv]\n"))


def test_visualization_without_its_widget_type_fails(tmp_path):
    with pytest.raises(
        TemplateError, match=r"field visualizations.0: 'gauge_chart' needs a widget"
    ):
        load_template(_write(tmp_path, "visualizations: [gauge_chart]\n"))


def test_unknown_visualization_filter_or_format_names_the_field(tmp_path):
    with pytest.raises(TemplateError, match=r"field visualizations.0"):
        load_template(_write(tmp_path, "visualizations: [sundial_chart]\n"))
    with pytest.raises(TemplateError, match=r"field default_filters.region"):
        load_template(_write(tmp_path, "default_filters: {region: [EU]}\n"))
    with pytest.raises(TemplateError, match=r"field default_filters.date_range"):
        load_template(_write(tmp_path, "default_filters: {date_range: last_year}\n"))
    with pytest.raises(TemplateError, match=r"field export_formats.0"):
        load_template(_write(tmp_path, "export_formats: [docx]\n"))


def test_default_period_follows_the_date_range_and_may_not_contradict_it(tmp_path):
    spec = load_template(_write(tmp_path, "default_filters: {date_range: last_90_days}\n"))
    assert spec.default_period == "90d"
    with pytest.raises(TemplateError, match=r"contradicts default_filters.date_range"):
        load_template(
            _write(tmp_path, "default_period: 7d\ndefault_filters: {date_range: last_90_days}\n")
        )
