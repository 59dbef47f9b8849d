"""Login rate limiting: too many failed sign-ins for one username from one address answer 429.

The rule: 5 failed sign-ins for the same username (case- and space-insensitive) from the same IP
address within 5 minutes lock that pair until the oldest of those failures is 5 minutes old; 30
failures from one address (any usernames: password spraying) lock the address the same way. A
successful sign-in clears the pair's count. A refused attempt answers 429 with a `Retry-After`
header and says when to try again; it is audited (action "login", outcome "denied", reason
"rate_limited") and counts as a failure itself, so hammering keeps the lock closed.

Where the failures are counted: in the audit log when it is enabled (the login route already
records every failure with username and address) — shared by every gunicorn worker and surviving
restarts, no extra service; otherwise in this process's memory (`MemoryFailures`).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from flask import Flask, Response, make_response, render_template_string, request
from sqlalchemy import func, select

from security import audit
from security.audit import scrub_text
from store import Store
from store.models import AuditLog

MAX_FAILURES = 5
MAX_FAILURES_PER_IP = 30
WINDOW = timedelta(minutes=5)


def normalise(username: str) -> str:
    """How a username is counted: what the audit log stores for it, trimmed and lower-cased."""
    return scrub_text(username[:80])[:80].strip().lower()


@dataclass(frozen=True)
class Limited:
    """A refused attempt: `retry_after` seconds until the next try may succeed."""

    retry_after: int
    scope: str  # "user" (this username from this address) or "ip" (this address)

    @property
    def message(self) -> str:
        minutes = max(1, -(-self.retry_after // 60))
        who = "for this account from your address" if self.scope == "user" else "from your address"
        return (
            f"Too many failed sign-ins {who}. Try again in {minutes} minute"
            + ("s" if minutes > 1 else "")
            + "."
        )


class Failures(Protocol):
    def recent(
        self, username: str, ip: str, since: datetime
    ) -> tuple[list[datetime], list[datetime]]:
        """(failure times of username+ip since the later of `since` and its last success,
        failure times of ip since `since`)."""

    def note(self, username: str, ip: str, at: datetime, *, ok: bool) -> None: ...


class AuditFailures:
    """Failures read from the audit log (what security/login.py records)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def recent(
        self, username: str, ip: str, since: datetime
    ) -> tuple[list[datetime], list[datetime]]:
        name = normalise(username)
        same_name = func.lower(func.trim(AuditLog.username)) == name
        with self.store.session() as session:
            last_ok = session.scalar(
                select(func.max(AuditLog.at)).where(
                    AuditLog.action == "login",
                    AuditLog.outcome == "ok",
                    AuditLog.ip == ip,
                    same_name,
                    AuditLog.at >= since,
                )
            )
            failed = (
                select(AuditLog.at, AuditLog.username)
                .where(
                    AuditLog.action == "login",
                    AuditLog.outcome == "denied",
                    AuditLog.ip == ip,
                    AuditLog.at >= since,
                )
                .order_by(AuditLog.at)
            )
            rows = session.execute(failed).all()
        user_since = max(since, _utc(last_ok)) if last_ok is not None else since
        by_ip = [_utc(at) for at, _ in rows]
        by_user = [
            _utc(at)
            for at, who in rows
            if (who or "").strip().lower() == name and _utc(at) > user_since
        ]
        return by_user, by_ip

    def note(self, username: str, ip: str, at: datetime, *, ok: bool) -> None:
        """Nothing to do: the login route audits every attempt."""


class MemoryFailures:
    """Failures kept in this process (used when the audit log is disabled)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_user: dict[tuple[str, str], deque[datetime]] = {}
        self._by_ip: dict[str, deque[datetime]] = {}

    def recent(
        self, username: str, ip: str, since: datetime
    ) -> tuple[list[datetime], list[datetime]]:
        with self._lock:
            key = (normalise(username), ip)
            for bucket in (self._by_user.get(key), self._by_ip.get(ip)):
                while bucket and bucket[0] < since:
                    bucket.popleft()
            return list(self._by_user.get(key, ())), list(self._by_ip.get(ip, ()))

    def note(self, username: str, ip: str, at: datetime, *, ok: bool) -> None:
        with self._lock:
            key = (normalise(username), ip)
            if ok:
                self._by_user.pop(key, None)
                return
            self._by_user.setdefault(key, deque()).append(at)
            self._by_ip.setdefault(ip, deque()).append(at)
            if len(self._by_ip) > 10_000:  # bounded memory under a spray from many addresses
                self._by_ip.pop(next(iter(self._by_ip)))
                self._by_user.pop(next(iter(self._by_user)), None)


class LoginLimiter:
    """Decides whether a sign-in attempt may go ahead (see the module docstring)."""

    def __init__(
        self,
        failures: Failures,
        *,
        max_failures: int = MAX_FAILURES,
        max_per_ip: int = MAX_FAILURES_PER_IP,
        window: timedelta = WINDOW,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.failures = failures
        self.max_failures = max_failures
        self.max_per_ip = max_per_ip
        self.window = window
        self.clock = clock

    def check(self, username: str, ip: str) -> Limited | None:
        now = self.clock()
        by_user, by_ip = self.failures.recent(username, ip, now - self.window)
        for times, limit, scope in (
            (by_user, self.max_failures, "user"),
            (by_ip, self.max_per_ip, "ip"),
        ):
            if len(times) >= limit:
                # Free again when all but limit-1 of these failures have left the window.
                frees_at = sorted(times)[len(times) - limit] + self.window
                return Limited(max(1, int((frees_at - now).total_seconds() + 0.999)), scope)
        return None

    def note(self, username: str, ip: str, *, ok: bool) -> None:
        self.failures.note(username, ip, self.clock(), ok=ok)


def init_app(
    server: Flask, store: Store, *, audit_enabled: bool = True, limiter: LoginLimiter | None = None
) -> LoginLimiter:
    """Guard POST /login with the limiter (after security.login.init_app registered the route)."""
    from security.csrf import form_token
    from security.login import LOGIN_PAGE, _safe_next

    limiter = limiter or LoginLimiter(AuditFailures(store) if audit_enabled else MemoryFailures())
    server.extensions["nexpo_login_limiter"] = limiter

    def attempt() -> tuple[str, str] | None:
        if request.path != "/login" or request.method != "POST":
            return None
        return request.form.get("username", ""), request.remote_addr or "-"

    @server.before_request
    def limit_login() -> Response | None:
        found = attempt()
        if found is None:
            return None
        username, ip = found
        limited = limiter.check(username, ip)
        if limited is None:
            return None
        audit.record(
            store,
            principal=None,
            username=username[:80],
            action="login",
            outcome="denied",
            ip=ip,
            detail={"reason": "rate_limited", "scope": limited.scope},
            enabled=audit_enabled,
        )
        limiter.note(username, ip, ok=False)
        page = render_template_string(
            LOGIN_PAGE,
            error=limited.message,
            next=_safe_next(request.values.get("next")),
            username=username,
            csrf_token=form_token(),
            demo=None,
        )
        response = make_response(page, 429)
        response.headers["Retry-After"] = str(limited.retry_after)
        return response

    @server.after_request
    def count_login(response: Response) -> Response:
        found = attempt()
        if found is not None and response.status_code in (302, 401):
            limiter.note(*found, ok=response.status_code == 302)
        return response

    return limiter


def _utc(moment: Any) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
