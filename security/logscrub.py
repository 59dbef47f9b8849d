"""No secrets or PII in the logs: a logging filter that scrubs every record before it is written.

`ScrubFilter` rewrites each record's message (and a formatted traceback) with
`security.audit.scrub_text`: API tokens (`nxp_...`), bearer credentials, signed blobs (embed tokens,
session cookies), `password=...`-style pairs and URL passwords are redacted, e-mail addresses are
masked. It runs on every handler of the root logger and on the loggers that write request lines
themselves (werkzeug's and gunicorn's access logs would otherwise print `/embed/<token>` URLs).
"""

from __future__ import annotations

import logging

from security.audit import scrub_text

# Loggers that may have their own handlers (request lines with URLs in them).
REQUEST_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")


def scrub_message(text: str) -> str:
    """`text` scrubbed line by line (scrub_text cuts one string at 500 characters, not a traceback)."""
    return "\n".join(scrub_text(line) if line else line for line in text.split("\n"))


class ScrubFilter(logging.Filter):
    """Replaces a record's message by its scrubbed text; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string: keep the template only
            message = str(record.msg)
        record.msg = scrub_message(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub_message(record.exc_text)
        return True


FILTER = ScrubFilter()


def install() -> None:
    """Attach the filter to the root logger's handlers and to the request loggers (idempotent)."""
    for handler in logging.getLogger().handlers:
        if FILTER not in handler.filters:
            handler.addFilter(FILTER)
    for name in REQUEST_LOGGERS:
        logger = logging.getLogger(name)
        if FILTER not in logger.filters:
            logger.addFilter(FILTER)
