"""Saved dashboards and templates in the metadata store, with the policy applied to every change.

`Dashboards(store)` is the one way pages and the API create, save, clone, delete and restore
dashboards, manage saved templates, and remember what a user viewed last.

- Optimistic locking: `save(ref, spec, base_version, author)` writes only when the stored version
  is still `base_version` (one compare-and-set UPDATE, safe across workers); otherwise it raises
  `StaleVersion` and nothing is written, so no edit is lost silently.
- Every saved version is kept in `dashboard_versions`, the newest MAX_VERSIONS of them; older ones
  are pruned in the same transaction. `restore(ref, version, ...)` saves an old spec as a new
  version (history only grows forward).
- Built-in templates (engine/templates/*.yaml, or rows flagged `builtin`) can be read and cloned,
  never edited or deleted.
- Keys: a saved dashboard's slug is its spec key; slugs and template keys never collide with a
  built-in key (engine.reports.find_report looks built-ins up first).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.spec import DashboardSpec
from engine.templates import builtin_dashboards
from security import audit
from security.policy import AccessDenied, Resource, authorize
from security.users import Principal
from store import Store
from store.models import Dashboard, DashboardVersion, DashboardView, Template, User, utcnow

MAX_VERSIONS = 15
MAX_RECENT = 20


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


def slugify(text: str) -> str:
    """A spec key from a title: lowercase words joined by dashes ("Revenue — Q3" -> "revenue-q3")."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80].strip("-")
    return slug or "dashboard"


class Dashboards:
    """CRUD of saved dashboards and templates through the store, authorized and audited."""

    def __init__(self, store: Store, *, audit_enabled: bool = True) -> None:
        self.store = store
        self.audit_enabled = audit_enabled

    # --- dashboards -------------------------------------------------------------------------

    def get(self, ref: str | int) -> SavedDashboard:
        """The saved dashboard with this numeric id or slug (no access check: callers authorize)."""
        with self.store.session() as session:
            return _saved(session, _dashboard_row(session, ref))

    def create(
        self, spec: DashboardSpec, owner: Principal, *, template_key: str | None = None
    ) -> SavedDashboard:
        """Save `spec` as a new dashboard owned by `owner` (version 1); its key becomes a free slug
        made from its title."""
        self._authorize(owner, "create", _new_resource("dashboard", owner), "create")
        with self.store.session() as session:
            slug = _free_slug(session, slugify(spec.title))
            spec = spec.model_copy(update={"key": slug})
            row = Dashboard(
                slug=slug,
                title=spec.title,
                spec=_dump(spec),
                version=1,
                owner_id=owner.id,
                template_key=template_key,
            )
            row.versions.append(DashboardVersion(version=1, spec=_dump(spec), author_id=owner.id))
            session.add(row)
            session.flush()
            saved = _saved(session, row)
        self._audit(owner, "create", saved.resource)
        return saved

    def save(
        self, ref: str | int, spec: DashboardSpec, base_version: int, author: Principal
    ) -> SavedDashboard:
        """Store `spec` as the next version of `ref` if it is still at `base_version`.

        Raises:
            StaleVersion: someone saved a newer version meanwhile; nothing was written.
            AccessDenied: `author` may not update this dashboard.
        """
        current = self.get(ref)
        self._authorize(author, "update", current.resource, "update")
        spec = spec.model_copy(update={"key": current.slug})
        with self.store.session() as session:
            new_version = base_version + 1
            changed = session.execute(
                update(Dashboard)
                .where(Dashboard.id == current.id, Dashboard.version == base_version)
                .values(
                    version=new_version, spec=_dump(spec), title=spec.title, updated_at=utcnow()
                )
            ).rowcount
            if changed != 1:
                stored = session.scalar(select(Dashboard.version).where(Dashboard.id == current.id))
                raise StaleVersion(current.title, base_version, stored or 0)
            session.add(
                DashboardVersion(
                    dashboard_id=current.id,
                    version=new_version,
                    spec=_dump(spec),
                    author_id=author.id,
                )
            )
            session.execute(
                delete(DashboardVersion).where(
                    DashboardVersion.dashboard_id == current.id,
                    DashboardVersion.version <= new_version - MAX_VERSIONS,
                )
            )
            saved = _saved(session, session.get(Dashboard, current.id, populate_existing=True))
        self._audit(author, "update", saved.resource, version=new_version)
        return saved

    def save_as(self, spec: DashboardSpec, title: str, owner: Principal) -> SavedDashboard:
        """`spec` (e.g. the builder's unsaved draft) as a new dashboard titled `title`."""
        return self.create(spec.model_copy(update={"title": title}), owner)

    def clone(self, ref: str, owner: Principal, *, title: str | None = None) -> SavedDashboard:
        """A new dashboard owned by `owner` copied from a saved dashboard or any template."""
        source, template_key = self._readable_spec(ref, owner)
        title = title or f"Copy of {source.title}"
        spec = source.model_copy(update={"title": title}, deep=True)
        return self.create(spec, owner, template_key=template_key)

    def delete(self, ref: str | int, principal: Principal) -> None:
        current = self.get(ref)
        self._authorize(principal, "delete", current.resource, "delete")
        with self.store.session() as session:
            session.execute(
                delete(DashboardVersion).where(DashboardVersion.dashboard_id == current.id)
            )
            session.execute(
                delete(DashboardView).where(DashboardView.dashboard_key == current.slug)
            )
            session.execute(delete(Dashboard).where(Dashboard.id == current.id))
        self._audit(principal, "delete", current.resource)

    def history(self, ref: str | int, principal: Principal) -> list[VersionInfo]:
        """The kept versions of `ref`, newest first (at most MAX_VERSIONS)."""
        current = self.get(ref)
        self._authorize(principal, "read", current.resource, "view")
        with self.store.session() as session:
            rows = session.execute(
                select(DashboardVersion, User.username)
                .outerjoin(User, User.id == DashboardVersion.author_id)
                .where(DashboardVersion.dashboard_id == current.id)
                .order_by(DashboardVersion.version.desc())
            ).all()
            return [
                VersionInfo(v.version, name, _utc(v.created_at), len(v.spec.get("widgets", [])))
                for v, name in rows
            ]

    def version_spec(self, ref: str | int, version: int) -> DashboardSpec:
        current = self.get(ref)
        with self.store.session() as session:
            row = session.scalar(
                select(DashboardVersion).where(
                    DashboardVersion.dashboard_id == current.id, DashboardVersion.version == version
                )
            )
            if row is None:
                raise DashboardNotFound(
                    f"Version {version} of “{current.title}” is not kept any more "
                    f"(the last {MAX_VERSIONS} versions are)."
                )
            return DashboardSpec.model_validate(row.spec)

    def restore(
        self, ref: str | int, version: int, base_version: int, author: Principal
    ) -> SavedDashboard:
        """Save the spec of an earlier `version` as the next version (optimistic, as `save`)."""
        return self.save(ref, self.version_spec(ref, version), base_version, author)

    def readable(self, principal: Principal) -> list[SavedDashboard]:
        """Saved dashboards `principal` may read, by title."""
        with self.store.session() as session:
            rows = session.scalars(select(Dashboard).order_by(Dashboard.title)).all()
            saved = [_saved(session, row) for row in rows]
        return [d for d in saved if _allowed(principal, "read", d.resource)]

    def may(self, principal: Principal, action: str, resource: Resource) -> bool:
        return _allowed(principal, action, resource)

    # --- templates --------------------------------------------------------------------------

    def templates(self, principal: Principal | None = None) -> list[TemplateInfo]:
        """Built-in and saved templates (those `principal` may read when given), built-ins first."""
        found: dict[str, TemplateInfo] = {
            key: TemplateInfo(
                key, spec.title, spec.description, spec, True, None, Resource.template(key)
            )
            for key, spec in builtin_dashboards().items()
        }
        with self.store.session() as session:
            for row in session.scalars(select(Template).order_by(Template.name)):
                if row.key not in found:
                    found[row.key] = _template_info(session, row)
        items = sorted(found.values(), key=lambda t: (not t.builtin, t.name.lower()))
        if principal is None:
            return items
        return [t for t in items if _allowed(principal, "read", t.resource)]

    def template(self, key: str) -> TemplateInfo:
        builtin = builtin_dashboards().get(key)
        if builtin is not None:
            return TemplateInfo(
                key, builtin.title, builtin.description, builtin, True, None, Resource.template(key)
            )
        with self.store.session() as session:
            row = session.scalar(select(Template).where(Template.key == key))
            if row is None:
                raise DashboardNotFound(f"No template named {key!r}.")
            return _template_info(session, row)

    def create_template(
        self, ref: str | int, principal: Principal, *, name: str, description: str = ""
    ) -> TemplateInfo:
        """A new saved template from the saved dashboard `ref` (which `principal` may read)."""
        source = self.get(ref)
        self._authorize(principal, "read", source.resource, "view")
        return self._new_template(source.spec, principal, name, description)

    def clone_template(
        self, key: str, principal: Principal, *, name: str | None = None
    ) -> TemplateInfo:
        """A saved, editable copy of any template (built-ins included)."""
        source = self.template(key)
        self._authorize(principal, "read", source.resource, "view")
        return self._new_template(
            source.spec, principal, name or f"Copy of {source.name}", source.description
        )

    def update_template(
        self,
        key: str,
        principal: Principal,
        *,
        name: str | None = None,
        description: str | None = None,
        spec: DashboardSpec | None = None,
    ) -> TemplateInfo:
        current = self._editable_template(key, principal, "update")
        with self.store.session() as session:
            row = session.scalar(select(Template).where(Template.key == key))
            new_spec = spec or current.spec
            if name is not None:
                row.name = name.strip() or row.name
            if description is not None:
                row.description = description
            new_spec = new_spec.model_copy(
                update={"key": key, "title": row.name, "description": row.description or ""}
            )
            row.spec = _dump(new_spec)
            session.flush()
            info = _template_info(session, row)
        self._audit(principal, "update", info.resource)
        return info

    def delete_template(self, key: str, principal: Principal) -> None:
        current = self._editable_template(key, principal, "delete")
        with self.store.session() as session:
            session.execute(delete(Template).where(Template.key == key))
            session.execute(delete(DashboardView).where(DashboardView.dashboard_key == key))
        self._audit(principal, "delete", current.resource)

    # --- recently viewed ----------------------------------------------------------------------

    def record_view(self, user: Principal, key: str, *, at: datetime | None = None) -> None:
        """Remember that `user` opened the dashboard or template `key` (one row per pair)."""
        moment = at or datetime.now(UTC)
        for _attempt in range(2):  # a concurrent first view may win the insert: update then
            try:
                with self.store.session() as session:
                    row = session.scalar(
                        select(DashboardView).where(
                            DashboardView.user_id == user.id, DashboardView.dashboard_key == key
                        )
                    )
                    if row is None:
                        session.add(
                            DashboardView(user_id=user.id, dashboard_key=key, viewed_at=moment)
                        )
                    else:
                        row.viewed_at = moment
                return
            except IntegrityError:
                continue

    def recent(self, user: Principal, limit: int = MAX_RECENT) -> list[tuple[str, datetime]]:
        """(key, viewed_at) of what `user` opened, most recent first."""
        with self.store.session() as session:
            rows = session.execute(
                select(DashboardView.dashboard_key, DashboardView.viewed_at)
                .where(DashboardView.user_id == user.id)
                .order_by(DashboardView.viewed_at.desc(), DashboardView.id.desc())
                .limit(limit)
            ).all()
        return [(key, _utc(at)) for key, at in rows]

    def openable(self, principal: Principal) -> list[Openable]:
        """Dashboards and templates `principal` may open: recently viewed first, then by title."""
        viewed = dict(self.recent(principal, limit=500))
        items = [
            Openable(
                d.slug,
                d.title,
                d.spec.description,
                "dashboard",
                viewed.get(d.slug),
                _allowed(principal, "update", d.resource),
            )
            for d in self.readable(principal)
        ]
        items += [
            Openable(
                t.key,
                t.name,
                t.description,
                "template",
                viewed.get(t.key),
                not t.builtin and _allowed(principal, "update", t.resource),
            )
            for t in self.templates(principal)
        ]
        never = datetime.min.replace(tzinfo=UTC)
        items.sort(key=lambda o: o.title.lower())
        items.sort(key=lambda o: o.viewed_at or never, reverse=True)
        return items

    # --- helpers ------------------------------------------------------------------------------

    def _readable_spec(self, ref: str, principal: Principal) -> tuple[DashboardSpec, str | None]:
        """The spec behind `ref` (a template key or a saved dashboard), checked for read."""
        try:
            template = self.template(ref)
        except DashboardNotFound:
            source = self.get(ref)
            self._authorize(principal, "read", source.resource, "view")
            return source.spec, source.template_key
        self._authorize(principal, "read", template.resource, "view")
        return template.spec, template.key

    def _new_template(
        self, spec: DashboardSpec, principal: Principal, name: str, description: str
    ) -> TemplateInfo:
        self._authorize(principal, "create", _new_resource("template", principal), "create")
        name = name.strip() or spec.title
        with self.store.session() as session:
            key = _free_template_key(session, slugify(name))
            spec = spec.model_copy(
                update={"key": key, "title": name, "description": description}, deep=True
            )
            row = Template(
                key=key,
                name=name,
                description=description,
                spec=_dump(spec),
                builtin=False,
                owner_id=principal.id,
            )
            session.add(row)
            session.flush()
            info = _template_info(session, row)
        self._audit(principal, "create", info.resource)
        return info

    def _editable_template(self, key: str, principal: Principal, action: str) -> TemplateInfo:
        current = self.template(key)
        if current.builtin:
            raise ReadOnlyTemplate(
                f"“{current.name}” is a built-in template: clone it to make your own version."
            )
        self._authorize(principal, action, current.resource, action)
        return current

    def _authorize(
        self, principal: Principal, action: str, resource: Resource, audit_action: str
    ) -> None:
        try:
            authorize(principal, action, resource)
        except AccessDenied:
            self._audit(principal, audit_action, resource, outcome="denied")
            raise

    def _audit(
        self,
        principal: Principal,
        action: str,
        resource: Resource,
        *,
        outcome: audit.Outcome = "ok",
        **detail: object,
    ) -> None:
        audit.record(
            self.store,
            principal=principal,
            action=action,
            target=resource.label(),
            outcome=outcome,
            detail=detail,
            enabled=self.audit_enabled,
        )


def _allowed(principal: Principal, action: str, resource: Resource) -> bool:
    try:
        authorize(principal, action, resource)
    except AccessDenied:
        return False
    return True


def _new_resource(kind: str, owner: Principal) -> Resource:
    return Resource(kind, None, department=owner.department, owner_id=owner.id)


def _dashboard_row(session: Session, ref: str | int) -> Dashboard:
    text = str(ref)
    query = select(Dashboard).where(
        Dashboard.id == int(text) if text.isdigit() else Dashboard.slug == text
    )
    row = session.scalar(query)
    if row is None:
        raise DashboardNotFound(f"No saved dashboard named {text!r}.")
    return row


def _department(session: Session, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    return session.scalar(select(User.department).where(User.id == user_id))


def _saved(session: Session, row: Dashboard) -> SavedDashboard:
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
        updated_at=_utc(row.updated_at),
        resource=resource,
    )


def _template_info(session: Session, row: Template) -> TemplateInfo:
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


def _free_slug(session: Session, wanted: str) -> str:
    taken = set(session.scalars(select(Dashboard.slug).where(Dashboard.slug.startswith(wanted))))
    taken |= set(builtin_dashboards()) | set(
        session.scalars(select(Template.key).where(Template.key.startswith(wanted)))
    )
    return _first_free(wanted, taken)


def _free_template_key(session: Session, wanted: str) -> str:
    taken = set(session.scalars(select(Template.key).where(Template.key.startswith(wanted))))
    taken |= set(builtin_dashboards()) | set(
        session.scalars(select(Dashboard.slug).where(Dashboard.slug.startswith(wanted)))
    )
    return _first_free(wanted, taken)


def _first_free(wanted: str, taken: set[str]) -> str:
    if wanted not in taken:
        return wanted
    n = 2
    while f"{wanted}-{n}" in taken:
        n += 1
    return f"{wanted}-{n}"


def _dump(spec: DashboardSpec) -> dict:
    return spec.model_dump(mode="json")


def _utc(moment: datetime) -> datetime:
    """Aware UTC (SQLite hands back naive datetimes, which the store always writes in UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
