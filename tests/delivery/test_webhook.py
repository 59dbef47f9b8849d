"""Webhook delivery against a real HTTP server on loopback: signature, payload, retries."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from delivery.base import RetryPolicy
from delivery.webhook import WebhookChannel, WebhookDeliveryError, verify_signature
from engine.schedules import Recipient
from tests.delivery.helpers import CSV, make_bundle
from tests.delivery.servers import free_port, webhook_server_fixture  # noqa: F401 - fixture

SECRET = "whsec-test-1234"
FAST = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05)


def channel(sleeps: list[float] | None = None, **kwargs) -> WebhookChannel:
    return WebhookChannel(
        retry=FAST,
        timeout=2,
        allowed_hosts=("127.0.0.1",),  # the receivers run on loopback (test_webhook_ssrf.py)
        sleep=(sleeps.append if sleeps is not None else lambda _s: None),
        **kwargs,
    )


def test_webhook_receives_a_payload_whose_signature_verifies(webhook_server, tmp_path):
    bundle = make_bundle(
        tmp_path, links={"revenue.csv": "https://reports.example/runs/42/revenue.csv"}
    )

    result = channel().send(
        bundle, Recipient("webhook", webhook_server.url + "/hook", {"secret": SECRET})
    )

    [request] = webhook_server.requests
    signature = request.headers["X-Nexpo-Signature"]
    # The receiver's own computation, straight from the documented scheme.
    expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert signature == expected
    assert verify_signature(SECRET, request.body, signature, request.headers["X-Nexpo-Timestamp"])
    assert not verify_signature(
        "wrong-secret", request.body, signature, request.headers["X-Nexpo-Timestamp"]
    )
    body = json.loads(request.body)
    assert body["schedule"] == {"id": 7, "name": "Weekly revenue"}
    assert body["run"] == {"id": 42, "due_at": "2026-03-30T07:00:00+00:00"}
    assert body["report"]["ref"] == "revenue_analytics"
    assert body["period"] == "7d"
    assert body["period_label"] == "Mar 23 – Mar 29, 2026 (Europe/Berlin)"
    assert body["window"] == {"start": "2026-03-23", "end": "2026-03-29"}
    assert body["files"] == [
        {
            "name": "revenue.csv",
            "content_type": "text/csv",
            "size": len(CSV),
            "sha256": hashlib.sha256(CSV.encode()).hexdigest(),
            "url": "https://reports.example/runs/42/revenue.csv",
        }
    ]
    assert str(body["sent_at"]) == request.headers["X-Nexpo-Timestamp"]
    assert result.detail["status"] == 200 and result.attempts == 1


def test_replayed_or_tampered_requests_do_not_verify(webhook_server, tmp_path):
    channel().send(
        make_bundle(tmp_path), Recipient("webhook", webhook_server.url, {"secret": SECRET})
    )
    [request] = webhook_server.requests
    sig, ts = request.headers["X-Nexpo-Signature"], request.headers["X-Nexpo-Timestamp"]

    assert not verify_signature(SECRET, request.body, sig, ts, now=int(ts) + 301)  # too old: replay
    assert not verify_signature(
        SECRET, request.body, sig, str(int(ts) + 1000), now=int(ts) + 1000
    )  # re-stamped
    assert not verify_signature(SECRET, request.body.replace(b"7d", b"9d"), sig, ts)  # tampered


def test_5xx_is_retried_with_backoff_until_it_succeeds(webhook_server, tmp_path):
    webhook_server.statuses = [503, 500]
    sleeps: list[float] = []

    result = channel(sleeps).send(
        make_bundle(tmp_path), Recipient("webhook", webhook_server.url, {"secret": SECRET})
    )

    assert result.attempts == 3
    assert len(webhook_server.requests) == 3
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0] * 1.5
    ids = {r.headers["X-Nexpo-Delivery"] for r in webhook_server.requests}
    assert len(ids) == 1  # receivers can drop duplicates by delivery id


def test_4xx_fails_at_once_without_retrying(webhook_server, tmp_path):
    webhook_server.statuses = [400]
    with pytest.raises(WebhookDeliveryError) as failure:
        channel().send(
            make_bundle(tmp_path), Recipient("webhook", webhook_server.url, {"secret": SECRET})
        )

    assert failure.value.status == 400 and failure.value.attempts == 1
    assert len(webhook_server.requests) == 1


def test_persistent_5xx_gives_up_after_the_last_attempt(webhook_server, tmp_path):
    webhook_server.statuses = [502] * 10
    with pytest.raises(WebhookDeliveryError) as failure:
        channel().send(
            make_bundle(tmp_path), Recipient("webhook", webhook_server.url, {"secret": SECRET})
        )

    assert failure.value.attempts == 4 and len(webhook_server.requests) == 4
    assert "HTTP 502" in failure.value.user_message


def test_connection_refused_is_retried(tmp_path):
    sleeps: list[float] = []
    with pytest.raises(WebhookDeliveryError) as failure:
        channel(sleeps).send(
            make_bundle(tmp_path),
            Recipient("webhook", f"http://127.0.0.1:{free_port()}/", {"secret": SECRET}),
        )
    assert failure.value.attempts == 4 and len(sleeps) == 3
    assert "could not connect" in failure.value.user_message


def test_a_webhook_without_a_secret_is_refused(tmp_path):
    with pytest.raises(WebhookDeliveryError, match="no signing secret"):
        channel().send(make_bundle(tmp_path), Recipient("webhook", "http://127.0.0.1:1/"))
