"""Email delivery over SMTP: one message per recipient, files attached or linked when too large."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from delivery.base import (
    Bundle,
    DeliveryError,
    DeliveryResult,
    Recipient,
    RetryPolicy,
    TransientError,
    with_retries,
)
from settings import Settings

DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


EMAIL_RETRY = RetryPolicy(attempts=3, base_delay=2.0)


class EmailDeliveryError(DeliveryError):
    channel = "email"


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 25
    user: str = ""
    password: str = ""
    use_tls: bool = False
    sender: str = "reports@nexpo.local"
    timeout: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig:
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            user=settings.smtp_user,
            password=settings.smtp_password,
            use_tls=settings.smtp_use_tls,
            sender=settings.smtp_from,
        )


class EmailChannel:
    """Sends a run's files by email.

    Files are attached while their total size is at most `max_attachment_bytes`; beyond that each
    file with a download link (`bundle.links`) is linked instead of attached. Connection failures,
    timeouts and 4xx SMTP replies are retried with backoff; 5xx replies (unknown mailbox, rejected
    login) fail at once.
    """

    name = "email"

    def __init__(
        self,
        config: SmtpConfig,
        *,
        max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
        retry: RetryPolicy = EMAIL_RETRY,
        sleep: Any = None,
    ) -> None:
        self.config = config
        self.max_attachment_bytes = max_attachment_bytes
        self.retry = retry
        self._sleep = sleep

    def send(self, bundle: Bundle, recipient: Recipient) -> DeliveryResult:
        message = self.build_message(bundle, recipient.address)
        kwargs = {"sleep": self._sleep} if self._sleep else {}
        response, attempts = with_retries(
            lambda _attempt: self._submit(message), self.retry, self._fail, **kwargs
        )
        return DeliveryResult(
            self.name,
            recipient.label,
            attempts,
            {
                "message_id": message["Message-ID"],
                "attached": message.get("X-Nexpo-Attached", ""),
                "smtp": response,
            },
        )

    def build_message(self, bundle: Bundle, to: str) -> EmailMessage:
        """The MIME message for one recipient."""
        message = EmailMessage()
        message["Subject"] = f"{bundle.schedule_name} — {bundle.period_label}"
        message["From"] = self.config.sender
        message["To"] = to
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(
            idstring=f"run{bundle.run_id}", domain=self.config.sender.rpartition("@")[2] or None
        )
        message["X-Nexpo-Run"] = str(bundle.run_id)
        total = sum(a.size for a in bundle.artifacts)
        attach = total <= self.max_attachment_bytes
        lines = [
            f"Your scheduled report “{bundle.schedule_name}” ({bundle.report_ref}) "
            f"for {bundle.period_label}.",
            "",
        ]
        attached: list[str] = []
        for artifact in bundle.artifacts:
            link = bundle.links.get(artifact.name)
            if attach or not link:
                # No link to offer: attach even a large file rather than send nothing.
                attached.append(artifact.name)
                lines.append(f"• {artifact.name} ({_size(artifact.size)}) — attached")
            else:
                lines.append(f"• {artifact.name} ({_size(artifact.size)}) — download: {link}")
        if not bundle.artifacts:
            lines.append("The report produced no files.")
        message.set_content("\n".join(lines) + "\n")
        for artifact in bundle.artifacts:
            if artifact.name in attached:
                maintype, _, subtype = artifact.content_type.partition("/")
                message.add_attachment(
                    artifact.path.read_bytes(),
                    maintype=maintype or "application",
                    subtype=subtype or "octet-stream",
                    filename=artifact.name,
                )
        message["X-Nexpo-Attached"] = ",".join(attached)
        return message

    def _submit(self, message: EmailMessage) -> str:
        c = self.config
        try:
            with smtplib.SMTP(c.host, c.port, timeout=c.timeout) as smtp:
                smtp.ehlo()
                if c.use_tls:
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if c.user:
                    smtp.login(c.user, c.password)
                refused = smtp.send_message(message)
                if refused:
                    raise EmailDeliveryError(f"the SMTP server refused {', '.join(refused)}")
                return "accepted"
        except smtplib.SMTPRecipientsRefused as exc:
            codes = {code for code, _ in exc.recipients.values()}
            if all(400 <= code < 500 for code in codes):
                raise TransientError(
                    f"the SMTP server deferred the recipient ({sorted(codes)})"
                ) from exc
            raise EmailDeliveryError(
                f"the SMTP server refused the recipient ({sorted(codes)})"
            ) from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise EmailDeliveryError(
                f"SMTP login as {c.user!r} was rejected ({exc.smtp_code})"
            ) from exc
        except smtplib.SMTPResponseException as exc:
            reason = f"the SMTP server replied {exc.smtp_code}"
            if 400 <= exc.smtp_code < 500:
                raise TransientError(reason) from exc
            raise EmailDeliveryError(reason) from exc
        except (
            smtplib.SMTPServerDisconnected,
            smtplib.SMTPConnectError,
            ConnectionError,
            TimeoutError,
        ) as exc:
            raise TransientError(
                f"SMTP server {c.host}:{c.port} unreachable ({type(exc).__name__})"
            ) from exc
        except OSError as exc:  # DNS failure, network unreachable
            raise TransientError(
                f"SMTP server {c.host}:{c.port} unreachable ({type(exc).__name__})"
            ) from exc

    @staticmethod
    def _fail(reason: str, attempts: int) -> EmailDeliveryError:
        return EmailDeliveryError(reason, attempts=attempts, retryable=True)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover
