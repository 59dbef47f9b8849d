"""`Dashboards`: saved dashboards (optimistic saves, kept versions, clone, delete, restore) and what
each user viewed last; the template operations come from `TemplateOps`."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from engine.dashboards.records import (
    DashboardError,
    DashboardNotFound,
    Openable,
    SavedDashboard,
    StaleVersion,
    VersionInfo,
)
from engine.dashboards.rows import (
    allowed,
    dump,
    free_slug,
    new_resource,
    saved_dashboard,
    slugify,
    utc,
)
from engine.dashboards.templates import TemplateOps
from engine.names import clean_name, numbered
from engine.spec import DashboardSpec
from security.policy import Resource
from security.users import Principal
from store.models import Dashboard, DashboardVersion, DashboardView, User, utcnow

MAX_VERSIONS = 15
MAX_RECENT = 20


class Dashboards(TemplateOps):
    """CRUD of saved dashboards and templates through the store, authorized and audited."""

    # --- dashboards -------------------------------------------------------------------------

    def create(
        self, spec: DashboardSpec, owner: Principal, *, template_key: str | None = None
    ) -> SavedDashboard:
        """Save `spec` as a new dashboard owned by `owner` (version 1). Its title is trimmed and
        numbered when another saved dashboard has it ("Revenue (2)"); its key becomes a free slug
        made from that title."""
        self._authorize(owner, "create", new_resource("dashboard", owner), "create")
        title = clean_name(spec.title, "dashboard title", error=DashboardError)
        with self.store.session() as session:
            slug = free_slug(session, slugify(title))  # from the title as typed: "revenue-3"
            title = numbered(title, session.scalars(select(Dashboard.title)))
            spec = spec.model_copy(update={"key": slug, "title": title})
            row = Dashboard(
                slug=slug,
                title=spec.title,
                spec=dump(spec),
                version=1,
                owner_id=owner.id,
                template_key=template_key,
            )
            row.versions.append(DashboardVersion(version=1, spec=dump(spec), author_id=owner.id))
            session.add(row)
            session.flush()
            saved = saved_dashboard(session, row)
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
        title = clean_name(spec.title, "dashboard title", error=DashboardError)
        spec = spec.model_copy(update={"key": current.slug, "title": title})
        with self.store.session() as session:
            new_version = base_version + 1
            changed = session.execute(
                update(Dashboard)
                .where(Dashboard.id == current.id, Dashboard.version == base_version)
                .values(version=new_version, spec=dump(spec), title=spec.title, updated_at=utcnow())
            ).rowcount
            if changed != 1:
                stored = session.scalar(select(Dashboard.version).where(Dashboard.id == current.id))
                raise StaleVersion(current.title, base_version, stored or 0)
            session.add(
                DashboardVersion(
                    dashboard_id=current.id,
                    version=new_version,
                    spec=dump(spec),
                    author_id=author.id,
                )
            )
            session.execute(
                delete(DashboardVersion).where(
                    DashboardVersion.dashboard_id == current.id,
                    DashboardVersion.version <= new_version - MAX_VERSIONS,
                )
            )
            saved = saved_dashboard(
                session, session.get(Dashboard, current.id, populate_existing=True)
            )
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
                VersionInfo(v.version, name, utc(v.created_at), len(v.spec.get("widgets", [])))
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
            saved = [saved_dashboard(session, row) for row in rows]
        return [d for d in saved if allowed(principal, "read", d.resource)]

    def may(self, principal: Principal, action: str, resource: Resource) -> bool:
        return allowed(principal, action, resource)

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
        return [(key, utc(at)) for key, at in rows]

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
                allowed(principal, "update", d.resource),
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
                not t.builtin and allowed(principal, "update", t.resource),
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
