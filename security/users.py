"""Users of the service: lookup, creation, the demo accounts, and the flask-login user object.

A session stores `Principal.get_id()`, "<user id>:<session version>" (Flask-Login's "alternative
token"). `end_sessions` raises `users.session_version` (sign-out, a password, role or department
change, deactivation), after which `session_principal` refuses every cookie made before it: a
signed cookie copied elsewhere dies with the rest of the user's sessions.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_login import UserMixin
from sqlalchemy import select, update

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
    session_version: int = 0

    def get_id(self) -> str:
        """What a session stores: the id and the session version it was made with."""
        return f"{self.id}:{self.session_version}"


class LoginError(Exception):
    """Wrong username or password; the message is safe to show."""


def _principal(user: User) -> Principal:
    return Principal(
        user.id,
        user.username,
        user.role,
        user.department,
        user.full_name,
        user.session_version or 0,
    )


def load_principal(store: Store, user_id: str) -> Principal | None:
    """The active user with id `user_id` (a string of digits), as they are now; None otherwise."""
    if not user_id.isdigit() or len(user_id) > 18:
        return None
    return active_principal(store, int(user_id))


def session_principal(store: Store, session_id: str) -> Principal | None:
    """The active user a session's "<id>:<version>" names, or None when the version is stale
    (the user signed out, changed password or was changed by an admin) or the id malformed;
    a bare id, as sessions stored before versions, is refused too."""
    user_id, colon, version = session_id.partition(":")
    if not (colon and user_id.isdigit() and version.isdigit()) or len(session_id) > 40:
        return None
    with store.session() as session:
        user = session.get(User, int(user_id))
        if user is None or not user.is_active or (user.session_version or 0) != int(version):
            return None
        return _principal(user)


def active_principal(store: Store, user_id: int) -> Principal | None:
    """The user `user_id` as they are now, or None when they are missing or deactivated."""
    with store.session() as session:
        user = session.get(User, user_id)
        return _principal(user) if user is not None and user.is_active else None


def end_sessions(store: Store, user_id: int) -> None:
    """Invalidate every existing session of `user_id` (their cookies stop working at once)."""
    with store.session() as session:
        session.execute(
            update(User).where(User.id == user_id).values(session_version=User.session_version + 1)
        )


def set_password(store: Store, user_id: int, password: str) -> None:
    """Give `user_id` a new password and end their existing sessions."""
    with store.session() as session:
        user = session.get(User, user_id)
        if user is None:
            raise LookupError(f"no user with id {user_id}")
        user.password_hash = hash_password(password)
        user.session_version = (user.session_version or 0) + 1


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
