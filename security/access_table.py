"""The role access table as data, in the seed's own shape, and the operator's policy file.

The default is the seed's `access_control` block, verbatim in meaning:

| role    | reports                                        | actions                       | rows           | range     |
|---------|------------------------------------------------|-------------------------------|----------------|-----------|
| admin   | all                                            | create read update delete export schedule | all | none      |
| manager | user_analytics, revenue_report, kpi_dashboard  | read export schedule          | own department | 1 year    |
| analyst | user_analytics, kpi_dashboard                  | read export                   | all            | 6 months  |
| viewer  | kpi_dashboard                                  | read                          | all            | 30 days   |

`revenue_report` is the seed's name for the revenue report: it covers `revenue_analytics` and the
demo's extra `revenue_overview` (REPORT_ALIASES). PII is masked for every role but admin (the seed's
privacy block; a policy file may set `mask_pii` per role).

`ACCESS_POLICY_FILE` (YAML) may replace any role's row, in the same shape:

    access_control:
      analyst:
        reports: [user_analytics, kpi_dashboard, revenue_report]
        actions: [read, export, schedule]
        filters: {date_range: max_6_months}

Roles the file does not name keep the default row. A bad file stops start-up with one line naming
the key (`PolicyFileError`).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

ACTIONS = ("create", "read", "update", "delete", "export", "schedule")
ROLES = ("admin", "manager", "analyst", "viewer")
ALL_REPORTS = "all"
# The seed's report names that stand for more than one key of this service.
REPORT_ALIASES: dict[str, frozenset[str]] = {
    "revenue_report": frozenset({"revenue_analytics", "revenue_overview"}),
}
ROLE_KEYS = frozenset({"reports", "actions", "filters", "mask_pii"})
FILTER_KEYS = frozenset({"department", "date_range"})
_RANGE = re.compile(r"^max_(\d+)_(day|days|month|months|year|years)$")


class PolicyFileError(ValueError):
    """The access policy file cannot be used; the message names the file and the bad key."""


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
    """One row of the access table."""

    role: str
    reports: frozenset[str]  # report keys after aliases; "all" for every report
    actions: frozenset[str]
    department_rows: bool  # True: only rows (and items) of the principal's own department
    max_range: RangeCap | None
    mask_pii: bool

    @property
    def all_reports(self) -> bool:
        return ALL_REPORTS in self.reports


# The seed's access_control block, as written there.
SEED_ACCESS_CONTROL: dict[str, dict[str, Any]] = {
    "admin": {
        "reports": ["all"],
        "actions": ["create", "read", "update", "delete", "export", "schedule"],
    },
    "manager": {
        "reports": ["user_analytics", "revenue_report", "kpi_dashboard"],
        "actions": ["read", "export", "schedule"],
        "filters": {"department": "own_department", "date_range": "max_1_year"},
    },
    "analyst": {
        "reports": ["user_analytics", "kpi_dashboard"],
        "actions": ["read", "export"],
        "filters": {"date_range": "max_6_months"},
    },
    "viewer": {
        "reports": ["kpi_dashboard"],
        "actions": ["read"],
        "filters": {"date_range": "max_30_days"},
    },
}


def parse_range(value: Any, where: str) -> RangeCap | None:
    """`max_1_year`, `max_6_months`, `max_30_days` (any number), or `none`/`unlimited`."""
    text = str(value).strip().lower()
    if text in ("none", "unlimited", "all"):
        return None
    match = _RANGE.match(text)
    if not match or int(match.group(1)) < 1:
        raise PolicyFileError(
            f"{where}={value!r}: expected max_<N>_days, max_<N>_months, max_<N>_years or none"
        )
    count, unit = int(match.group(1)), match.group(2).rstrip("s")
    if unit == "day":
        return RangeCap(days=count)
    return RangeCap(months=count * (12 if unit == "year" else 1))


def parse_role(role: str, row: Any, where: str) -> RolePolicy:
    """One role's row in the seed's shape; PolicyFileError names the first bad key."""
    if not isinstance(row, Mapping):
        raise PolicyFileError(f"{where}: expected a mapping with reports, actions, filters")
    for key in row:
        if key not in ROLE_KEYS:
            raise PolicyFileError(
                f"{where}.{key}: unknown key; expected {', '.join(sorted(ROLE_KEYS))}"
            )
    reports = _names(row.get("reports", []), f"{where}.reports")
    actions = _names(row.get("actions", []), f"{where}.actions")
    for action in actions:
        if action not in ACTIONS:
            raise PolicyFileError(
                f"{where}.actions: unknown action {action!r}; expected {', '.join(ACTIONS)}"
            )
    filters = row.get("filters") or {}
    if not isinstance(filters, Mapping):
        raise PolicyFileError(f"{where}.filters: expected a mapping")
    for key in filters:
        if key not in FILTER_KEYS:
            raise PolicyFileError(
                f"{where}.filters.{key}: unknown key; expected department, date_range"
            )
    department = str(filters.get("department", "all")).strip().lower()
    if department not in ("all", "own_department"):
        raise PolicyFileError(
            f"{where}.filters.department={department!r}: expected own_department or all"
        )
    mask = row.get("mask_pii", role != "admin")
    if not isinstance(mask, bool):
        raise PolicyFileError(f"{where}.mask_pii={mask!r}: expected true or false")
    expanded: set[str] = set()
    for name in reports:
        expanded |= REPORT_ALIASES.get(name, frozenset({name}))
    return RolePolicy(
        role=role,
        reports=frozenset(expanded),
        actions=frozenset(actions),
        department_rows=department == "own_department",
        max_range=parse_range(filters.get("date_range", "none"), f"{where}.filters.date_range"),
        mask_pii=mask,
    )


def _names(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise PolicyFileError(f"{where}: expected a list of names")
    return [v.strip() for v in value]


def parse_table(access_control: Any, where: str = "access_control") -> dict[str, RolePolicy]:
    """Every role of `access_control` (the seed's shape) as RolePolicy rows."""
    if not isinstance(access_control, Mapping):
        raise PolicyFileError(f"{where}: expected a mapping of role -> rules")
    table = {}
    for role, row in access_control.items():
        if role not in ROLES:
            raise PolicyFileError(f"{where}.{role}: unknown role; expected {', '.join(ROLES)}")
        table[role] = parse_role(role, row, f"{where}.{role}")
    return table


DEFAULT_TABLE: dict[str, RolePolicy] = parse_table(SEED_ACCESS_CONTROL)


def load_policy_file(path: str | Path) -> dict[str, RolePolicy]:
    """The default table with the roles of `path` replaced; PolicyFileError names what is wrong."""
    file = Path(path)
    label = f"ACCESS_POLICY_FILE {file}"
    try:
        data = yaml.safe_load(file.read_text())
    except OSError as exc:
        raise PolicyFileError(f"{label}: cannot read it ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise PolicyFileError(f"{label}: not valid YAML{line}") from None
    if not isinstance(data, Mapping) or set(data) != {"access_control"}:
        keys = ", ".join(map(str, data)) if isinstance(data, Mapping) else type(data).__name__
        raise PolicyFileError(f"{label}: expected one top-level key access_control (found {keys})")
    try:
        return {**DEFAULT_TABLE, **parse_table(data["access_control"])}
    except PolicyFileError as exc:
        raise PolicyFileError(f"{label}: {exc}") from None


def _minus_months(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
