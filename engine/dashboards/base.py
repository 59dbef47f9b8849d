"""The base of `Dashboards`: the store, reading a saved dashboard, and the authorize-and-audit step
every change goes through."""

from __future__ import annotations

from engine.dashboards.records import SavedDashboard
from engine.dashboards.rows import dashboard_row, saved_dashboard
from security import audit
from security.policy import AccessDenied, Resource, authorize
from security.users import Principal
from store import Store


class DashboardsBase:
    """The store and audit setting, `get`, and the authorize / audit helpers of `Dashboards`."""

    def __init__(self, store: Store, *, audit_enabled: bool = True) -> None:
        self.store = store
        self.audit_enabled = audit_enabled

    def get(self, ref: str | int) -> SavedDashboard:
        """The saved dashboard with this numeric id or slug (no access check: callers authorize)."""
        with self.store.session() as session:
            return saved_dashboard(session, dashboard_row(session, ref))

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
