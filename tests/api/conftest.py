"""API fixtures: bearer tokens for the demo users of the shared test app."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from engine.services import EXTENSION_KEY
from security import tokens
from store.models import User


@pytest.fixture
def bearer(app) -> Callable[[str], dict[str, str]]:
    """`bearer("analyst")` -> an Authorization header with a fresh API token of that demo user."""
    store = app.server.extensions[EXTENSION_KEY].store

    def header(username: str) -> dict[str, str]:
        with store.session() as session:
            user_id = session.scalar(select(User.id).where(User.username == username))
        plaintext, _ = tokens.issue(store, user_id, f"test {username}")
        return {"Authorization": f"Bearer {plaintext}"}

    return header


def release_warehouse(app) -> None:
    """Close the app's warehouse connections (reopened lazily), so that a later test in this
    process can open the same DuckDB file with its own settings (tests/e2e compare with SQL)."""
    app.server.extensions[EXTENSION_KEY].sources.get("warehouse").close()


@pytest.fixture(autouse=True, scope="module")
def _release_warehouse_after_module(app):
    yield
    release_warehouse(app)
