"""Names typed in the builder (save, save as) and on /templates, through their callbacks called
directly: trimmed, required, at most 120 characters, numbered when taken."""

from __future__ import annotations

import sys
import uuid

import dash
import pytest
from flask_login import login_user
from sqlalchemy import select

from engine.dashboards import Dashboards
from engine.templates import builtin_dashboards
from security.users import load_principal
from store.models import User


def _module(suffix: str):
    (name,) = [p["module"] for p in dash.page_registry.values() if p["module"].endswith(suffix)]
    return sys.modules[name]


@pytest.fixture
def as_admin(app):
    services = app.server.extensions["nexpo"]
    with services.store.session() as session:
        admin_id = session.scalar(select(User.id).where(User.username == "admin"))
    principal = load_principal(services.store, str(admin_id))
    with app.server.test_request_context("/dashboards/new"):
        login_user(principal)
        yield services, principal


def _draft() -> dict:
    return builtin_dashboards()["kpi_dashboard"].model_dump(mode="json")


def _alert_text(alert) -> str:
    return alert.children


def test_saving_a_new_dashboard_with_a_cleared_title_is_refused_inline(as_admin):
    from components.builder_save_callbacks import on_save

    meta = {"dashboard": None, "version": None}
    _meta, _badge, status, href = on_save(1, _draft(), None, "   ", meta)
    assert _alert_text(status) == "A dashboard title is required." and href is dash.no_update
    _meta, _badge, status, href = on_save(1, _draft(), None, "t" * 121, meta)
    assert "121 characters long; keep it to 120" in _alert_text(status)


def test_save_as_trims_the_title_and_numbers_a_taken_one(as_admin):
    from components.builder_save_callbacks import on_save_as

    services, _ = as_admin
    title = f"Board {uuid.uuid4().hex[:6]}"
    _status, first = on_save_as(1, f"  {title}  ", _draft(), None, "KPI")
    _status, second = on_save_as(1, title, _draft(), None, "KPI")
    store = Dashboards(services.store)
    slugs = [href.split("/")[2] for href in (first, second)]
    assert [store.get(s).title for s in slugs] == [title, f"{title} (2)"]
    status, href = on_save_as(1, "", _draft(), None, "KPI")
    assert _alert_text(status) == "A dashboard title is required." and href is dash.no_update


def test_templates_page_refuses_a_blank_name_and_numbers_a_taken_one(app, as_admin):
    page = _module(".templates")
    services, principal = as_admin
    source = Dashboards(services.store).create(
        builtin_dashboards()["kpi_dashboard"].model_copy(update={"title": "Source"}), principal
    )
    _cards, status = page.on_create(1, source.slug, "  \t ")
    assert status.children == "A template name is required."
    name = f"Weekly {uuid.uuid4().hex[:6]}"
    page.on_create(1, source.slug, name)
    _cards, status = page.on_create(1, source.slug, f" {name.upper()} ")
    assert status.children == f"Template “{name.upper()} (2)” created."
