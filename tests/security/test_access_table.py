"""The access table as data: the seed's block verbatim, and the operator's ACCESS_POLICY_FILE."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from engine.periods import Window
from security.access_table import (
    DEFAULT_TABLE,
    SEED_ACCESS_CONTROL,
    PolicyFileError,
    RangeCap,
    load_policy_file,
)
from security.policy import AccessDenied, Resource, authorize, cap_window, using
from security.users import Principal
from settings import Settings, SettingsError


def test_the_default_table_is_the_seeds_block():
    # The seed's access_control, as SEED.md writes it (revenue_report = the revenue reports).
    assert SEED_ACCESS_CONTROL["manager"]["reports"] == [
        "user_analytics",
        "revenue_report",
        "kpi_dashboard",
    ]
    manager = DEFAULT_TABLE["manager"]
    assert manager.reports == {
        "user_analytics",
        "revenue_analytics",
        "revenue_overview",
        "kpi_dashboard",
    }
    assert manager.actions == {"read", "export", "schedule"}
    assert manager.department_rows and manager.max_range == RangeCap(months=12)
    analyst = DEFAULT_TABLE["analyst"]
    assert analyst.reports == {"user_analytics", "kpi_dashboard"}
    assert analyst.actions == {"read", "export"}
    assert analyst.max_range == RangeCap(months=6) and not analyst.department_rows
    viewer = DEFAULT_TABLE["viewer"]
    assert (viewer.reports, viewer.actions, viewer.max_range) == (
        {"kpi_dashboard"},
        {"read"},
        RangeCap(days=30),
    )
    admin = DEFAULT_TABLE["admin"]
    assert admin.all_reports and admin.max_range is None and not admin.mask_pii
    assert len(admin.actions) == 6


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return path


def test_a_policy_file_widens_the_roles_it_names_and_keeps_the_others(tmp_path):
    path = _write(
        tmp_path,
        """
access_control:
  analyst:
    reports: [user_analytics, kpi_dashboard, revenue_report]
    actions: [read, export, schedule]
    filters: {date_range: max_90_days}
""",
    )
    table = load_policy_file(path)
    assert table["viewer"] == DEFAULT_TABLE["viewer"]
    analyst = Principal(3, "ana", "analyst")
    revenue = Resource.template("revenue_analytics")
    with pytest.raises(AccessDenied):
        authorize(analyst, "schedule", revenue)
    with using(table):
        authorize(analyst, "schedule", revenue)
        window = Window(date(2025, 1, 1), date(2025, 12, 31))
        assert cap_window(analyst, window).days == 90
    with pytest.raises(AccessDenied):  # the default is back after the block
        authorize(analyst, "schedule", revenue)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("access_control:\n  analyst:\n    report: [kpi_dashboard]\n", "access_control.analyst.report: unknown key"),
        ("access_control:\n  analyst:\n    actions: [read, fly]\n", "unknown action 'fly'"),
        ("access_control:\n  boss:\n    actions: [read]\n", "access_control.boss: unknown role"),
        ("access_control:\n  viewer:\n    filters: {date_rnge: max_1_year}\n", "access_control.viewer.filters.date_rnge: unknown key"),
        ("access_control:\n  viewer:\n    filters: {date_range: one_year}\n", "access_control.viewer.filters.date_range='one_year'"),
        ("access_control:\n  manager:\n    filters: {department: everyone}\n", "filters.department='everyone'"),
        ("roles:\n  viewer: {}\n", "expected one top-level key access_control (found roles)"),
        ("access_control: [\n", "not valid YAML at line"),
    ],
)  # fmt: skip
def test_a_bad_policy_file_is_one_line_naming_the_key(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(PolicyFileError) as caught:
        load_policy_file(path)
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"ACCESS_POLICY_FILE {path}")
    assert "\n" not in str(caught.value)
    with pytest.raises(SettingsError, match="ACCESS_POLICY_FILE"):
        Settings.from_env({"ACCESS_POLICY_FILE": str(path), "INSTANCE_PATH": str(tmp_path)})


def test_a_missing_policy_file_stops_start_up(tmp_path):
    with pytest.raises(SettingsError, match="cannot read it"):
        Settings.from_env(
            {"ACCESS_POLICY_FILE": str(tmp_path / "nope.yaml"), "INSTANCE_PATH": str(tmp_path)}
        )


def test_start_up_installs_the_policy_file_and_an_empty_name_the_seeds_table(tmp_path):
    from security import policy

    path = _write(
        tmp_path,
        "access_control:\n  viewer:\n    reports: [kpi_dashboard, user_analytics]\n"
        "    actions: [read]\n",
    )
    viewer = Principal(4, "vic", "viewer")
    year = Window(date(2025, 1, 1), date(2025, 12, 31))
    before = policy.table()
    try:
        policy.install_file(str(path))  # what create_app does with ACCESS_POLICY_FILE
        authorize(viewer, "read", Resource.template("user_analytics"))
        # The file's row replaces the seed's whole: no date_range there means no cap.
        assert cap_window(viewer, year) == year
        policy.install_file("")
        with pytest.raises(AccessDenied):
            authorize(viewer, "read", Resource.template("user_analytics"))
        assert cap_window(viewer, year).days == 30
    finally:
        policy.install(before)
