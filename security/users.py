"""Users of the service: lookup, creation, the demo accounts, and the flask-login user object."""

from __future__ import annotations

from dataclasses import dataclass

from flask_login import UserMixin
from sqlalchemy import select

from security.passwords import hash_password, verify_password
from store import Store
from store.models import ROLES, User, utcnow

DEMO_PASSWORD = "nexpo-demo"
DEMO_USERS = (
    ("admin", "admin", None, "Ada Admin", "ada.admin@nexpo.example"),
    ("manager", "manager", "Sales", "Max Manager", "max.manager@nexpo.example"),
    ("analyst", "analyst", None, "Ana Analyst", "ana.analyst@nexpo.example"),
    ("viewer", "viewer", None, "Vic Viewer", "vic.viewer@nexpo.example"),
)


@dataclass(frozen=True)
class Principal(UserMixin):
    """Who is asking: what flask-login keeps in the session and what the engine checks access against."""

    id: int
    username: str
    role: str
    department: str | None = None
    full_name: str | None = None

    def get_id(self) -> str:
        return str(self.id)


class LoginError(Exception):
    """Wrong username or password; the message is safe to show."""


def _principal(user: User) -> Principal:
    return Principal(user.id, user.username, user.role, user.department, user.full_name)


def load_principal(store: Store, user_id: str) -> Principal | None:
    if not user_id.isdigit():
        return None
    with store.session() as session:
        user = session.get(User, int(user_id))
        return _principal(user) if user is not None and user.is_active else None


def authenticate(store: Store, username: str, password: str) -> Principal:
    """The principal for these credentials; LoginError otherwise (same message for both failures)."""
    with store.session() as session:
        user = session.scalar(select(User).where(User.username == username.strip()))
        if user is None or not user.is_active or not verify_password(user.password_hash, password):
            raise LoginError("Wrong username or password.")
        user.last_login_at = utcnow()
        return _principal(user)


def create_user(
    store: Store,
    username: str,
    password: str,
    role: str,
    *,
    department: str | None = None,
    full_name: str | None = None,
    email: str | None = None,
) -> Principal:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; accepted: {', '.join(ROLES)}")
    with store.session() as session:
        user = User(
            username=username,
            password_hash=hash_password(password),
            role=role,
            department=department,
            full_name=full_name,
            email=email,
        )
        session.add(user)
        session.flush()
        return _principal(user)


def ensure_demo_users(store: Store) -> None:
    """Create the four demo accounts (password DEMO_PASSWORD) when they are missing."""
    with store.session() as session:
        existing = set(session.scalars(select(User.username)))
    for username, role, department, full_name, email in DEMO_USERS:
        if username not in existing:
            create_user(
                store,
                username,
                DEMO_PASSWORD,
                role,
                department=department,
                full_name=full_name,
                email=email,
            )
