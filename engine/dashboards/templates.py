"""Templates in the store: built-ins (read and clone only) and saved ones (create, edit, delete)."""

from __future__ import annotations

from sqlalchemy import delete, select

from engine.dashboards.base import DashboardsBase
from engine.dashboards.records import (
    DashboardError,
    DashboardNotFound,
    ReadOnlyTemplate,
    TemplateInfo,
)
from engine.dashboards.rows import (
    allowed,
    dump,
    free_template_key,
    new_resource,
    slugify,
    template_info,
)
from engine.names import clean_name, numbered
from engine.spec import DashboardSpec
from engine.templates import builtin_dashboards
from security.policy import Resource
from security.users import Principal
from store.models import DashboardView, Template


class TemplateOps(DashboardsBase):
    """The template operations of `Dashboards`, authorized and audited."""

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
                    found[row.key] = template_info(session, row)
        items = sorted(found.values(), key=lambda t: (not t.builtin, t.name.lower()))
        if principal is None:
            return items
        return [t for t in items if allowed(principal, "read", t.resource)]

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
            return template_info(session, row)

    def create_template(
        self, ref: str | int, principal: Principal, *, name: str, description: str = ""
    ) -> TemplateInfo:
        """A new saved template from the saved dashboard `ref` (which `principal` may read)."""
        source = self.get(ref)
        self._authorize(principal, "read", source.resource, "view")
        return self._new_template(source.spec, principal, name, description)

    def create_template_from_spec(self, spec: DashboardSpec, principal: Principal) -> TemplateInfo:
        """A new saved template from a spec (the API's POST /api/templates); its key is made
        from its title."""
        return self._new_template(spec, principal, spec.title, spec.description)

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
        if name is not None:
            name = clean_name(name, "template name", error=DashboardError)
        with self.store.session() as session:
            row = session.scalar(select(Template).where(Template.key == key))
            new_spec = spec or current.spec
            if name is not None:
                row.name = name
            if description is not None:
                row.description = description
            new_spec = new_spec.model_copy(
                update={"key": key, "title": row.name, "description": row.description or ""}
            )
            row.spec = dump(new_spec)
            session.flush()
            info = template_info(session, row)
        self._audit(principal, "update", info.resource)
        return info

    def delete_template(self, key: str, principal: Principal) -> None:
        current = self._editable_template(key, principal, "delete")
        with self.store.session() as session:
            session.execute(delete(Template).where(Template.key == key))
            session.execute(delete(DashboardView).where(DashboardView.dashboard_key == key))
        self._audit(principal, "delete", current.resource)

    def _new_template(
        self, spec: DashboardSpec, principal: Principal, name: str, description: str
    ) -> TemplateInfo:
        self._authorize(principal, "create", new_resource("template", principal), "create")
        name = clean_name(name, "template name", error=DashboardError)
        with self.store.session() as session:
            taken = [t.title for t in builtin_dashboards().values()]
            key = free_template_key(session, slugify(name))
            name = numbered(name, [*taken, *session.scalars(select(Template.name))])
            spec = spec.model_copy(
                update={"key": key, "title": name, "description": description}, deep=True
            )
            row = Template(
                key=key,
                name=name,
                description=description,
                spec=dump(spec),
                builtin=False,
                owner_id=principal.id,
            )
            session.add(row)
            session.flush()
            info = template_info(session, row)
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
