"""Roles and policies: who may do what to which report, which rows they see, how far back they look.

Pure functions over one table (`POLICY`), no I/O. `engine.generate` calls `authorize`, `row_scope`
and `cap_window` once per request, so pages, the API, exports, schedules and embeds all obey it.

The policy table (the seed's roles; where the seed is silent, the choice is written here):

| role    | create | read   | update | delete | export | schedule | rows            | range cap | PII      |
|---------|--------|--------|--------|--------|--------|----------|-----------------|-----------|----------|
| admin   | any    | any    | any    | any    | any    | any      | all             | none      | unmasked |
| manager | dept   | dept   | dept   | dept   | dept   | dept     | own department  | 12 months | masked   |
| analyst | any    | any    | own    | own    | any    | -        | all             | 6 months  | masked   |
| viewer  | -      | shared | -      | -      | -      | -        | all             | 30 days   | masked   |

Grants (which resources of the report family — report, dashboard, template, schedule, export — a
grant covers):

- `any`: every resource.
- `dept`: resources of the manager's own department. A company-wide resource (department None,
  e.g. a built-in template) may be read, exported and scheduled — its rows are still cut to the
  department — but not created, updated or deleted. A manager with no department gets nothing.
- `own`: resources the principal owns (`owner_id`); analysts edit and delete only their own work.
- `shared`: resources shared with the role (`shared_with`); built-in templates are shared per
  `BUILTIN_AUDIENCE` (viewers: the KPI dashboard and the revenue overview).

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

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

from engine.periods import Window
from security.users import Principal

ACTIONS = ("create", "read", "update", "delete", "export", "schedule")
ROLES = ("admin", "manager", "analyst", "viewer")
EMBED_ROLE = "embed"

Grant = Literal["any", "dept", "own", "shared"]
ClampMode = Literal["clamp", "refuse"]

# Kinds of the report family (the seed's "reports each role may open"), and the rest.
REPORT_KINDS = frozenset({"report", "dashboard", "template", "schedule", "export"})
ADMIN_KINDS = frozenset({"user", "role", "department", "audit"})
OWNED_KINDS = frozenset({"api_token", "embed"})
READ_LIKE = frozenset({"read", "export", "schedule"})


@dataclass(frozen=True)
class RangeCap:
    """The longest window a role may select: `months` calendar months or `days` days."""

    months: int = 0
    days: int = 0

    def earliest_start(self, end: date) -> date:
        """The first day a window ending on `end` may start on."""
        if self.months:
            return _minus_months(end, self.months) + timedelta(days=1)
        return end - timedelta(days=self.days - 1)

    def label(self) -> str:
        if self.months:
            if self.months % 12 == 0:
                years = self.months // 12
                return f"{years} year" + ("s" if years > 1 else "")
            return f"{self.months} months"
        return f"{self.days} days"


@dataclass(frozen=True)
class RolePolicy:
    """One row of the policy table."""

    role: str
    grants: Mapping[str, Grant]
    department_rows: bool  # True: only rows of the principal's own department
    max_range: RangeCap | None
    mask_pii: bool


POLICY: dict[str, RolePolicy] = {
    "admin": RolePolicy(
        "admin",
        {action: "any" for action in ACTIONS},
        department_rows=False,
        max_range=None,
        mask_pii=False,
    ),
    "manager": RolePolicy(
        "manager",
        {action: "dept" for action in ACTIONS},
        department_rows=True,
        max_range=RangeCap(months=12),
        mask_pii=True,
    ),
    "analyst": RolePolicy(
        "analyst",
        {"create": "any", "read": "any", "update": "own", "delete": "own", "export": "any"},
        department_rows=False,
        max_range=RangeCap(months=6),
        mask_pii=True,
    ),
    "viewer": RolePolicy(
        "viewer",
        {"read": "shared"},
        department_rows=False,
        max_range=RangeCap(days=30),
        mask_pii=True,
    ),
}

# Which roles a built-in template is shared with (admins, managers and analysts reach every
# template through their grants; this list matters for viewers). Saved dashboards carry their own.
BUILTIN_AUDIENCE: dict[str, frozenset[str]] = {
    "kpi_dashboard": frozenset({"viewer"}),
    "revenue_overview": frozenset({"viewer"}),
    "revenue_analytics": frozenset(),
    "user_analytics": frozenset(),
}


@dataclass(frozen=True)
class Resource:
    """What an action is taken on: its kind, key, department, owner and the roles it is shared with."""

    kind: str
    key: str | None = None
    department: str | None = None
    owner_id: int | None = None
    shared_with: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def template(cls, key: str) -> Resource:
        """A built-in template: company-wide, no owner, shared per BUILTIN_AUDIENCE."""
        return cls("template", key, shared_with=BUILTIN_AUDIENCE.get(key, frozenset()))

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
        return POLICY.get(principal.issuer_role)
    return POLICY.get(principal.role)


def authorize(principal: Principal, action: str, resource: Resource) -> None:
    """Return when `principal` may take `action` on `resource`; raise AccessDenied otherwise."""
    if action not in ACTIONS:
        raise AccessDenied(f"Unknown action {action!r}.", action, resource)
    if isinstance(principal, EmbedPrincipal) or principal.role == EMBED_ROLE:
        _authorize_embed(principal, action, resource)
        return
    role = POLICY.get(principal.role)
    if role is None:
        raise AccessDenied(
            "Your account has no valid role. Ask an administrator.", action, resource
        )
    if principal.role == "admin":
        return
    if resource.kind in ADMIN_KINDS:
        raise _denied(principal, action, resource, "only administrators may do this")
    if resource.kind in OWNED_KINDS:
        if resource.owner_id is not None and resource.owner_id == principal.id:
            return
        raise _denied(principal, action, resource, "it belongs to someone else")
    if resource.kind not in REPORT_KINDS:
        raise _denied(principal, action, resource, "this kind of item is not covered")
    grant = role.grants.get(action)
    if grant is None:
        raise _denied(principal, action, resource, f"the {principal.role} role may not {action}")
    if not _covers(grant, principal, action, resource):
        raise _denied(principal, action, resource, _why(grant))


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


def _covers(grant: Grant, principal: Principal, action: str, resource: Resource) -> bool:
    if grant == "any":
        return True
    if grant == "own":
        return resource.owner_id is not None and resource.owner_id == principal.id
    if grant == "shared":
        return principal.role in resource.shared_with
    # "dept": the manager's own department; company-wide resources only for read-like actions.
    if not principal.department:
        return False
    if resource.department is None:
        return action in READ_LIKE
    return resource.department == principal.department


def _why(grant: Grant) -> str:
    return {
        "own": "you may only change items you own",
        "shared": "it is not shared with your role",
        "dept": "it belongs to another department",
    }.get(grant, "your role does not allow it")


def _denied(principal: Principal, action: str, resource: Resource, why: str) -> AccessDenied:
    what = resource.kind.replace("_", " ")
    name = f" “{resource.key}”" if resource.key else ""
    return AccessDenied(f"You may not {action} the {what}{name}: {why}.", action, resource)


def row_scope(principal: Principal) -> RowScope:
    """The rows `principal` may see; an unknown role sees nothing."""
    if isinstance(principal, EmbedPrincipal):
        return RowScope(principal.unrestricted, principal.department)
    role = POLICY.get(principal.role)
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
    role = POLICY.get(principal.role)
    return True if role is None else role.mask_pii


def max_range(principal: Principal) -> RangeCap | None:
    """The principal's date range cap (None: unlimited). Unknown roles get the tightest."""
    role = policy_for(principal)
    return POLICY["viewer"].max_range if role is None else role.max_range


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


def _minus_months(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
