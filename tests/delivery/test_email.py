"""Email delivery against a real aiosmtpd server on loopback."""

from __future__ import annotations

import csv
import io

import pytest

from delivery.base import RetryPolicy
from delivery.email import EmailChannel, EmailDeliveryError, SmtpConfig
from engine.schedules import Recipient
from tests.delivery.helpers import CSV, make_bundle
from tests.delivery.servers import free_port, smtp_server_fixture  # noqa: F401 - fixture

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02)


def channel(port: int, **kwargs) -> EmailChannel:
    return EmailChannel(
        SmtpConfig("127.0.0.1", port, sender="reports@nexpo.test", timeout=5), retry=FAST, **kwargs
    )


def test_email_arrives_with_the_csv_attached(smtp_server, tmp_path):
    result = channel(smtp_server.port).send(
        make_bundle(tmp_path), Recipient("email", "ana@example.com")
    )

    assert result.attempts == 1
    [message] = smtp_server.messages
    assert smtp_server.envelopes == [("reports@nexpo.test", ["ana@example.com"])]
    assert message["To"] == "ana@example.com"
    # Due Mon 30 Mar 2026 09:00 Berlin: the 7 complete days before, read in Berlin.
    assert message["Subject"] == "Weekly revenue — Mar 23 – Mar 29, 2026 (Europe/Berlin)"
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "revenue.csv"
    assert attachment.get_content_type() == "text/csv"
    content = attachment.get_content()
    text = content.decode() if isinstance(content, bytes) else content
    assert text == CSV
    assert list(csv.DictReader(io.StringIO(text)))[1] == {"month": "2026-02", "mrr": "1350.50"}
    assert result.detail["message_id"] == message["Message-ID"]


def test_file_over_the_size_limit_is_linked_not_attached(smtp_server, tmp_path):
    big = b"x" * 5000
    bundle = make_bundle(
        tmp_path,
        extra={"big.bin": big},
        links={"big.bin": "https://reports.example/runs/42/big.bin"},
    )

    channel(smtp_server.port, max_attachment_bytes=1000).send(
        bundle, Recipient("email", "ana@example.com")
    )

    [message] = smtp_server.messages
    names = [part.get_filename() for part in message.iter_attachments()]
    assert "big.bin" not in names
    assert "https://reports.example/runs/42/big.bin" in message.get_body(("plain",)).get_content()


def test_unreachable_server_is_retried_then_fails_with_the_reason(tmp_path):
    sleeps: list[float] = []
    port = free_port()  # nothing listens here

    with pytest.raises(EmailDeliveryError) as failure:
        channel(port, sleep=sleeps.append).send(
            make_bundle(tmp_path), Recipient("email", "ana@example.com")
        )

    assert failure.value.attempts == 3
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0] * 1.5  # exponential backoff
    assert f"127.0.0.1:{port} unreachable" in failure.value.user_message
    assert "gave up after 3 attempts" in failure.value.user_message


def test_permanent_recipient_refusal_is_not_retried(smtp_server, tmp_path):
    async def refuse(server, session, envelope, address, rcpt_options):
        return "550 5.1.1 No such user"

    smtp_server.handle_RCPT = refuse
    sleeps: list[float] = []
    with pytest.raises(EmailDeliveryError) as failure:
        channel(smtp_server.port, sleep=sleeps.append).send(
            make_bundle(tmp_path), Recipient("email", "ghost@example.com")
        )

    assert failure.value.attempts == 1 and sleeps == []
    assert "refused the recipient ([550])" in failure.value.user_message
