"""Portal delivery: the run appears in a user's report history (a row in the metadata store)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from delivery.base import Bundle, DeliveryError, DeliveryResult, Recipient
from store import Store
from store.models import PortalItem, User


class PortalDeliveryError(DeliveryError):
    channel = "portal"


class PortalChannel:
    """Records the run in the history of the recipient user (an id or a username); idempotent."""

    name = "portal"

    def __init__(self, store: Store, may_receive: Callable[[int, int], bool] | None = None) -> None:
        """`may_receive(user_id, run_id)`: whether the user's rights cover the run's file (the
        schedule owner's rows and personal data); a user who may not is refused, so no report
        history shows a file its reader could not open."""
        self.store = store
        self.may_receive = may_receive

    def send(self, bundle: Bundle, recipient: Recipient) -> DeliveryResult:
        with self.store.session() as session:
            address = recipient.address
            query = (
                select(User.id).where(User.id == int(address))
                if address.isdigit()
                else select(User.id).where(User.username == address)
            )
            user_id = session.scalar(query)
            if user_id is None:
                raise PortalDeliveryError(f"no user {address!r} to add the report to")
            if self.may_receive is not None and not self.may_receive(user_id, bundle.run_id):
                raise PortalDeliveryError(
                    f"{address!r} may not see this report with the owner's rows and personal data"
                )
            item = session.scalar(
                select(PortalItem).where(
                    PortalItem.user_id == user_id, PortalItem.run_id == bundle.run_id
                )
            )
            if item is None:
                item = PortalItem(
                    user_id=user_id,
                    run_id=bundle.run_id,
                    title=f"{bundle.schedule_name} — {bundle.period_label}",
                    report_ref=bundle.report_ref,
                    files=[
                        {
                            "name": a.name,
                            "content_type": a.content_type,
                            "size": a.size,
                            "sha256": a.sha256,
                            "url": bundle.links.get(a.name),
                        }
                        for a in bundle.artifacts
                    ],
                )
                session.add(item)
                session.flush()
            return DeliveryResult(
                self.name, recipient.label, 1, {"portal_item_id": item.id, "user_id": user_id}
            )
