"""Warming this process's renderers (the kaleido server and Chromium) once, so the first PDF or
image export does not pay their start-up; PDF and image jobs wait for it."""

from __future__ import annotations

import logging
import threading

from exports import ExportFormat

log = logging.getLogger(__name__)

_warm_lock = threading.Lock()
_warmed = threading.Event()
WARM_WAIT_SECONDS = 60


def warm_renderers() -> None:
    """Start this process's kaleido server and Chromium now, so the first PDF or image export does
    not pay their start-up (both are process-wide, idempotent, and kept for the process's life).

    PDF and image jobs wait for this to finish (`_wait_warm`): the printer's lazy start is not
    safe against a second start racing it, so only this one thread ever starts the browsers.
    """
    with _warm_lock:
        if _warmed.is_set():
            return
        for name, start in (("kaleido", _start_kaleido), ("chromium", _start_chromium)):
            try:
                start()
            except Exception as exc:  # noqa: BLE001 - a missing browser fails that export, not the app
                log.warning("could not warm %s for exports: %s", name, exc)
        _warmed.set()


def _wait_warm(fmt: ExportFormat) -> None:
    if fmt is ExportFormat.PDF or fmt.is_image:
        _warmed.wait(WARM_WAIT_SECONDS)


def _start_kaleido() -> None:
    from exports.images import start_image_server

    start_image_server()


def _start_chromium() -> None:
    from exports.chromium import printer

    printer().start()
