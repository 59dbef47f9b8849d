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
