"""Saved dashboards and templates on SQLite and PostgreSQL: optimistic saves, history, policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from engine.dashboards import (
    MAX_VERSIONS,
    DashboardNotFound,
    Dashboards,
    ReadOnlyTemplate,
    StaleVersion,
)
from engine.spec import DashboardSpec, GridPosition, WidgetSpec
from security.policy import AccessDenied, using
from security.users import create_user
from store.models import AuditLog, DashboardVersion
from tests.policies import builders_table


@pytest.fixture(autouse=True)
def _builders_policy():
    """These tests are about saving and history: they run under an operator's policy file that
    opens the builder to analysts and managers (the seed's table keeps it for admins)."""
    with using(builders_table()):
        yield


@pytest.fixture
def users(store):
    return {
        name: create_user(store, name, "pw", role, department=dept)
        for name, role, dept in [
            ("ana", "analyst", None),
            ("bob", "analyst", None),
            ("max", "manager", "Sales"),
            ("mia", "manager", "Support"),
            ("vic", "viewer", None),
            ("ada", "admin", None),
        ]
    }


@pytest.fixture
def dashboards(store):
    return Dashboards(store)


def spec(title: str = "Team revenue", *widget_titles: str) -> DashboardSpec:
    titles = widget_titles or ("MRR",)
    return DashboardSpec(
        key="draft",
        title=title,
        widgets=[
            WidgetSpec(
                id=f"w{i}",
                type="metric_card",
                title=t,
                metric="mrr",
                position=GridPosition(x=3 * i, y=0, w=3, h=2),
            )
            for i, t in enumerate(titles)
        ],
    )


def test_create_gives_version_one_and_a_slug_from_the_title(dashboards, users):
    saved = dashboards.create(spec("Team revenue"), users["ana"])
    assert (saved.slug, saved.version, saved.owner_id) == ("team-revenue", 1, users["ana"].id)
    assert saved.spec.key == "team-revenue"
    again = dashboards.create(spec("Team revenue"), users["ana"])
    assert again.slug == "team-revenue-2"
    assert [v.version for v in dashboards.history(saved.slug, users["ana"])] == [1]


def test_dashboards_and_templates_never_share_a_key(dashboards, users):
    first = dashboards.create(spec("Weekly"), users["ana"])
    tpl = dashboards.create_template(first.slug, users["ana"], name="Weekly 2")
    second = dashboards.create(spec("Weekly"), users["ana"])
    assert (first.slug, tpl.key, second.slug) == ("weekly", "weekly-2", "weekly-3")
    assert (first.title, second.title) == ("Weekly", "Weekly (2)")


def test_save_on_the_current_version_writes_the_next_one(dashboards, users):
    saved = dashboards.create(spec(), users["ana"])
    moved = saved.spec.model_copy(deep=True)
    moved.widgets[0].position = GridPosition(x=6, y=4, w=5, h=3)
    after = dashboards.save(saved.slug, moved, 1, users["ana"])
    assert after.version == 2
    reread = dashboards.get(saved.id)
    assert reread.spec.widgets[0].position == GridPosition(x=6, y=4, w=5, h=3)


def test_save_based_on_an_older_version_is_refused_and_writes_nothing(dashboards, users, store):
    saved = dashboards.create(spec("Shared", "A"), users["ana"])
    dashboards.save(saved.slug, spec("Shared", "A", "first tab wins"), 1, users["ana"])
    with pytest.raises(StaleVersion) as caught:
        dashboards.save(saved.slug, spec("Shared", "second tab"), 1, users["ana"])
    assert (caught.value.base_version, caught.value.stored_version) == (1, 2)
    assert "version 1" in caught.value.user_message and "version 2" in caught.value.user_message
    current = dashboards.get(saved.slug)
    assert current.version == 2
    assert [w.title for w in current.spec.widgets] == ["A", "first tab wins"]
    with store.session() as session:
        count = session.scalar(select(func.count()).select_from(DashboardVersion))
    assert count == 2


def test_only_the_last_fifteen_versions_are_kept(dashboards, users):
    saved = dashboards.create(spec("Busy", "v1"), users["ana"])
    for version in range(1, 20):
        dashboards.save(saved.slug, spec("Busy", f"v{version + 1}"), version, users["ana"])
    history = dashboards.history(saved.slug, users["ana"])
    assert [v.version for v in history] == list(range(20, 20 - MAX_VERSIONS, -1))
    assert history[0].author == "ana"
    with pytest.raises(DashboardNotFound, match="not kept"):
        dashboards.version_spec(saved.slug, 5)
    assert dashboards.version_spec(saved.slug, 6).widgets[0].title == "v6"


def test_restore_saves_an_old_spec_as_a_new_version(dashboards, users):
    saved = dashboards.create(spec("Restore me", "original"), users["ana"])
    dashboards.save(saved.slug, spec("Restore me", "changed"), 1, users["ana"])
    restored = dashboards.restore(saved.slug, 1, 2, users["ana"])
    assert restored.version == 3
    assert [w.title for w in restored.spec.widgets] == ["original"]
    with pytest.raises(StaleVersion):
        dashboards.restore(saved.slug, 1, 2, users["ana"])


def test_save_as_and_clone_make_new_dashboards_owned_by_the_caller(dashboards, users):
    saved = dashboards.create(spec("Original", "A"), users["ana"])
    copy = dashboards.clone(saved.slug, users["bob"])
    assert (copy.title, copy.owner_id, copy.version) == ("Copy of Original", users["bob"].id, 1)
    draft = spec("Original", "A", "B")
    other = dashboards.save_as(draft, "My variant", users["bob"])
    assert other.slug == "my-variant" and len(other.spec.widgets) == 2
    assert dashboards.get(saved.slug).version == 1


def test_clone_of_a_builtin_template_keeps_its_widgets(dashboards, users):
    copy = dashboards.clone("revenue_overview", users["ana"], title="My revenue")
    assert copy.slug == "my-revenue" and copy.template_key == "revenue_overview"
    assert [w.id for w in copy.spec.widgets][:2] == ["mrr", "arr"]


def test_delete_removes_the_dashboard_its_versions_and_views(dashboards, users):
    saved = dashboards.create(spec(), users["ana"])
    dashboards.record_view(users["ana"], saved.slug)
    dashboards.delete(saved.slug, users["ana"])
    with pytest.raises(DashboardNotFound):
        dashboards.get(saved.slug)
    assert dashboards.recent(users["ana"]) == []


def test_analysts_change_only_their_own_dashboards(dashboards, users, store):
    saved = dashboards.create(spec(), users["ana"])
    with pytest.raises(AccessDenied, match="only change items you own"):
        dashboards.save(saved.slug, spec("Hijacked"), 1, users["bob"])
    with pytest.raises(AccessDenied):
        dashboards.delete(saved.slug, users["bob"])
    assert dashboards.get(saved.slug).title == "Team revenue"
    dashboards.save(saved.slug, spec("Fixed by admin"), 1, users["ada"])
    with store.session() as session:
        denied = session.scalars(
            select(AuditLog.action).where(AuditLog.outcome == "denied", AuditLog.username == "bob")
        ).all()
    assert sorted(denied) == ["delete", "update"]


def test_viewers_cannot_create_and_managers_stay_in_their_department(dashboards, users):
    with pytest.raises(AccessDenied):
        dashboards.create(spec(), users["vic"])
    sales = dashboards.create(spec("Sales board"), users["max"])
    with pytest.raises(AccessDenied, match="another department"):
        dashboards.save(sales.slug, spec("Support took it"), 1, users["mia"])
    assert [d.slug for d in dashboards.readable(users["mia"])] == []
    assert [d.slug for d in dashboards.readable(users["max"])] == ["sales-board"]
    assert dashboards.readable(users["vic"]) == []


def test_templates_from_a_dashboard_edit_clone_and_delete(dashboards, users):
    saved = dashboards.create(spec("Weekly", "A", "B"), users["ana"])
    tpl = dashboards.create_template(saved.slug, users["ana"], name="Weekly template")
    assert (tpl.key, tpl.builtin, len(tpl.spec.widgets)) == ("weekly-template", False, 2)
    edited = dashboards.update_template(tpl.key, users["ana"], description="For Mondays")
    assert edited.description == "For Mondays" and edited.spec.description == "For Mondays"
    with pytest.raises(AccessDenied):
        dashboards.update_template(tpl.key, users["bob"], name="Mine now")
    copy = dashboards.clone_template(tpl.key, users["bob"])
    assert copy.name == "Copy of Weekly template" and copy.owner_id == users["bob"].id
    dashboards.delete_template(tpl.key, users["ana"])
    keys = [t.key for t in dashboards.templates(users["ana"])]
    assert tpl.key not in keys and copy.key in keys and "revenue_overview" in keys


def test_builtin_templates_are_cloned_never_edited_or_deleted(dashboards, users):
    with pytest.raises(ReadOnlyTemplate, match="clone it"):
        dashboards.update_template("revenue_overview", users["ada"], name="Mine")
    with pytest.raises(ReadOnlyTemplate):
        dashboards.delete_template("revenue_overview", users["ada"])
    copy = dashboards.clone_template("revenue_overview", users["ana"])
    assert not copy.builtin and copy.key == "copy-of-revenue-overview"
    assert dashboards.template("revenue_overview").builtin


def test_home_lists_what_the_user_may_open_recently_viewed_first(dashboards, users):
    a = dashboards.create(spec("Alpha"), users["ana"])
    b = dashboards.create(spec("Beta"), users["ana"])
    start = datetime(2026, 11, 1, tzinfo=UTC)
    dashboards.record_view(users["ana"], "revenue_overview", at=start)
    dashboards.record_view(users["ana"], b.slug, at=start + timedelta(hours=1))
    dashboards.record_view(users["ana"], "revenue_overview", at=start + timedelta(hours=2))
    keys = [o.key for o in dashboards.openable(users["ana"])]
    assert keys[:3] == ["revenue_overview", b.slug, a.slug]
    assert dashboards.recent(users["ana"])[0] == ("revenue_overview", start + timedelta(hours=2))
    viewer_keys = {o.key for o in dashboards.openable(users["vic"])}
    # The seed's viewer row: the KPI dashboard, nothing else.
    assert viewer_keys == {"kpi_dashboard"}
