"""Saved reports (the seed's `POST /api/reports`): a template with filters, a period and formats.

A saved report points at what it shows (`template`: a built-in or saved template key, or a saved
dashboard slug) and keeps the view to open it with: dimension filters, a period (7d, 30d, 90d or a
custom start/end) and the export formats it offers (a subset of the template's). Its policy
resource is of kind "report" whose key is its template key, with its owner and the owner's
department, so the role table decides on it as on the template it shows (a manager reads a saved
`revenue_analytics` report of their own department). Every change is authorized and audited; an
update may carry the version it was based on and is refused (`StaleReport`) when it is old.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.dashboards.rows import free_slug, slugify, utc
from engine.names import MAX_NAME, clean_name, numbered
from engine.periods import PERIOD_DAYS, Window
from engine.reports import ReportNotFound, find_report
from engine.request import ReportRequest, RequestError, check_window, offered_formats
from engine.spec import DashboardSpec, ExportFormat, Period
from engine.templates import builtin_dashboards
from security import audit
from security.policy import AccessDenied, Resource, authorize
from security.users import Principal
from store import Store
from store.models import SavedReport, Template, User, utcnow


class ReportConfigError(Exception):
    """A saved-report operation that cannot be done; `user_message` is safe to show (a 400)."""

    status = 400

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class SavedReportNotFound(ReportConfigError, LookupError):
    status = 404


class StaleReport(ReportConfigError):
    """The update was based on an older version than the stored one; nothing was written."""

    status = 409


class ReportConfig(BaseModel):
    """The body of `POST /api/reports`: what a new saved report shows and how."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME)
    description: str = Field("", max_length=2000)
    template: str = Field(min_length=1, max_length=120, description="Template key or dashboard")
    filters: dict[str, list[str]] = Field(default_factory=dict)
    period: Period | None = None  # default: the template's default period
    start: date | None = None
    end: date | None = None
    formats: list[ExportFormat] | None = None  # default: every format the template offers


class ReportChanges(BaseModel):
    """The body of `PUT /api/reports/{id}`: the fields to change, and optionally the base version."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=MAX_NAME)
    description: str | None = Field(None, max_length=2000)
    template: str | None = Field(None, min_length=1, max_length=120)
    filters: dict[str, list[str]] | None = None
    period: Period | None = None
    start: date | None = None
    end: date | None = None
    formats: list[ExportFormat] | None = None
    version: int | None = Field(None, ge=1, description="Refuse the update if this is not current")


@dataclass(frozen=True)
class BaseReport:
    """What a saved report shows: the spec and its policy resource."""

    key: str
    spec: DashboardSpec
    resource: Resource


@dataclass(frozen=True)
class SavedReportInfo:
    id: int
    slug: str
    name: str
    description: str
    template: str
    filters: dict[str, list[str]]
    period: str
    start: date | None
    end: date | None
    formats: list[str]
    owner_id: int | None
    department: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    resource: Resource


def base_report(store: Store, key: str) -> BaseReport:
    """The template (built-in or saved) or saved dashboard named `key`; ReportConfigError if none."""
    builtin = builtin_dashboards().get(key)
    if builtin is not None:
        return BaseReport(key, builtin, Resource.template(key))
    with store.session() as session:
        row = session.execute(
            select(Template, User.department)
            .outerjoin(User, User.id == Template.owner_id)
            .where(Template.key == key)
        ).first()
        if row is not None:
            template, department = row
            resource = Resource("template", key, department=department, owner_id=template.owner_id)
            return BaseReport(key, DashboardSpec.model_validate(template.spec), resource)
    try:
        found = find_report(store, key)
    except ReportNotFound:
        raise ReportConfigError(f"template: no template or saved dashboard named {key!r}") from None
    return BaseReport(found.resource.key or key, found.spec, found.resource)


def report_resource(base: BaseReport, *, department: str | None, owner_id: int | None) -> Resource:
    """The policy resource of a saved report on `base` (kind report, key = the template key)."""
    return Resource(
        "report",
        base.key,
        department=department,
        owner_id=owner_id,
        shared_with=base.resource.shared_with,
    )


def validate(
    base: BaseReport,
    filters: dict[str, list[str]],
    period: str,
    start: date | None,
    end: date | None,
    formats: list[str],
) -> None:
    """Raise ReportConfigError naming the first field that does not fit the template (the
    checks of the one request model, engine/request.py)."""
    if period in PERIOD_DAYS and (start is not None or end is not None):
        raise ReportConfigError(f"start/end: only a custom period has dates, not {period!r}")
    for name, values in filters.items():
        if any(not str(value).strip() for value in values):
            raise ReportConfigError(f"filters.{name}: values must be non-empty strings")
    try:
        req = ReportRequest.parse(
            {"report": base.spec.key, "period": period, "start": start, "end": end,
             "filters": filters},
        )  # fmt: skip
        if req.period == "custom":
            check_window(Window(req.start, req.end))  # type: ignore[arg-type]
    except RequestError as exc:
        raise ReportConfigError(exc.user_message) from None
    offered = offered_formats(base.spec)
    for fmt in formats:
        if fmt not in offered:
            raise ReportConfigError(
                f"formats: {fmt!r} is not offered by {base.spec.title!r}; "
                f"allowed: {', '.join(offered)}"
            )


class SavedReports:
    """Create, read, update and delete saved reports, authorized and audited."""

    def __init__(self, store: Store, *, audit_enabled: bool = True) -> None:
        self.store = store
        self.audit_enabled = audit_enabled

    def get(self, ref: str) -> SavedReportInfo:
        """The saved report with this slug (no access check: callers authorize)."""
        with self.store.session() as session:
            row = session.scalar(select(SavedReport).where(SavedReport.slug == ref))
            if row is None:
                raise SavedReportNotFound(f"No saved report named {ref!r}.")
            return self._info(session, row)

    def exists(self, ref: str) -> bool:
        with self.store.session() as session:
            return session.scalar(select(SavedReport.id).where(SavedReport.slug == ref)) is not None

    def readable(self, principal: Principal) -> list[SavedReportInfo]:
        """The saved reports `principal` may read, oldest first."""
        with self.store.session() as session:
            rows = session.scalars(select(SavedReport).order_by(SavedReport.id)).all()
            infos = [self._info(session, row) for row in rows]
        return [info for info in infos if _allowed(principal, "read", info.resource)]

    def create(self, config: ReportConfig, owner: Principal) -> SavedReportInfo:
        """A new saved report; its name is trimmed and numbered when another saved report has it
        ("Revenue (2)"), and its slug is made from that name."""
        name = _name(config.name)
        base = base_report(self.store, config.template)
        resource = report_resource(base, department=owner.department, owner_id=owner.id)
        self._authorize(owner, "create", resource)
        self._authorize(owner, "read", base.resource)
        period = config.period or base.spec.default_period
        formats = list(config.formats) if config.formats is not None else []
        formats = formats or list(base.spec.export_formats)
        validate(base, config.filters, period, config.start, config.end, formats)
        with self.store.session() as session:
            slug = free_slug(session, slugify(name))
            name = numbered(name, session.scalars(select(SavedReport.name)))
            row = SavedReport(
                slug=slug,
                name=name,
                description=config.description,
                template=base.key,
                filters={k: list(v) for k, v in config.filters.items() if v},
                period=period,
                start_date=config.start,
                end_date=config.end,
                formats=formats,
                owner_id=owner.id,
                version=1,
            )
            session.add(row)
            session.flush()
            info = self._info(session, row, base)
        self._audit(owner, "create", info.resource, report=info.slug)
        return info

    def update(self, ref: str, changes: ReportChanges, principal: Principal) -> SavedReportInfo:
        current = self.get(ref)
        self._authorize(principal, "update", current.resource)
        name = _name(changes.name) if changes.name is not None else current.name
        given = changes.model_fields_set
        template = changes.template if changes.template is not None else current.template
        base = base_report(self.store, template)
        if template != current.template:
            self._authorize(principal, "read", base.resource)
        period = changes.period or current.period
        dated = period == "custom"
        start = changes.start if "start" in given else (current.start if dated else None)
        end = changes.end if "end" in given else (current.end if dated else None)
        filters = changes.filters if changes.filters is not None else current.filters
        formats = changes.formats if changes.formats is not None else current.formats
        if changes.template is not None and changes.formats is None:
            # Keep the formats the new template offers too (or all of its own).
            offered = set(base.spec.export_formats)
            formats = [f for f in formats if f in offered] or list(base.spec.export_formats)
        validate(base, filters, period, start, end, list(formats))
        base_version = changes.version or current.version
        with self.store.session() as session:
            changed = session.execute(
                update(SavedReport)
                .where(SavedReport.id == current.id, SavedReport.version == base_version)
                .values(
                    name=name,
                    description=(
                        changes.description
                        if changes.description is not None
                        else current.description
                    ),
                    template=base.key,
                    filters={k: list(v) for k, v in filters.items() if v},
                    period=period,
                    start_date=start,
                    end_date=end,
                    formats=list(formats),
                    version=base_version + 1,
                    updated_at=utcnow(),
                )
            ).rowcount
            if changed != 1:
                raise StaleReport(
                    f"“{current.name}” was changed by someone else (you edited version "
                    f"{base_version}, the saved one is version {current.version}); reload it."
                )
            row = session.get(SavedReport, current.id, populate_existing=True)
            info = self._info(session, row, base)
        self._audit(principal, "update", info.resource, report=info.slug, version=info.version)
        return info

    def delete(self, ref: str, principal: Principal) -> None:
        current = self.get(ref)
        self._authorize(principal, "delete", current.resource)
        with self.store.session() as session:
            session.execute(
                SavedReport.__table__.delete().where(SavedReport.__table__.c.id == current.id)
            )
        self._audit(principal, "delete", current.resource, report=current.slug)

    # --- helpers ------------------------------------------------------------------------------

    def _info(
        self, session: Session, row: SavedReport, base: BaseReport | None = None
    ) -> SavedReportInfo:
        department = (
            session.scalar(select(User.department).where(User.id == row.owner_id))
            if row.owner_id is not None
            else None
        )
        try:
            base = base or base_report(self.store, row.template)
            resource = report_resource(base, department=department, owner_id=row.owner_id)
        except ReportConfigError:  # its template was deleted: still listed, for its owner to fix
            resource = Resource("report", row.template, department, row.owner_id)
        return SavedReportInfo(
            id=row.id,
            slug=row.slug,
            name=row.name,
            description=row.description or "",
            template=row.template,
            filters={k: list(v) for k, v in (row.filters or {}).items()},
            period=row.period,
            start=row.start_date,
            end=row.end_date,
            formats=list(row.formats or []),
            owner_id=row.owner_id,
            department=department,
            version=row.version,
            created_at=utc(row.created_at),
            updated_at=utc(row.updated_at),
            resource=resource,
        )

    def _authorize(self, principal: Principal, action: str, resource: Resource) -> None:
        try:
            authorize(principal, action, resource)
        except AccessDenied:
            self._audit(principal, action, resource, outcome="denied")
            raise

    def _audit(
        self,
        principal: Principal,
        action: str,
        resource: Resource,
        *,
        outcome: audit.Outcome = "ok",
        **detail: Any,
    ) -> None:
        audit.record(
            self.store,
            principal=principal,
            action=f"report.{action}",
            target=resource.label(),
            outcome=outcome,
            detail=detail,
            enabled=self.audit_enabled,
        )


def _name(raw: str) -> str:
    return clean_name(raw, "report name", error=lambda m: ReportConfigError(f"name: {m}"))


def _allowed(principal: Principal, action: str, resource: Resource) -> bool:
    try:
        authorize(principal, action, resource)
    except AccessDenied:
        return False
    return True
