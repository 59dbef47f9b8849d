"""The audit log: who did what, when, from where — recorded safely, queried by admins, purged by age.

`record` is called by the login routes, the engine (views, denied attempts), exports, downloads,
schedules, API tokens and embeds. It writes in its own transaction (a denied request that rolls
back is still audited), never raises into the caller (a failure is logged, without the detail),
and never stores secrets or PII: keys such as password, token, secret or authorization are
replaced by "[redacted]", e-mail addresses are masked, API tokens and signed blobs found inside
strings are redacted, long strings are cut. The target goes through the same string scrubbing.

Actions are short dotted verbs: login, logout, view, export, download, create, update, delete,
schedule, embed.issue, embed.use, embed.revoke, token.issue, token.use, token.revoke,
user.create, user.update, audit.purge. Outcomes: ok, denied, failed.

Retention (the seed): report cache 24 hours, export files 7 days, audit logs 2 years. `RETENTION`
holds them; `purge` deletes audit rows older than theirs, and `cutoff(kind, now)` gives the
exports and cache purges their moment.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import delete, func, select

from security.masking import mask_email
from security.users import Principal
from store import Store
from store.models import AuditLog

log = logging.getLogger(__name__)

Outcome = Literal["ok", "denied", "failed"]
OUTCOMES = ("ok", "denied", "failed")

RETENTION: dict[str, timedelta] = {
    "report_cache": timedelta(hours=24),
    "export_files": timedelta(days=7),
    # Two years counted with a leap day, so no row younger than two calendar years is deleted.
    "audit_log": timedelta(days=731),
}

REDACTED = "[redacted]"
SECRET_KEY_PARTS = (
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "authorization",
    "api_key",
    "apikey",
    "cookie",
    "session",
    "csrf",
    "credential",
    "private_key",
    "signature",
)
_EMAIL = re.compile(r"[^\s@<>()\[\],;:\"']+@[^\s@<>()\[\],;:\"']+\.[^\s@<>()\[\],;:\"']+")
_API_TOKEN = re.compile(r"nxp_[A-Za-z0-9_\-]{8,}")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]+")
_SIGNED_BLOB = re.compile(r"[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}(\.[A-Za-z0-9_\-]+)?")
_KEY_VALUE = re.compile(r"(?i)\b([a-z_]*(?:" + "|".join(SECRET_KEY_PARTS) + r")[a-z_]*)=([^&\s]+)")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")
MAX_STRING = 500
MAX_DEPTH = 5
MAX_ITEMS = 50
MAX_PER_PAGE = 500


def _secret_key(key: str) -> bool:
    lowered = key.lower().replace("-", "_")
    return any(part in lowered for part in SECRET_KEY_PARTS)


def scrub_text(text: str) -> str:
    """`text` without API tokens, bearer credentials, signed blobs, key=secret pairs and URL
    passwords, with e-mail addresses masked, cut to MAX_STRING characters."""
    text = _URL_PASSWORD.sub(r"\1" + REDACTED + "@", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _API_TOKEN.sub(REDACTED, text)
    text = _KEY_VALUE.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    text = _SIGNED_BLOB.sub(REDACTED, text)
    text = _EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    return text if len(text) <= MAX_STRING else text[: MAX_STRING - 1] + "…"


def scrub(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy of `value` with secrets redacted and PII masked (see the module docstring)."""
    if depth > MAX_DEPTH:
        return "…"
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for i, (key, item) in enumerate(value.items()):
            if i >= MAX_ITEMS:
                out["…"] = f"{len(value) - MAX_ITEMS} more"
                break
            name = str(key)[:80]
            out[name] = REDACTED if _secret_key(name) else scrub(item, depth + 1)
        return out
    if isinstance(value, list | tuple | set | frozenset):
        items = [scrub(item, depth + 1) for item in list(value)[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            items.append(f"… {len(value) - MAX_ITEMS} more")
        return items
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return scrub_text(str(value))


def record(
    store: Store,
    *,
    principal: Principal | None,
    action: str,
    target: str | None = None,
    outcome: Outcome = "ok",
    ip: str | None = None,
    detail: Mapping[str, Any] | None = None,
    username: str | None = None,
    enabled: bool = True,
    at: datetime | None = None,
) -> None:
    """Append one audit row; never raises (a failure is logged without the detail).

    Args:
        principal: who acted; None for anonymous (a failed login, an embed viewer, the system).
        action: what, e.g. "login", "export", "embed.issue".
        target: on what, e.g. "dashboard:revenue_overview" (scrubbed like detail strings).
        outcome: "ok", "denied" or "failed".
        ip: where from (the client address the route saw).
        detail: extra context; secrets are redacted and e-mails masked before it is stored.
        username: the name to record when there is no principal (the name a failed login tried).
        enabled: settings.enable_audit_log; False records nothing.
        at: when (default: now, UTC).
    """
    if not enabled:
        return
    try:
        row = AuditLog(
            at=_utc(at) if at is not None else datetime.now(UTC),
            user_id=principal.id if principal is not None and principal.id else None,
            username=(principal.username if principal is not None else username or None),
            action=str(action)[:40],
            target=scrub_text(str(target))[:200] if target is not None else None,
            outcome=outcome if outcome in OUTCOMES else "failed",
            ip=str(ip)[:64] if ip else None,
            detail=scrub(dict(detail or {})),
        )
        if row.username is not None:
            row.username = scrub_text(row.username)[:80]
        with store.session() as session:
            session.add(row)
    except Exception as exc:  # noqa: BLE001 - auditing must never break the audited request
        log.error("audit record of %r failed: %s", str(action)[:40], type(exc).__name__)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    user_id: int | None
    username: str | None
    action: str
    target: str | None
    outcome: str
    ip: str | None
    detail: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "at": self.at.isoformat()}


@dataclass(frozen=True)
class AuditPage:
    items: list[AuditEntry]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def query(
    store: Store,
    *,
    user_id: int | None = None,
    username: str | None = None,
    action: str | None = None,
    outcome: str | None = None,
    target: str | None = None,
    ip: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: int = 1,
    per_page: int = 50,
) -> AuditPage:
    """One page of audit rows, newest first, for the admin page.

    `action` matches exactly or as a prefix ending in "." ("embed." finds every embed action);
    `target` and `username` match as case-insensitive substrings; `since` is inclusive and
    `until` exclusive. `page` starts at 1; `per_page` is capped at MAX_PER_PAGE.
    """
    page = max(1, int(page))
    per_page = max(1, min(int(per_page), MAX_PER_PAGE))
    conditions = []
    if user_id is not None:
        conditions.append(AuditLog.user_id == user_id)
    if username:
        conditions.append(func.lower(AuditLog.username).contains(username.lower(), autoescape=True))
    if action:
        conditions.append(
            AuditLog.action.startswith(action, autoescape=True)
            if action.endswith(".")
            else AuditLog.action == action
        )
    if outcome:
        conditions.append(AuditLog.outcome == outcome)
    if target:
        conditions.append(func.lower(AuditLog.target).contains(target.lower(), autoescape=True))
    if ip:
        conditions.append(AuditLog.ip == ip)
    if since is not None:
        conditions.append(AuditLog.at >= _utc(since))
    if until is not None:
        conditions.append(AuditLog.at < _utc(until))
    with store.session() as session:
        total = session.scalar(select(func.count()).select_from(AuditLog).where(*conditions)) or 0
        rows = session.scalars(
            select(AuditLog)
            .where(*conditions)
            .order_by(AuditLog.at.desc(), AuditLog.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        ).all()
        items = [
            AuditEntry(
                r.id,
                _utc(r.at),
                r.user_id,
                r.username,
                r.action,
                r.target,
                r.outcome,
                r.ip,
                dict(r.detail or {}),
            )
            for r in rows
        ]
    return AuditPage(items, total, page, per_page)


def cutoff(kind: str, now: datetime) -> datetime:
    """The moment before which `kind` ("report_cache", "export_files", "audit_log") is purged."""
    return _utc(now) - RETENTION[kind]


def purge(store: Store, now: datetime, retention: timedelta | None = None) -> int:
    """Delete audit rows older than `retention` (default: RETENTION["audit_log"]); the count.

    The purge itself is audited (action "audit.purge"), so the log shows when history was cut.
    """
    before = _utc(now) - (retention if retention is not None else RETENTION["audit_log"])
    with store.session() as session:
        deleted = session.execute(delete(AuditLog).where(AuditLog.at < before)).rowcount or 0
    record(
        store,
        principal=None,
        username="system",
        action="audit.purge",
        target="audit_log",
        detail={"deleted": deleted, "before": before},
        at=now,
    )
    return deleted


def _utc(moment: datetime) -> datetime:
    """Aware UTC (SQLite hands back naive datetimes, which the store always writes in UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
