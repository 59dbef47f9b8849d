"""Delivery channels for scheduled reports: email (SMTP), webhook (signed), file storage, portal."""

from __future__ import annotations

from typing import Any

from delivery.base import Channel, DeliveryError, RetryPolicy
from delivery.email import EmailChannel, EmailDeliveryError, SmtpConfig
from delivery.portal import PortalChannel
from delivery.storage import StorageChannel, StorageDeliveryError
from delivery.webhook import WebhookChannel, WebhookDeliveryError
from settings import Settings
from store import Store

__all__ = [
    "DeliveryError",
    "EmailChannel",
    "EmailDeliveryError",
    "PortalChannel",
    "RetryPolicy",
    "SmtpConfig",
    "StorageChannel",
    "StorageDeliveryError",
    "WebhookChannel",
    "WebhookDeliveryError",
    "default_channels",
]


def default_channels(settings: Settings, store: Store, **overrides: Any) -> dict[str, Channel]:
    """The channels the settings enable, keyed by name (email, webhook, storage, portal).

    A disabled channel is left out: the scheduler records its recipients as skipped, with the
    variable that disables it. `overrides` replaces a channel (tests, S3 clients).
    """
    channels: dict[str, Channel] = {}
    if settings.report_portal_enabled:
        channels["portal"] = PortalChannel(store)
    if settings.email_delivery_enabled:
        channels["email"] = EmailChannel(SmtpConfig.from_settings(settings))
    if settings.webhook_delivery_enabled:
        channels["webhook"] = WebhookChannel(
            default_secret=settings.webhook_secret, allowed_hosts=settings.webhook_allowed_hosts
        )
    if settings.file_storage_enabled:
        channels["storage"] = StorageChannel(settings.instance / "deliveries")
    channels.update(overrides)
    return channels
