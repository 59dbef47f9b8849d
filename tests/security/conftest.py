"""The metadata store on SQLite and on the real PostgreSQL, with the four demo-like users."""

from __future__ import annotations

import pytest

from security.users import Principal
from store import Store
from store.models import User


@pytest.fixture
def users(store: Store) -> dict[str, Principal]:
    """admin, manager (Sales), analyst and viewer in `store` (no usable password: the password
    hash is slow on purpose and these tests never sign in)."""
    rows = [("ada", "admin", None), ("max", "manager", "Sales"), ("ana", "analyst", None), ("vic", "viewer", None)]  # fmt: skip
    with store.session() as session:
        users = [User(username=u, role=r, department=d, password_hash="!") for u, r, d in rows]
        session.add_all(users)
        session.flush()
        return {u.role: Principal(u.id, u.username, u.role, u.department) for u in users}
