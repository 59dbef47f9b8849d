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


SEED_TEMPLATES = {
    "revenue_analytics": {
        "metrics": ["mrr", "arr", "clv", "churn_rate", "trial_conversion"],
        "visualizations": ["revenue_trend", "cohort_analysis", "comparison_table"],
        "period": "30d",
    },
    "user_analytics": {
        "metrics": ["trial_conversion"],
        "visualizations": ["funnel_chart", "cohort_analysis", "trend_lines"],
        "period": "30d",
    },
    "kpi_dashboard": {
        "metrics": ["mrr", "churn_rate", "trial_conversion"],
        "visualizations": ["gauge_chart", "trend_lines", "comparison_table"],
        "period": "7d",
    },
}


@pytest.mark.parametrize("key", sorted(SEED_TEMPLATES))
def test_seed_templates_carry_the_seed_fields(key):
    spec = builtin_dashboards()[key]
    want = SEED_TEMPLATES[key]
    assert spec.metrics == want["metrics"] and spec.visualizations == want["visualizations"]
    assert spec.default_period == want["period"]  # from default_filters.date_range
    assert spec.data_sources == ["warehouse"] and spec.description
    assert spec.export_formats and spec.schedule_options.default_frequency in (
        spec.schedule_options.frequencies
    )


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
