"""Finding a report by id: a built-in template key, or a saved dashboard (by slug or numeric id)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from engine.spec import DashboardSpec
from engine.templates import builtin_dashboards
from security.policy import Resource
from store import Store
from store.models import Dashboard, User


class ReportNotFound(LookupError):
    """No template or dashboard with this id; `user_message` is safe to show (a 404)."""

    def __init__(self, report_id: str) -> None:
        super().__init__(report_id)
        self.user_message = f"No report, dashboard or template named {report_id!r}."


@dataclass(frozen=True)
class FoundReport:
    spec: DashboardSpec
    resource: Resource
    version: int | None = None  # saved dashboards only


MAX_ID = 2**63 - 1  # the largest BIGINT


def numeric_id(text: str) -> int | None:
    """`text` as a database id when it is one ("42"), else None ("mrr", "²", 10**30)."""
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= MAX_ID else None


def find_report(store: Store, report_id: str) -> FoundReport:
    """The spec and policy resource of `report_id`; ReportNotFound when there is none."""
    builtin = builtin_dashboards().get(report_id)
    if builtin is not None:
        return FoundReport(builtin, Resource.template(builtin.key))
    with store.session() as session:
        query = select(Dashboard, User.department).outerjoin(User, User.id == Dashboard.owner_id)
        if report_id.isascii() and report_id.isdigit():
            number = numeric_id(report_id)
            if number is None:  # all digits but beyond any id: no such report
                raise ReportNotFound(report_id)
            row = session.execute(query.where(Dashboard.id == number)).first()
        else:
            row = session.execute(query.where(Dashboard.slug == report_id)).first()
        if row is None:
            raise ReportNotFound(report_id)
        dashboard, department = row
        spec = DashboardSpec.model_validate(dashboard.spec)
        resource = Resource(
            "dashboard", dashboard.slug, department=department, owner_id=dashboard.owner_id
        )
        return FoundReport(spec, resource, dashboard.version)
