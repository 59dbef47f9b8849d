"""API bearer tokens: issued once in plain text, stored as a SHA-256 hash, verified, revoked, listed.

A token is `nxp_` + 43 URL-safe characters (32 random bytes): the prefix makes a leaked token
easy to recognise (secret scanners, our own log scrubbing). Only its SHA-256 hex digest and its
first 12 characters (to tell tokens apart in the UI) are stored. A keyed or slow hash would buy
nothing for 256 random bits, and a plain hash keeps tokens valid when SECRET_KEY rotates.

`verify` looks the token up by its hash (the database never compares the secret itself), then
compares the digests with `hmac.compare_digest`. A revoked token, or one whose user is inactive,
answers None. `last_used_at` is written at most once a minute per token.

`register(server, store)` adds `flask --app app create-api-token USERNAME [--name NAME]`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import click
import flask
from sqlalchemy import select

from security import audit
from security.users import Principal
from store import Store
from store.models import ApiToken, User

TOKEN_PREFIX = "nxp_"
PREFIX_CHARS = 12
_TOKEN_SHAPE = re.compile(r"^nxp_[A-Za-z0-9_\-]{43}$")
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenNotFound(LookupError):
    """No such token for this user (also what someone else's token looks like)."""

    user_message = "No such API token."


@dataclass(frozen=True)
class TokenInfo:
    """What the UI shows of a token: never the secret or its hash."""

    id: int
    user_id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def new_plaintext() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def issue(store: Store, user_id: int, name: str) -> tuple[str, ApiToken]:
    """A new token for `user_id`: (the plain text, shown once; the stored row)."""
    name = (name or "").strip()[:120] or "API token"
    plaintext = new_plaintext()
    with store.session() as session:
        if session.get(User, user_id) is None:
            raise TokenNotFound(f"no user with id {user_id}")
        row = ApiToken(
            user_id=user_id,
            name=name,
            token_hash=hash_token(plaintext),
            prefix=plaintext[:PREFIX_CHARS],
        )
        session.add(row)
        session.flush()
    return plaintext, row


def verify(store: Store, plaintext: str | None, *, now: datetime | None = None) -> Principal | None:
    """The principal a bearer token stands for, or None (malformed, unknown, revoked, inactive)."""
    if not plaintext or not _TOKEN_SHAPE.match(plaintext):
        return None
    digest = hash_token(plaintext)
    now = now or datetime.now(UTC)
    with store.session() as session:
        found = session.execute(
            select(ApiToken, User)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == digest)
        ).first()
        if found is None:
            return None
        token, user = found
        if not hmac.compare_digest(token.token_hash, digest):
            return None
        if token.revoked_at is not None or not user.is_active:
            return None
        last = token.last_used_at
        if last is None or _utc(last) <= now - LAST_USED_RESOLUTION:
            token.last_used_at = now
        return Principal(user.id, user.username, user.role, user.department, user.full_name)


def revoke(store: Store, token_id: int, by_user: Principal, *, now: datetime | None = None) -> bool:
    """Revoke token `token_id`; its owner or an admin may. True when revoked now, False when it
    already was. TokenNotFound when it does not exist or belongs to someone else."""
    with store.session() as session:
        token = session.get(ApiToken, token_id)
        if token is None or (by_user.role != "admin" and token.user_id != by_user.id):
            raise TokenNotFound(f"no token {token_id} for {by_user.username}")
        if token.revoked_at is not None:
            return False
        token.revoked_at = now or datetime.now(UTC)
        return True


def list_tokens(store: Store, user_id: int) -> list[TokenInfo]:
    """The tokens of `user_id`, newest first, revoked ones included."""
    with store.session() as session:
        rows = session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user_id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        ).all()
        return [
            TokenInfo(
                r.id,
                r.user_id,
                r.name,
                r.prefix,
                _utc(r.created_at),
                _utc(r.last_used_at) if r.last_used_at else None,
                _utc(r.revoked_at) if r.revoked_at else None,
            )
            for r in rows
        ]


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value, or None."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    return (value.strip() or None) if scheme.lower() == "bearer" else None


def register(server: flask.Flask, store: Store, *, audit_enabled: bool = True) -> None:
    """Add `create-api-token USERNAME [--name NAME]` to `server.cli`."""

    @server.cli.command("create-api-token")
    @click.argument("username")
    @click.option("--name", default="cli", show_default=True, help="A label to recognise it by")
    def create_api_token(username: str, name: str) -> None:
        """Create an API token for USERNAME and print it once (it cannot be shown again)."""
        with store.session() as session:
            user = session.scalar(select(User).where(User.username == username.strip()))
            found = None if user is None else (user.id, user.username, user.is_active)
        if found is None:
            click.echo(f"Error: no user named {username!r}.", err=True)
            raise SystemExit(2)
        user_id, real_name, active = found
        if not active:
            click.echo(f"Error: user {real_name!r} is inactive.", err=True)
            raise SystemExit(2)
        plaintext, row = issue(store, user_id, name)
        audit.record(
            store,
            principal=None,
            username="cli",
            action="token.issue",
            target=f"api_token:{row.id}",
            detail={"for_user": real_name, "name": row.name, "via": "cli"},
            enabled=audit_enabled,
        )
        click.echo(plaintext)
        click.echo(
            f"API token {row.prefix}… ({row.name!r}) for {real_name}: store it now, "
            "it will not be shown again.",
            err=True,
        )


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
