"""What the dashboards store hands back: its errors (with a safe `user_message`) and its records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engine.spec import DashboardSpec
from security.policy import Resource


class DashboardError(Exception):
    """A dashboard or template operation that cannot be done; `user_message` is safe to show."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class DashboardNotFound(DashboardError, LookupError):
    """No saved dashboard or template with this id or key."""


class StaleVersion(DashboardError):
    """The save was based on an older version than the stored one; nothing was written."""

    def __init__(self, title: str, base_version: int, stored_version: int) -> None:
        super().__init__(
            f"“{title}” was saved by someone else since you opened it (you edited version "
            f"{base_version}, the saved one is now version {stored_version}). Your changes were "
            f"not saved and are still here: use “Save as” to keep them as a new dashboard, or "
            f"reload to see the other version."
        )
        self.base_version = base_version
        self.stored_version = stored_version


class ReadOnlyTemplate(DashboardError):
    """Built-in templates can be cloned but not edited or deleted."""


@dataclass(frozen=True)
class SavedDashboard:
    id: int
    slug: str
    title: str
    spec: DashboardSpec
    version: int
    owner_id: int | None
    template_key: str | None
    updated_at: datetime
    resource: Resource


@dataclass(frozen=True)
class VersionInfo:
    version: int
    author: str | None
    created_at: datetime
    widget_count: int


@dataclass(frozen=True)
class TemplateInfo:
    key: str
    name: str
    description: str
    spec: DashboardSpec
    builtin: bool
    owner_id: int | None
    resource: Resource


@dataclass(frozen=True)
class Openable:
    """Something the home page lists: a dashboard or a template the user may open."""

    key: str
    title: str
    description: str
    kind: str  # "dashboard" | "template"
    viewed_at: datetime | None
    editable: bool
