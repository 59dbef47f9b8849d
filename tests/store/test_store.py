"""The metadata store migrates and round-trips on SQLite and on the real PostgreSQL."""

import pytest
from sqlalchemy import inspect, select

from store.models import (
    ApiToken,
    AuditLog,
    Dashboard,
    DashboardVersion,
    Export,
    Report,
    Schedule,
    Template,
    User,
)


def test_migrations_create_every_table(store):
    tables = set(inspect(store.engine).get_table_names())
    assert {
        "users",
        "dashboards",
        "dashboard_versions",
        "templates",
        "reports",
        "schedules",
        "exports",
        "audit_log",
        "api_tokens",
        "alembic_version",
    } <= tables


def test_migrate_twice_is_a_no_op_and_reaches_head(store):
    from alembic.script import ScriptDirectory

    from store.db import alembic_config

    store.migrate()
    head = ScriptDirectory.from_config(alembic_config(store.url)).get_current_head()
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == head


def test_rows_round_trip_with_json_specs(store):
    spec = {"title": "Revenue", "widgets": [{"id": "mrr", "params": {"interval": "day"}}]}
    with store.session() as s:
        user = User(username="ana", password_hash="x", role="analyst", department="Sales")
        s.add(user)
        s.flush()
        dash = Dashboard(slug="rev", title="Revenue", spec=spec, owner_id=user.id)
        dash.versions.append(DashboardVersion(version=1, spec=spec, author_id=user.id))
        s.add_all(
            [
                dash,
                Template(
                    key="revenue_analytics", name="Revenue analytics", spec=spec, builtin=True
                ),
                Report(name="Weekly", spec=spec, owner_id=user.id),
                Schedule(
                    name="Weekly",
                    report_ref="revenue_analytics",
                    cron="0 9 * * 1",
                    timezone="Europe/Berlin",
                ),
                Export(id="exp1", report_ref="revenue_analytics", format="csv", owner_id=user.id),
                AuditLog(
                    user_id=user.id,
                    username="ana",
                    action="login",
                    ip="127.0.0.1",
                    detail={"ok": True},
                ),
                ApiToken(user_id=user.id, name="cli", token_hash="h" * 64, prefix="nxp_abcd"),
            ]
        )
    with store.session() as s:
        loaded = s.scalar(select(Dashboard).where(Dashboard.slug == "rev"))
        assert loaded.spec == spec
        assert [v.version for v in loaded.versions] == [1]
        assert s.scalar(select(Schedule.timezone)) == "Europe/Berlin"
        assert s.scalar(select(AuditLog.detail)) == {"ok": True}


def test_usernames_are_unique(store):
    from sqlalchemy.exc import IntegrityError

    with store.session() as s:
        s.add(User(username="dup", password_hash="x", role="viewer"))
    with pytest.raises(IntegrityError), store.session() as s:
        s.add(User(username="dup", password_hash="y", role="viewer"))


def test_saved_reports_model_matches_its_migration(store):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from store.models import Base

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diff if "saved_reports" in repr(d)] == []
    assert "saved_reports" in set(inspect(store.engine).get_table_names())
