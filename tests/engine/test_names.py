"""Names people type: trimmed, at most 120 characters, required, numbered when taken."""

from __future__ import annotations

import pytest

from engine.dashboards import DashboardError, Dashboards
from engine.names import MAX_NAME, NameInputError, clean_name, numbered
from engine.saved_reports import ReportChanges, ReportConfig, ReportConfigError, SavedReports
from engine.spec import DashboardSpec, WidgetSpec
from security.policy import using
from security.users import create_user
from tests.policies import builders_table

MARCH = {"period": "custom", "start": "2024-03-01", "end": "2024-03-31"}


def test_clean_name_trims_and_joins_runs_of_spaces():
    assert clean_name("  Revenue \t by\n plan  ") == "Revenue by plan"


@pytest.mark.parametrize("raw", ["", "   ", "\n\t", None])
def test_clean_name_refuses_an_empty_name_saying_it_is_required(raw):
    with pytest.raises(NameInputError) as caught:
        clean_name(raw, "dashboard title")
    assert caught.value.user_message == "A dashboard title is required."


def test_clean_name_refuses_more_than_120_characters_and_counts_them():
    assert clean_name("x" * MAX_NAME) == "x" * 120
    with pytest.raises(NameInputError, match="121 characters long; keep it to 120"):
        clean_name("x" * 121)


def test_clean_name_refuses_what_is_not_text():
    with pytest.raises(NameInputError, match="must be text"):
        clean_name(["Revenue"])


def test_clean_name_raises_the_callers_error_class():
    with pytest.raises(DashboardError, match="A title is required"):
        clean_name(" ", "title", error=DashboardError)


def test_numbered_keeps_a_free_name_and_numbers_a_taken_one_ignoring_case():
    assert numbered("Revenue", ["Costs"]) == "Revenue"
    assert numbered("Revenue", ["revenue "]) == "Revenue (2)"
    assert numbered("Revenue", ["Revenue", "Revenue (2)", "Revenue (3)"]) == "Revenue (4)"


def test_numbered_counts_on_from_a_number_the_name_already_has():
    assert numbered("Revenue (2)", ["Revenue", "Revenue (2)"]) == "Revenue (3)"


def test_numbered_stays_within_120_characters():
    long = "y" * 120
    assert numbered(long, [long]) == "y" * 116 + " (2)"


# --- the stores --------------------------------------------------------------------------------


@pytest.fixture
def owner(store):
    return create_user(store, "ana", "pw", "admin")


def _spec(title: str) -> DashboardSpec:
    widget = WidgetSpec(id="w0", type="metric_card", title="MRR", metric="mrr")
    return DashboardSpec(key="draft", title=title, widgets=[widget])


def test_dashboards_trim_titles_number_duplicates_and_refuse_empty_ones(store, owner):
    dashboards = Dashboards(store)
    with using(builders_table()):
        first = dashboards.create(_spec("  Revenue  "), owner)
        second = dashboards.save_as(_spec("x"), "revenue", owner)
        assert (first.title, second.title) == ("Revenue", "revenue (2)")
        assert (first.slug, second.slug) == ("revenue", "revenue-2")
        with pytest.raises(DashboardError, match="A dashboard title is required"):
            dashboards.save_as(_spec("x"), "   ", owner)
        with pytest.raises(DashboardError, match="keep it to 120"):
            dashboards.save(first.slug, _spec("z" * 121), 1, owner)
        assert dashboards.get(first.slug).version == 1


def test_templates_number_a_name_a_built_in_or_saved_template_has(store, owner):
    dashboards = Dashboards(store)
    with using(builders_table()):
        base = dashboards.create(_spec("Base"), owner)
        made = dashboards.create_template(base.slug, owner, name=" KPI  dashboard ")
        again = dashboards.create_template(base.slug, owner, name="Mine")
        twice = dashboards.create_template(base.slug, owner, name="mine")
        assert made.name == "KPI dashboard (2)"  # the built-in kpi_dashboard has it
        assert (again.name, twice.name) == ("Mine", "mine (2)")
        with pytest.raises(DashboardError, match="A template name is required"):
            dashboards.create_template(base.slug, owner, name="")
        with pytest.raises(DashboardError, match="A template name is required"):
            dashboards.update_template(again.key, owner, name=" \t")
        renamed = dashboards.update_template(again.key, owner, name="  Mine,  renamed ")
        assert renamed.name == "Mine, renamed"


def test_saved_reports_trim_and_number_names_and_refuse_blank_ones(store, owner):
    reports = SavedReports(store, audit_enabled=False)
    config = {"template": "revenue_analytics", **MARCH}
    first = reports.create(ReportConfig(name=" Monthly  revenue ", **config), owner)
    second = reports.create(ReportConfig(name="Monthly revenue", **config), owner)
    assert (first.name, second.name) == ("Monthly revenue", "Monthly revenue (2)")
    assert first.slug != second.slug
    with pytest.raises(ReportConfigError, match="name: A report name is required"):
        reports.create(ReportConfig(name="   ", **config), owner)
    with pytest.raises(ReportConfigError, match="name: A report name is required"):
        reports.update(first.slug, ReportChanges(name="  "), owner)
    assert reports.update(first.slug, ReportChanges(name=" March "), owner).name == "March"
