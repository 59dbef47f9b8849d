"""Store rows as records (with the policy resource of each), free keys for new ones, and slugs."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.dashboards.records import DashboardNotFound, SavedDashboard, TemplateInfo
from engine.reports import numeric_id
from engine.spec import DashboardSpec
from engine.templates import builtin_dashboards
from security.policy import AccessDenied, Resource, authorize
from security.users import Principal
from store.models import Dashboard, SavedReport, Template, User


def slugify(text: str) -> str:
    """A spec key from a title: lowercase words joined by dashes ("Revenue — Q3" -> "revenue-q3")."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80].strip("-")
    return slug or "dashboard"


def allowed(principal: Principal, action: str, resource: Resource) -> bool:
    try:
        authorize(principal, action, resource)
    except AccessDenied:
        return False
    return True


def new_resource(kind: str, owner: Principal) -> Resource:
    return Resource(kind, None, department=owner.department, owner_id=owner.id)


def dashboard_row(session: Session, ref: str | int) -> Dashboard:
    text = str(ref)
    number = numeric_id(text)
    if number is None and text.isascii() and text.isdigit():  # beyond any id
        raise DashboardNotFound(f"No saved dashboard named {text!r}.")
    query = select(Dashboard).where(
        Dashboard.id == number if number is not None else Dashboard.slug == text
    )
    row = session.scalar(query)
    if row is None:
        raise DashboardNotFound(f"No saved dashboard named {text!r}.")
    return row


def _department(session: Session, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    return session.scalar(select(User.department).where(User.id == user_id))


def saved_dashboard(session: Session, row: Dashboard) -> SavedDashboard:
    # The same resource engine.reports.find_report builds, so reading and editing agree.
    resource = Resource(
        "dashboard", row.slug, department=_department(session, row.owner_id), owner_id=row.owner_id
    )
    return SavedDashboard(
        id=row.id,
        slug=row.slug,
        title=row.title,
        spec=DashboardSpec.model_validate(row.spec),
        version=row.version,
        owner_id=row.owner_id,
        template_key=row.template_key,
        updated_at=utc(row.updated_at),
        resource=resource,
    )


def template_info(session: Session, row: Template) -> TemplateInfo:
    builtin = bool(row.builtin) or row.key in builtin_dashboards()
    resource = (
        Resource.template(row.key)
        if builtin
        else Resource(
            "template",
            row.key,
            department=_department(session, row.owner_id),
            owner_id=row.owner_id,
        )
    )
    spec = DashboardSpec.model_validate(row.spec)
    return TemplateInfo(
        row.key, row.name, row.description or "", spec, builtin, row.owner_id, resource
    )


def free_slug(session: Session, wanted: str) -> str:
    return _first_free(wanted, _taken(session, wanted))


def free_template_key(session: Session, wanted: str) -> str:
    return _first_free(wanted, _taken(session, wanted))


def _taken(session: Session, wanted: str) -> set[str]:
    """Keys starting with `wanted` in use: built-ins, dashboards, templates and saved reports (one
    namespace, so /api/reports/{id} finds exactly one thing)."""
    taken = set(builtin_dashboards())
    for column in (Dashboard.slug, Template.key, SavedReport.slug):
        taken |= set(session.scalars(select(column).where(column.startswith(wanted))))
    return taken


def _first_free(wanted: str, taken: set[str]) -> str:
    if wanted not in taken:
        return wanted
    n = 2
    while f"{wanted}-{n}" in taken:
        n += 1
    return f"{wanted}-{n}"


def dump(spec: DashboardSpec) -> dict:
    return spec.model_dump(mode="json")


def utc(moment: datetime) -> datetime:
    """Aware UTC (SQLite hands back naive datetimes, which the store always writes in UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
