"""Roles and policies: who may do what to which report, which rows they see, how far back they look.

Pure functions over one table, the seed's `access_control` block as data (security/access_table.py:
the table, its defaults and the operator's `ACCESS_POLICY_FILE`). `engine.generate` calls
`authorize`, `row_scope` and `cap_window` once per request, so pages, the API, exports, schedules
and embeds all obey it.

How a row of the table decides (the seed is silent on the details; the choices are written here):

- `actions`: the action must be one of the role's. Nothing else grants it.
- `reports`: the report (a template key, or the report a saved report, schedule or export is
  built on: `Resource.report`) must be one of the role's, or the role has `all`. A saved dashboard
  or custom template is its own report (its slug): by default only admins (`all`) open them; an
  item shared with the role (`shared_with`) or owned by the principal is covered too. Creating a
  custom dashboard or template from scratch (no report key) needs `all`: a role limited to some
  reports may not assemble others' numbers into a new one.
- `filters.department: own_department`: the principal's own department's rows (forced as the
  department filter of every metric) and items; company-wide items (department None, e.g. the
  built-in templates) may be read, exported and scheduled, not changed. No department: nothing.
- `filters.date_range`: the longest window (below).
- Schedules and exports are private: beside roles with `all`, only their owner may see or change
  one, and only while the role still covers its report. Changing or deleting an item someone else
  owns is for admins, or (department roles) for items of the principal's department.

Beyond the report family: users, roles, departments and the audit log are admin-only; API tokens
and embed links may be managed by their owner or an admin. Issuing an embed link needs `export` on
the dashboard (it shares data outside), and the link never shows more than its issuer may see.

Date range caps limit the length of the selected window (inclusive days), not how far back it
starts: 12 and 6 months are calendar months ending on the window's last day (a July-December
window is six months), 30 days is 30 days. `cap_window` clamps (keeps the end, moves the start;
friendlier for dashboards) or refuses with `RangeTooLong` (a 403 for the API).

PII is masked for every role but admin (see security/masking.py); embeds are always masked.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from engine.periods import Window
from security.access_table import (
    ACTIONS,
    DEFAULT_TABLE,
    ROLES,
    RangeCap,
    RolePolicy,
    load_policy_file,
)
from security.users import Principal

__all__ = ["ACTIONS", "ROLES", "RangeCap", "RolePolicy"]

EMBED_ROLE = "embed"

ClampMode = Literal["clamp", "refuse"]

# Kinds of the report family (the seed's "reports each role may open"), and the rest.
REPORT_KINDS = frozenset({"report", "dashboard", "template", "schedule", "export"})
PRIVATE_KINDS = frozenset({"schedule", "export"})
ADMIN_KINDS = frozenset({"user", "role", "department", "audit"})
OWNED_KINDS = frozenset({"api_token", "embed"})
READ_LIKE = frozenset({"read", "export", "schedule"})

# The table in force: the seed's by default; `install` (at start-up, from ACCESS_POLICY_FILE).
_active: dict[str, RolePolicy] = dict(DEFAULT_TABLE)


def install(table: Mapping[str, RolePolicy]) -> None:
    """Make `table` the access table of this process (create_app calls it once)."""
    _active.clear()
    _active.update(table)


def install_file(path: str) -> None:
    """Install the table of ACCESS_POLICY_FILE `path` (the seed's table when empty)."""
    install(load_policy_file(path) if path else DEFAULT_TABLE)


def table() -> dict[str, RolePolicy]:
    """The access table in force (a copy)."""
    return dict(_active)


@contextmanager
def using(table_: Mapping[str, RolePolicy]) -> Iterator[None]:
    """`table_` in force inside the block (tests)."""
    before = dict(_active)
    install(table_)
    try:
        yield
    finally:
        install(before)


@dataclass(frozen=True)
class Resource:
    """What an action is taken on: its kind, key, department, owner and the roles it is shared with."""

    kind: str
    key: str | None = None
    department: str | None = None
    owner_id: int | None = None
    shared_with: frozenset[str] = field(default_factory=frozenset)
    report: str | None = None  # the report it is built on (a schedule's, a saved report's)

    @classmethod
    def template(cls, key: str) -> Resource:
        """A built-in template: company-wide, no owner; the access table names it by its key."""
        return cls("template", key, report=key)

    @property
    def report_key(self) -> str | None:
        """The name the access table's `reports` lists match: `report`, else the key."""
        return self.report if self.report is not None else self.key

    def label(self) -> str:
        """`kind:key` for messages and the audit log."""
        return f"{self.kind}:{self.key}" if self.key is not None else self.kind


class AccessDenied(Exception):
    """The principal may not take `action` on `resource`; `user_message` is safe to show (a 403)."""

    status = 403

    def __init__(self, user_message: str, action: str, resource: Resource | None) -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.action = action
        self.resource = resource


class RangeTooLong(AccessDenied):
    """The selected window is longer than the role's date range cap (mode="refuse")."""


@dataclass(frozen=True)
class EmbedPrincipal(Principal):
    """Who is asking through a verified embed token: read-only on one dashboard, the issuer's rows
    and range cap, PII always masked. Built by `security.embed.EmbedClaims.principal()`."""

    dashboard: str = ""
    issuer_role: str = "viewer"
    unrestricted: bool = False


@dataclass(frozen=True)
class RowScope:
    """Which warehouse rows a principal may see: all, or one department's (none when it is None)."""

    unrestricted: bool
    department: str | None = None

    @property
    def sees_nothing(self) -> bool:
        return not self.unrestricted and self.department is None

    def cache_key(self) -> str:
        """What makes this scope's rows differ from another's; part of every query cache key.

        Masking happens after the fetch, so admins and analysts (both `rows=all`) share entries.
        """
        if self.unrestricted:
            return "rows=all"
        return f"rows=department:{self.department}" if self.department else "rows=none"

    def to_claim(self) -> dict[str, Any]:
        return {"unrestricted": self.unrestricted, "department": self.department}

    @classmethod
    def from_claim(cls, claim: Mapping[str, Any]) -> RowScope:
        return cls(bool(claim.get("unrestricted")), claim.get("department"))


def policy_for(principal: Principal) -> RolePolicy | None:
    """The policy row of the principal's role (an embed principal uses its issuer's for caps)."""
    if isinstance(principal, EmbedPrincipal):
        return _active.get(principal.issuer_role)
    return _active.get(principal.role)


def authorize(principal: Principal, action: str, resource: Resource) -> None:
    """Return when `principal` may take `action` on `resource`; raise AccessDenied otherwise."""
    if action not in ACTIONS:
        raise AccessDenied(f"Unknown action {action!r}.", action, resource)
    if isinstance(principal, EmbedPrincipal) or principal.role == EMBED_ROLE:
        _authorize_embed(principal, action, resource)
        return
    role = _active.get(principal.role)
    if role is None:
        raise AccessDenied(
            "Your account has no valid role. Ask an administrator.", action, resource
        )
    if resource.kind in ADMIN_KINDS or resource.kind in OWNED_KINDS:
        if principal.role == "admin":
            return
        if resource.kind in OWNED_KINDS and _owns(principal, resource):
            return
        why = (
            "only administrators may do this"
            if resource.kind in ADMIN_KINDS
            else ("it belongs to someone else")
        )
        raise _denied(principal, action, resource, why)
    if resource.kind not in REPORT_KINDS:
        raise _denied(principal, action, resource, "this kind of item is not covered")
    needed = _needed_action(action, resource)
    if needed not in role.actions:
        raise _denied(principal, action, resource, f"the {principal.role} role may not {needed}")
    why = _why_not(role, principal, action, resource)
    if why:
        raise _denied(principal, action, resource, why)


def _needed_action(action: str, resource: Resource) -> str:
    """The table's action for `action` on `resource`: making, changing and deleting one's own
    schedule is the `schedule` action, and following or cancelling one's export is `export`."""
    if resource.kind == "schedule" and action in ("create", "update", "delete"):
        return "schedule"
    if resource.kind == "export" and action != "read":
        return "export"
    return action


def _why_not(role: RolePolicy, who: Principal, action: str, resource: Resource) -> str | None:
    """Why the row `role` does not cover `action` on `resource` (None: it does)."""
    owns = _owns(who, resource)
    if role.department_rows:
        if not who.department:
            return "your account has no department"
        if resource.department is not None and resource.department != who.department:
            return "it belongs to another department"
        if resource.department is None and action not in READ_LIKE and not owns:
            return "it is company-wide"
    if action in ("update", "delete") and not owns and who.role != "admin":
        same_dept = role.department_rows and resource.department == who.department
        if not (same_dept and resource.department is not None):
            return "you may only change items you own"
    if role.all_reports:
        return None
    key = resource.report_key
    if action == "create" and key is None:
        return f"the {who.role} role may create only from its own reports"
    if resource.kind in PRIVATE_KINDS and resource.key is not None and not owns:
        return "it belongs to someone else"
    covered = (key is not None and key in role.reports) or who.role in resource.shared_with
    if not covered and not (owns and resource.kind not in PRIVATE_KINDS):
        return f"the {who.role} role does not include this report"
    return None


def _owns(who: Principal, resource: Resource) -> bool:
    return resource.owner_id is not None and resource.owner_id == who.id


def _authorize_embed(principal: Principal, action: str, resource: Resource) -> None:
    dashboard = getattr(principal, "dashboard", None)
    if (
        action == "read"
        and resource.kind in ("dashboard", "template")
        and dashboard
        and resource.key == dashboard
    ):
        return
    raise AccessDenied("This embed link only shows its own dashboard.", action, resource)


def _denied(principal: Principal, action: str, resource: Resource, why: str) -> AccessDenied:
    what = resource.kind.replace("_", " ")
    name = f" “{resource.key}”" if resource.key else ""
    return AccessDenied(f"You may not {action} the {what}{name}: {why}.", action, resource)


def row_scope(principal: Principal) -> RowScope:
    """The rows `principal` may see; an unknown role sees nothing."""
    if isinstance(principal, EmbedPrincipal):
        return RowScope(principal.unrestricted, principal.department)
    role = _active.get(principal.role)
    if role is None:
        return RowScope(False, None)
    if role.department_rows:
        return RowScope(False, principal.department or None)
    return RowScope(True, None)


def masks_pii(principal: Principal, *, enabled: bool = True) -> bool:
    """Whether `principal` sees personal data masked (`enabled` is settings.enable_pii_masking)."""
    if not enabled:
        return False
    if isinstance(principal, EmbedPrincipal):
        return True
    role = _active.get(principal.role)
    return True if role is None else role.mask_pii


def max_range(principal: Principal) -> RangeCap | None:
    """The principal's date range cap (None: unlimited). Unknown roles get the tightest."""
    role = policy_for(principal)
    if role is None:  # unknown roles get the tightest cap of the table
        caps = [r.max_range for r in _active.values() if r.max_range is not None]
        return min(caps, key=lambda c: c.months * 31 + c.days) if caps else RangeCap(days=30)
    return role.max_range


def cap_window(principal: Principal, window: Window, mode: ClampMode = "clamp") -> Window:
    """`window` cut to the principal's date range cap.

    mode="clamp" keeps the window's end and moves its start forward; mode="refuse" raises
    RangeTooLong when the window is longer than the cap. A window within the cap comes back as is.
    """
    cap = max_range(principal)
    if cap is None:
        return window
    earliest = cap.earliest_start(window.end)
    if window.start >= earliest:
        return window
    if mode == "refuse":
        raise RangeTooLong(
            f"Your role ({principal.role}) may look at {cap.label()} at a time; "
            f"the range {window.start:%Y-%m-%d} – {window.end:%Y-%m-%d} is {window.days} days. "
            f"Choose a shorter range.",
            "read",
            None,
        )
    return Window(earliest, window.end)


def embed_scope(issuer: Principal) -> dict[str, Any]:
    """What an embed token carries about its issuer: their row scope and the role of their caps."""
    scope = row_scope(issuer)
    return {"role": issuer.role, **scope.to_claim()}
