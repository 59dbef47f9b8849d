"""Signed, expiring, revocable embed tokens, and the frame-ancestors directive for embed pages.

Format: `base64url(payload) "." base64url(HMAC-SHA256(EMBED_SECRET, "nxp-embed.v1." + part1))`,
no padding. The payload is compact JSON: `v` (format version 1), `d` (dashboard key), `f` (the
locked filter values), `s` (the issuer's scope: their role and row scope, `policy.embed_scope`),
`iat` and `exp` (Unix seconds) and `jti` (a random id). The token is signed, not encrypted: anyone
holding the link can read its dashboard key, filters and the issuer's department, so put nothing
secret in the filters.

`verify_embed_token` checks, in this order, and raises EmbedTokenError with a safe message and a
`reason` for the first failure: shape and base64 ("malformed"), signature in constant time before
any JSON is parsed ("tampered" — a wrong secret looks the same), payload fields ("malformed"),
`iat` in the future beyond CLOCK_SKEW ("tampered"), `exp` ("expired"), `is_revoked(jti)`
("revoked"; an exception from it refuses the token too).

Issued links are recorded in `embed_tokens` (`issue_embed`); `store_is_revoked(store)` treats a
jti without a row as revoked, so a token signed with a leaked secret but never issued here is
refused as well. Every Dash callback of an embed page re-verifies its token, and the principal it
acts as comes only from the verified claims (`EmbedClaims.principal()`): read-only on the one
dashboard, the issuer's rows and date cap, PII always masked. Every embed request also looks the
issuer up again (`embed_issuer`; pages/embed.py): a link stops working ("withdrawn") when its
issuer is deactivated, may no longer export the dashboard, or no longer has the scope it carries.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from sqlalchemy import delete, select

from security.policy import ROLES, EmbedPrincipal, embed_scope
from security.users import Principal, active_principal
from store import Store
from store.models import EmbedToken

log = logging.getLogger(__name__)

VERSION = 1
CONTEXT = b"nxp-embed.v1."
MAX_TOKEN_CHARS = 4096
MAX_TTL_SECONDS = 30 * 24 * 3600
CLOCK_SKEW_SECONDS = 60
_B64URL = re.compile(r"^[A-Za-z0-9_\-]+$")

Reason = Literal["malformed", "tampered", "expired", "revoked", "withdrawn"]
MESSAGES: dict[str, str] = {
    "malformed": "This embed link is not valid. Ask for a new link.",
    "tampered": "This embed link has been changed or was not issued by this service.",
    "expired": "This embed link has expired. Ask for a new link.",
    "revoked": "This embed link has been revoked.",
    "withdrawn": "This embed link no longer works: the person who shared it no longer has "
    "access to this dashboard. Ask for a new link.",
}


class EmbedTokenError(Exception):
    """A token that must not show data; `user_message` is safe for the error page (a 403)."""

    status = 403

    def __init__(self, reason: Reason) -> None:
        super().__init__(MESSAGES[reason])
        self.reason = reason
        self.user_message = MESSAGES[reason]


@dataclass(frozen=True)
class EmbedClaims:
    """What a verified token grants."""

    dashboard: str
    filters: dict[str, Any]
    scope: dict[str, Any]
    issued_at: datetime
    expires_at: datetime
    jti: str

    def principal(self) -> EmbedPrincipal:
        """Who the embed's requests act as: read-only on `dashboard`, the issuer's row scope."""
        return EmbedPrincipal(
            id=0,
            username=f"embed:{self.jti[:8]}",
            role="embed",
            department=self.scope.get("department"),
            dashboard=self.dashboard,
            issuer_role=self.scope.get("role", "viewer"),
            unrestricted=bool(self.scope.get("unrestricted")),
        )


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not _B64URL.match(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, part: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), CONTEXT + part.encode("ascii"), hashlib.sha256).digest()


def issue_embed_token(
    secret: str,
    dashboard: str,
    filters: Mapping[str, Any],
    scope: Mapping[str, Any],
    ttl_seconds: int,
    now: datetime,
    *,
    jti: str | None = None,
) -> str:
    """A signed token for `dashboard` with locked `filters` and the issuer's `scope`, valid for
    `ttl_seconds` (1 s to 30 days) from `now`."""
    if not secret:
        raise ValueError("EMBED_SECRET is empty: refusing to sign an embed token")
    if not 0 < ttl_seconds <= MAX_TTL_SECONDS:
        raise ValueError(f"ttl_seconds must be between 1 and {MAX_TTL_SECONDS}")
    issued = int(now.timestamp())
    payload = {
        "v": VERSION,
        "d": dashboard,
        "f": dict(filters),
        "s": dict(scope),
        "iat": issued,
        "exp": issued + int(ttl_seconds),
        "jti": jti or secrets.token_urlsafe(16),
    }
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str)
    part = _b64encode(body.encode("utf-8"))
    token = f"{part}.{_b64encode(_sign(secret, part))}"
    if len(token) > MAX_TOKEN_CHARS:
        raise ValueError("embed token too long: lock fewer filter values")
    return token


def verify_embed_token(
    secret: str, token: str, now: datetime, is_revoked: Callable[[str], bool]
) -> EmbedClaims:
    """The claims of a valid token; EmbedTokenError (malformed, tampered, expired, revoked)."""
    if not secret:
        raise EmbedTokenError("tampered")
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        raise EmbedTokenError("malformed")
    part, dot, signature = token.partition(".")
    if not dot or "." in signature:
        raise EmbedTokenError("malformed")
    try:
        given = _b64decode(signature)
        _b64decode(part)
    except (ValueError, binascii.Error):
        raise EmbedTokenError("malformed") from None
    if not hmac.compare_digest(given, _sign(secret, part)):
        raise EmbedTokenError("tampered")
    claims = _claims(part)
    moment = now.timestamp()
    if claims.issued_at.timestamp() > moment + CLOCK_SKEW_SECONDS:
        raise EmbedTokenError("tampered")
    if claims.expires_at.timestamp() <= moment:
        raise EmbedTokenError("expired")
    try:
        revoked = is_revoked(claims.jti)
    except Exception:  # noqa: BLE001 - cannot tell: refuse, never show data
        log.exception("embed revocation check failed")
        raise EmbedTokenError("revoked") from None
    if revoked:
        raise EmbedTokenError("revoked")
    return claims


def _claims(part: str) -> EmbedClaims:
    try:
        payload = json.loads(_b64decode(part))
        valid = (
            isinstance(payload, dict)
            and payload.get("v") == VERSION
            and isinstance(payload.get("d"), str)
            and payload["d"]
            and isinstance(payload.get("f"), dict)
            and isinstance(payload.get("s"), dict)
            and payload["s"].get("role") in ROLES
            and type(payload.get("iat")) is int
            and type(payload.get("exp")) is int
            and isinstance(payload.get("jti"), str)
            and payload["jti"]
        )
        if not valid:
            raise ValueError("bad payload")
        return EmbedClaims(
            dashboard=payload["d"],
            filters=payload["f"],
            scope=payload["s"],
            issued_at=datetime.fromtimestamp(payload["iat"], UTC),
            expires_at=datetime.fromtimestamp(payload["exp"], UTC),
            jti=payload["jti"],
        )
    except (ValueError, TypeError, OverflowError, OSError, binascii.Error):
        raise EmbedTokenError("malformed") from None


# --- The metadata-store side: issue with a ledger row, check revocation, revoke, list, purge. ---


def issue_embed(
    store: Store,
    secret: str,
    issuer: Principal,
    dashboard: str,
    filters: Mapping[str, Any],
    ttl_seconds: int,
    now: datetime,
) -> tuple[str, EmbedClaims]:
    """Issue and record a token for `issuer` (who must already be authorized for `export` on the
    dashboard); the token carries the issuer's row scope, so it never shows more than they see."""
    jti = secrets.token_urlsafe(16)
    token = issue_embed_token(
        secret, dashboard, filters, embed_scope(issuer), ttl_seconds, now, jti=jti
    )
    claims = verify_embed_token(secret, token, now, lambda _jti: False)
    with store.session() as session:
        session.add(
            EmbedToken(
                jti=jti,
                dashboard=dashboard,
                issued_by=issuer.id or None,
                issued_at=claims.issued_at,
                expires_at=claims.expires_at,
            )
        )
    return token, claims


def store_is_revoked(store: Store) -> Callable[[str], bool]:
    """`is_revoked` for verify_embed_token: revoked, or never issued by this service."""

    def is_revoked(jti: str) -> bool:
        with store.session() as session:
            row = session.get(EmbedToken, jti)
            return row is None or row.revoked_at is not None

    return is_revoked


def embed_issuer(store: Store, jti: str) -> Principal | None:
    """The issuer of link `jti` as they are now; None when the link, or its issuer, is gone or the
    issuer is deactivated."""
    with store.session() as session:
        row = session.get(EmbedToken, jti)
        issuer_id = row.issued_by if row is not None else None
    return active_principal(store, issuer_id) if issuer_id is not None else None


def revoke_embed(
    store: Store, jti: str, by_user: Principal, *, now: datetime | None = None
) -> bool:
    """Revoke link `jti` (its issuer or an admin may). True when revoked now, False when it already
    was; LookupError when it does not exist or is someone else's."""
    with store.session() as session:
        row = session.get(EmbedToken, jti)
        if row is None or (by_user.role != "admin" and row.issued_by != by_user.id):
            raise LookupError("No such embed link.")
        if row.revoked_at is not None:
            return False
        row.revoked_at = now or datetime.now(UTC)
        row.revoked_by = by_user.id or None
        return True


@dataclass(frozen=True)
class EmbedInfo:
    jti: str
    dashboard: str
    issued_by: int | None
    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


def list_embeds(
    store: Store, *, issued_by: int | None = None, dashboard: str | None = None
) -> list[EmbedInfo]:
    """Issued links, newest first, optionally of one issuer or one dashboard."""
    query = select(EmbedToken).order_by(EmbedToken.issued_at.desc())
    if issued_by is not None:
        query = query.where(EmbedToken.issued_by == issued_by)
    if dashboard is not None:
        query = query.where(EmbedToken.dashboard == dashboard)
    with store.session() as session:
        return [
            EmbedInfo(
                r.jti,
                r.dashboard,
                r.issued_by,
                _utc(r.issued_at),
                _utc(r.expires_at),
                _utc(r.revoked_at) if r.revoked_at else None,
            )
            for r in session.scalars(query)
        ]


def purge_embeds(store: Store, now: datetime, keep: timedelta = timedelta(days=7)) -> int:
    """Delete ledger rows of links that expired more than `keep` ago; the count. (Their tokens
    fail as expired before they could fail as unknown.)"""
    before = _utc(now) - keep
    with store.session() as session:
        return (
            session.execute(delete(EmbedToken).where(EmbedToken.expires_at < before)).rowcount or 0
        )


_ORIGIN = re.compile(r"^https?://(\*\.)?[A-Za-z0-9.\-]+(:\d{1,5})?$")


def frame_ancestors(settings: Any) -> str:
    """The CSP `frame-ancestors` directive for embed pages: 'self' plus EMBED_ALLOWED_ORIGINS.

    Each origin must be scheme://host[:port] (a leading "*." host wildcard is allowed, as CSP
    does); anything else — a path, a bare "*", quotes, ";" — is skipped with a warning, so the
    header can never be widened or broken by a bad value.
    """
    sources = ["'self'"]
    for origin in getattr(settings, "embed_allowed_origins", ()) or ():
        value = origin.strip().rstrip("/")
        if _ORIGIN.match(value) and not urlsplit(value).path:
            if value not in sources:
                sources.append(value)
        else:
            log.warning(
                "EMBED_ALLOWED_ORIGINS: skipping %r (expected scheme://host[:port])", origin
            )
    return "frame-ancestors " + " ".join(sources)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
