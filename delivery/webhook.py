"""Webhook delivery: a signed JSON POST, retried with exponential backoff on 5xx and network errors.

Every hop's address is checked before it is connected to (delivery/egress.py): loopback, private,
link-local, multicast and similar addresses are refused unless WEBHOOK_ALLOWED_HOSTS lists them.

Receivers verify a request with `verify_signature`:
  * `X-Nexpo-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the webhook secret>`
  * `X-Nexpo-Timestamp: <unix seconds>`, also present as `sent_at` inside the signed body, so a
    replayed request is recognised by its age (reject anything older than 5 minutes) and cannot be
    re-stamped without breaking the signature.
  * `X-Nexpo-Delivery: <id>` is the same on every retry of one delivery: use it to drop duplicates.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from delivery import egress
from delivery.base import (
    Bundle,
    DeliveryError,
    DeliveryResult,
    Recipient,
    RetryPolicy,
    TransientError,
    with_retries,
)

SIGNATURE_HEADER = "X-Nexpo-Signature"
TIMESTAMP_HEADER = "X-Nexpo-Timestamp"
DELIVERY_HEADER = "X-Nexpo-Delivery"
EVENT = "report.delivered"
# 408 Request Timeout and 429 Too Many Requests ask the client to come back: the only 4xx retried.
RETRYABLE_4XX = frozenset({408, 429})


WEBHOOK_RETRY = RetryPolicy(attempts=4, base_delay=1.0)


class WebhookDeliveryError(DeliveryError):
    channel = "webhook"

    def __init__(self, user_message: str, *, status: int | None = None, **kwargs: Any) -> None:
        super().__init__(user_message, **kwargs)
        self.status = status


def sign(secret: str, body: bytes) -> str:
    """The signature header value for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    *,
    now: float | None = None,
    tolerance: float = 300,
) -> bool:
    """True when `signature` matches `body` and the signed `sent_at` equals `timestamp` and is
    fresh (within `tolerance` seconds of `now`)."""
    if not signature or not timestamp or not hmac.compare_digest(sign(secret, body), signature):
        return False
    try:
        sent_at = int(json.loads(body)["sent_at"])
        stamped = int(timestamp)
    except (ValueError, KeyError, TypeError):
        return False
    current = time.time() if now is None else now
    return sent_at == stamped and abs(current - sent_at) <= tolerance


def payload(bundle: Bundle, *, sent_at: int, delivery_id: str) -> dict[str, Any]:
    """The JSON document POSTed for one run."""
    return {
        "event": EVENT,
        "delivery_id": delivery_id,
        "sent_at": sent_at,
        "schedule": {"id": bundle.schedule_id, "name": bundle.schedule_name},
        "run": {"id": bundle.run_id, "due_at": bundle.due_at.isoformat()},
        "report": {"ref": bundle.report_ref, "params": dict(bundle.params)},
        "period": bundle.period,  # the schedule's period key ("7d", "previous_month")
        "period_label": bundle.period_label,  # "Nov 16 – Nov 22, 2026 (Europe/Berlin)"
        "window": (
            {"start": window.start.isoformat(), "end": window.end.isoformat()}
            if (window := bundle.window) is not None
            else None
        ),
        "files": [
            {
                "name": a.name,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
                "url": bundle.links.get(a.name),
            }
            for a in bundle.artifacts
        ],
    }


class WebhookChannel:
    """POSTs the run's payload to the recipient URL, signed with its secret (the recipient's
    `secret` option, else the channel's `default_secret`)."""

    name = "webhook"

    def __init__(
        self,
        *,
        default_secret: str = "",
        timeout: float = 10.0,
        retry: RetryPolicy = WEBHOOK_RETRY,
        allowed_hosts: Iterable[str] = (),
        resolver: egress.Resolver | None = None,
        ca_certs: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.default_secret = default_secret
        self.timeout = timeout
        self.retry = retry
        self.allow = egress.AllowList.parse(allowed_hosts)
        self.resolver = resolver
        self.ca_certs = ca_certs
        self._sleep = sleep
        self._clock = clock

    def send(self, bundle: Bundle, recipient: Recipient) -> DeliveryResult:
        url = recipient.address
        try:
            host = egress.parse_target(url).host_header
        except egress.EgressRefused as exc:
            raise WebhookDeliveryError(f"webhook refused: {exc.user_message}") from None
        secret = str(recipient.options.get("secret") or self.default_secret)
        if not secret:
            raise WebhookDeliveryError("the webhook has no signing secret")
        delivery_id = f"run-{bundle.run_id}-{hashlib.sha256(url.encode()).hexdigest()[:12]}"

        def attempt(_number: int) -> int:
            sent_at = int(self._clock())
            body = json.dumps(
                payload(bundle, sent_at=sent_at, delivery_id=delivery_id), separators=(",", ":")
            ).encode()
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "Nexpo-Reports-Webhook/1",
                SIGNATURE_HEADER: sign(secret, body),
                TIMESTAMP_HEADER: str(sent_at),
                DELIVERY_HEADER: delivery_id,
            }
            try:
                status = egress.post(
                    url,
                    body,
                    headers,
                    allow=self.allow,
                    timeout=self.timeout,
                    resolver=self.resolver,
                    ca_certs=self.ca_certs,
                )
            except egress.EgressRefused as exc:
                # Permanent, and nothing was sent: no status, no answer to report.
                raise WebhookDeliveryError(f"webhook refused: {exc.user_message}") from None
            except egress.EgressFailed as exc:
                # One message for refused, reset, timeout, TLS and DNS: no port or status oracle.
                raise TransientError(
                    f"{exc.user_message} (or it did not answer within {self.timeout:g}s)"
                ) from None
            if 200 <= status < 300:
                return status
            if status >= 500 or status in RETRYABLE_4XX:
                raise TransientError(f"{host} answered HTTP {status}")
            raise WebhookDeliveryError(f"{host} answered HTTP {status}", status=status)

        status, attempts = with_retries(attempt, self.retry, _fail, sleep=self._sleep)
        return DeliveryResult(
            self.name,
            recipient.label,
            attempts,
            {"status": status, "delivery_id": delivery_id},
        )


def _fail(reason: str, attempts: int) -> WebhookDeliveryError:
    return WebhookDeliveryError(reason, attempts=attempts, retryable=True)


def secrets_of(recipients: Mapping[str, Any]) -> list[str]:
    """The signing secrets in a schedule's recipients (to redact them from API responses)."""
    return [
        str(e["secret"])
        for e in recipients.get("webhook", [])
        if isinstance(e, Mapping) and e.get("secret")
    ]
